#include "jobs/data/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace nephron::data {
namespace {

namespace fs = std::filesystem;

TEST(NpyTest, RoundTripsShapeDtypeAndData) {
  const std::string path = (fs::path(::testing::TempDir()) / ("a_" + std::to_string(getpid()) + ".npy")).string();
  std::vector<float> v(2 * 3 * 4);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * static_cast<float>(i);
  ASSERT_TRUE(WriteNpy<float>(path, {2, 3, 4}, v.data()).ok());
  // numpy requires the header to end on a 64-byte boundary.
  std::ifstream in(path, std::ios::binary);
  char head[10];
  in.read(head, 10);
  const int hlen = static_cast<unsigned char>(head[8]) | (static_cast<unsigned char>(head[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0);
  auto r = ReadNpy(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dtype, "<f4");
  EXPECT_EQ(r->shape, (std::vector<int64_t>{2, 3, 4}));
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(r->As<float>()[i], v[i]);
  fs::remove(path);
}

TEST(NpyTest, OneDimensionalShapeUsesTupleComma) {
  const std::string path = (fs::path(::testing::TempDir()) / ("b_" + std::to_string(getpid()) + ".npy")).string();
  int8_t x[3] = {-1, 0, 2};
  ASSERT_TRUE(WriteNpy<int8_t>(path, {3}, x).ok());
  std::ifstream in(path, std::ios::binary);
  std::string header(128, '\0');
  in.read(header.data(), 128);
  EXPECT_NE(header.find("'shape': (3,)"), std::string::npos);
  auto r = ReadNpy(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->As<int8_t>()[0], -1);
  fs::remove(path);
}

TEST(NpyTest, TruncatedPayloadIsDataLoss) {
  const std::string path = (fs::path(::testing::TempDir()) / ("c_" + std::to_string(getpid()) + ".npy")).string();
  std::vector<int32_t> v(100, 7);
  ASSERT_TRUE(WriteNpy<int32_t>(path, {100}, v.data()).ok());
  fs::resize_file(path, fs::file_size(path) - 10);
  auto r = ReadNpy(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find(path), std::string::npos);
  fs::remove(path);
}

}  // namespace
}  // namespace nephron::data
