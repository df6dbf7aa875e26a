#include "jobs/data/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

#include "common/fs_util.h"

namespace nephron::data {

int64_t NpyArray::NumElements() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

Status WriteNpyRaw(const std::string& path, const std::string& dtype, const std::vector<int64_t>& shape,
                   const void* data, size_t num_bytes) {
  std::string dict = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  dict += "), }";
  // Pad so that magic(6) + version(2) + len(2) + dict + '\n' is a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  const uint16_t len = static_cast<uint16_t>(dict.size());
  header += static_cast<char>(len & 0xff);
  header += static_cast<char>(len >> 8);
  header += dict;

  const std::string tmp = TempPathFor(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Internal("cannot open " + tmp + " for writing");
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(num_bytes));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Internal("cannot write " + path + " (disk full?)");
    }
  }
  return RenameInto(tmp, path);
}

Result<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return DataLoss(path + ": not a .npy file (bad magic)");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    unsigned char l[2];
    if (!in.read(reinterpret_cast<char*>(l), 2)) return DataLoss(path + ": truncated header");
    hlen = l[0] | (l[1] << 8);
  } else {
    unsigned char l[4];
    if (!in.read(reinterpret_cast<char*>(l), 4)) return DataLoss(path + ": truncated header");
    hlen = l[0] | (l[1] << 8) | (l[2] << 16) | (static_cast<uint32_t>(l[3]) << 24);
  }
  std::string dict(hlen, '\0');
  if (!in.read(dict.data(), hlen)) return DataLoss(path + ": truncated header");
  std::smatch m;
  NpyArray a;
  if (!std::regex_search(dict, m, std::regex("'descr':\\s*'([^']+)'"))) return DataLoss(path + ": header lacks descr");
  a.dtype = m[1];
  if (dict.find("'fortran_order': True") != std::string::npos)
    return InvalidArgument(path + ": Fortran-order arrays are not supported");
  if (!std::regex_search(dict, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) return DataLoss(path + ": header lacks shape");
  const std::string shp = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(shp.begin(), shp.end(), num); it != std::sregex_iterator(); ++it)
    a.shape.push_back(std::stoll(it->str()));
  size_t item = 0;
  if (a.dtype.size() >= 3) item = static_cast<size_t>(std::stoi(a.dtype.substr(2)));
  if (item == 0) return InvalidArgument(path + ": unsupported dtype " + a.dtype);
  a.bytes.resize(static_cast<size_t>(a.NumElements()) * item);
  if (!in.read(a.bytes.data(), static_cast<std::streamsize>(a.bytes.size())))
    return DataLoss(path + ": truncated payload (expected " + std::to_string(a.bytes.size()) + " bytes)");
  return a;
}

}  // namespace nephron::data
