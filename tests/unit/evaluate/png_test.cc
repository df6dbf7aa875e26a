#include "jobs/evaluate/png.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace nephron::evaluate {
namespace {

namespace fs = std::filesystem;

uint32_t U32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  std::vector<std::string> chunks;
};

// A strict decoder for what WritePngRgb produces: checks the signature, every
// chunk's CRC, IHDR fields and filter bytes, and inflates IDAT with zlib.
::testing::AssertionResult Decode(const std::string& png, Decoded* out) {
  if (png.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0) return ::testing::AssertionFailure() << "signature";
  std::string idat;
  for (size_t at = 8; at < png.size();) {
    if (at + 12 > png.size()) return ::testing::AssertionFailure() << "truncated chunk at " << at;
    const uint32_t len = U32(png, at);
    const std::string type = png.substr(at + 4, 4), data = png.substr(at + 8, len);
    const uint32_t crc = U32(png, at + 8 + len);
    const uint32_t want = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(png.data() + at + 4), len + 4));
    if (crc != want) return ::testing::AssertionFailure() << "bad CRC in " << type;
    out->chunks.push_back(type);
    if (type == "IHDR") {
      out->width = int(U32(data, 0));
      out->height = int(U32(data, 4));
      if (data.substr(8) != std::string("\x08\x02\x00\x00\x00", 5)) return ::testing::AssertionFailure() << "IHDR fields";
    } else if (type == "IDAT") {
      idat += data;
    }
    at += 12 + len;
  }
  const size_t row = size_t(out->width) * 3;
  std::string raw((row + 1) * size_t(out->height), '\0');
  uLongf raw_len = uLongf(raw.size());
  if (uncompress(reinterpret_cast<Bytef*>(&raw[0]), &raw_len, reinterpret_cast<const Bytef*>(idat.data()),
                 uLong(idat.size())) != Z_OK || raw_len != raw.size())
    return ::testing::AssertionFailure() << "IDAT does not inflate to " << raw.size() << " bytes";
  for (int y = 0; y < out->height; ++y) {
    if (raw[size_t(y) * (row + 1)] != 0) return ::testing::AssertionFailure() << "filter byte of row " << y;
    const auto* p = reinterpret_cast<const uint8_t*>(raw.data()) + size_t(y) * (row + 1) + 1;
    out->rgb.insert(out->rgb.end(), p, p + row);
  }
  return ::testing::AssertionSuccess();
}

TEST(PngTest, RoundTripsThroughZlibDecoder) {
  const int w = 7, h = 5;
  std::vector<uint8_t> rgb(size_t(w * h * 3));
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(i * 37 + 11);
  const fs::path path = fs::path(::testing::TempDir()) / "png_roundtrip.png";
  ASSERT_TRUE(WritePngRgb(path.string(), w, h, rgb).ok());
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  Decoded d;
  ASSERT_TRUE(Decode(ss.str(), &d));
  EXPECT_EQ(d.width, w);
  EXPECT_EQ(d.height, h);
  EXPECT_EQ(d.chunks, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  EXPECT_EQ(d.rgb, rgb);
  fs::remove(path);
}

TEST(PngTest, LargeImageRoundTrips) {
  const int w = 1544, h = 512;  // a KiTS-sized preview
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t((i / 3) % 251);
  auto png = EncodePngRgb(w, h, rgb);
  ASSERT_TRUE(png.ok());
  Decoded d;
  ASSERT_TRUE(Decode(*png, &d));
  EXPECT_EQ(d.width, w);
  EXPECT_EQ(d.height, h);
  EXPECT_EQ(d.rgb, rgb);
}

TEST(PngTest, RejectsMismatchedSizesAndWritesNothing) {
  const fs::path path = fs::path(::testing::TempDir()) / "png_bad.png";
  fs::remove(path);
  const Status st = WritePngRgb(path.string(), 4, 4, std::vector<uint8_t>(10));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("png_bad.png"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(EncodePngRgb(0, 4, {}).ok());
}

}  // namespace
}  // namespace nephron::evaluate
