#include "jobs/evaluate/png.h"

#include <zlib.h>

#include "common/fs_util.h"

namespace nephron::evaluate {

namespace {

void PutU32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>((v >> 24) & 0xff));
  out->push_back(static_cast<char>((v >> 16) & 0xff));
  out->push_back(static_cast<char>((v >> 8) & 0xff));
  out->push_back(static_cast<char>(v & 0xff));
}

// length, type, data, CRC over type + data.
void PutChunk(std::string* out, const char type[4], const std::string& data) {
  PutU32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out->size();
  out->append(type, 4);
  out->append(data);
  const auto* p = reinterpret_cast<const Bytef*>(out->data() + start);
  PutU32(out, static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), p, static_cast<uInt>(out->size() - start))));
}

}  // namespace

Result<std::string> EncodePngRgb(int width, int height, const std::vector<uint8_t>& rgb) {
  if (width <= 0 || height <= 0 || rgb.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3)
    return InvalidArgument("PNG: " + std::to_string(width) + "x" + std::to_string(height) + " image needs " +
                           std::to_string(static_cast<int64_t>(width) * height * 3) + " bytes, got " +
                           std::to_string(rgb.size()));
  // Raw scanlines, each prefixed with filter type 0 (None).
  const size_t row = static_cast<size_t>(width) * 3;
  std::string raw;
  raw.reserve((row + 1) * static_cast<size_t>(height));
  for (int y = 0; y < height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(rgb.data()) + static_cast<size_t>(y) * row, row);
  }
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::string z(zlen, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(&z[0]), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
                           static_cast<uLong>(raw.size()), 6);
  if (rc != Z_OK) return Internal("PNG: zlib compress2 failed with code " + std::to_string(rc));
  z.resize(zlen);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  PutU32(&ihdr, static_cast<uint32_t>(width));
  PutU32(&ihdr, static_cast<uint32_t>(height));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, filter 0, no interlace
  PutChunk(&png, "IHDR", ihdr);
  PutChunk(&png, "IDAT", z);
  PutChunk(&png, "IEND", "");
  return png;
}

Status WritePngRgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  auto png = EncodePngRgb(width, height, rgb);
  if (!png.ok()) return png.status().WithContext(path);
  return WriteFileAtomic(path, *png);
}

}  // namespace nephron::evaluate
