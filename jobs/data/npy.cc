#include "jobs/data/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
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

int64_t NpyHeader::NumElements() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

Result<NpyHeader> ParseNpyHeader(const char* p, size_t size, const std::string& path) {
  if (size < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) return DataLoss(path + ": not a .npy file (bad magic)");
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  size_t hlen, off;
  if (u[6] == 1) {
    hlen = u[8] | (u[9] << 8);
    off = 10;
  } else {
    if (size < 12) return DataLoss(path + ": truncated header");
    hlen = u[8] | (u[9] << 8) | (static_cast<size_t>(u[10]) << 16) | (static_cast<size_t>(u[11]) << 24);
    off = 12;
  }
  if (off + hlen > size) return DataLoss(path + ": truncated header");
  const std::string dict(p + off, hlen);
  std::smatch m;
  NpyHeader h;
  if (!std::regex_search(dict, m, std::regex("'descr':\\s*'([^']+)'"))) return DataLoss(path + ": header lacks descr");
  h.dtype = m[1];
  if (dict.find("'fortran_order': True") != std::string::npos)
    return InvalidArgument(path + ": Fortran-order arrays are not supported");
  if (!std::regex_search(dict, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) return DataLoss(path + ": header lacks shape");
  const std::string shp = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(shp.begin(), shp.end(), num); it != std::sregex_iterator(); ++it)
    h.shape.push_back(std::stoll(it->str()));
  if (h.dtype.size() >= 3) h.item_size = static_cast<size_t>(std::stoi(h.dtype.substr(2)));
  if (h.item_size == 0) return InvalidArgument(path + ": unsupported dtype " + h.dtype);
  h.data_offset = off + hlen;
  const size_t need = static_cast<size_t>(h.NumElements()) * h.item_size;
  if (h.data_offset + need > size)
    return DataLoss(path + ": truncated payload (expected " + std::to_string(need) + " bytes)");
  return h;
}

Result<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSIGN_OR_RETURN(NpyHeader h, ParseNpyHeader(bytes.data(), bytes.size(), path));
  NpyArray a;
  a.dtype = h.dtype;
  a.shape = h.shape;
  a.bytes.assign(bytes.begin() + static_cast<std::ptrdiff_t>(h.data_offset),
                 bytes.begin() + static_cast<std::ptrdiff_t>(h.data_offset + static_cast<size_t>(h.NumElements()) * h.item_size));
  return a;
}

}  // namespace nephron::data
