#include "jobs/data/nifti_integrity.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace nephron::data {

namespace {

template <typename T>
T Load(const unsigned char* p, bool swap) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if (swap) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    std::memcpy(&v, b, sizeof(T));
  }
  return v;
}

}  // namespace

Status CheckNiftiIntegrity(const std::string& path) {
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound(path + ": file does not exist");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return DataLoss(path + ": cannot open");
  unsigned char h[348];
  const int got = gzread(f, h, sizeof(h));
  const bool compressed = !gzdirect(f);
  if (got != static_cast<int>(sizeof(h))) {
    gzclose(f);
    return DataLoss(path + ": truncated NIfTI header (" + std::to_string(got < 0 ? 0 : got) + " of 348 bytes)");
  }
  int32_t sizeof_hdr = Load<int32_t>(h, false);
  bool swap = false;
  if (sizeof_hdr != 348) {
    if (Load<int32_t>(h, true) == 348) {
      swap = true;
    } else {
      gzclose(f);
      return Status::Ok();  // NIfTI-2 or not NIfTI: ITK decides
    }
  }
  const int16_t ndim = Load<int16_t>(h + 40, swap);
  if (ndim < 1 || ndim > 7) {
    gzclose(f);
    return DataLoss(path + ": corrupt NIfTI header (dim[0] = " + std::to_string(ndim) + ")");
  }
  uint64_t voxels = 1;
  for (int i = 1; i <= ndim; ++i) {
    const int16_t d = Load<int16_t>(h + 40 + 2 * i, swap);
    if (d < 1) {
      gzclose(f);
      return DataLoss(path + ": corrupt NIfTI header (dim[" + std::to_string(i) + "] = " + std::to_string(d) + ")");
    }
    voxels *= static_cast<uint64_t>(d);
  }
  const int16_t bitpix = Load<int16_t>(h + 72, swap);
  const float vox_offset = Load<float>(h + 108, swap);
  const uint64_t expected = static_cast<uint64_t>(vox_offset < 352 ? 352 : vox_offset) +
                            voxels * static_cast<uint64_t>(bitpix > 0 ? bitpix : 8) / 8;
  if (!compressed) {
    gzclose(f);
    if (file_size < expected)
      return DataLoss(path + ": truncated NIfTI file (" + std::to_string(file_size) + " bytes, header needs " +
                      std::to_string(expected) + ")");
    return Status::Ok();
  }
  // gzip: ISIZE (last 4 bytes, little endian) is the uncompressed length mod 2^32.
  uint32_t isize = 0;
  {
    std::ifstream in(path, std::ios::binary);
    unsigned char t[4] = {0, 0, 0, 0};
    in.seekg(-4, std::ios::end);
    in.read(reinterpret_cast<char*>(t), 4);
    isize = t[0] | (t[1] << 8) | (t[2] << 16) | (static_cast<uint32_t>(t[3]) << 24);
  }
  if (isize == static_cast<uint32_t>(expected & 0xffffffffu)) {
    gzclose(f);
    return Status::Ok();
  }
  // Count the stream to be sure.
  uint64_t total = sizeof(h);
  std::vector<char> buf(1 << 20);
  int n;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) total += static_cast<uint64_t>(n);
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  const std::string zmsg = msg ? msg : "";
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END) || total < expected)
    return DataLoss(path + ": truncated or corrupt gzip data (" + std::to_string(total) + " of " +
                    std::to_string(expected) + " bytes" + (zmsg.empty() ? "" : ", zlib: " + zmsg) + ")");
  return Status::Ok();
}

}  // namespace nephron::data
