#include "jobs/train/patch_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "jobs/data/npy.h"

namespace nephron::train {
namespace {

namespace fs = std::filesystem;

class PatchLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("pl_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // A 10 x 12 x 14 case with a class-1 blob at [2,4) x [3,5) x [10,13) and one class-2 voxel.
    const data::Shape3 s{10, 12, 14};
    std::vector<float> img(10 * 12 * 14);
    std::vector<int8_t> seg(img.size(), 0);
    std::vector<int32_t> locs;
    for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>(i);
    for (int a = 2; a < 4; ++a)
      for (int b = 3; b < 5; ++b)
        for (int c = 10; c < 13; ++c) {
          seg[static_cast<size_t>((a * 12 + b) * 14 + c)] = 1;
          locs.insert(locs.end(), {1, a, b, c});
        }
    seg[static_cast<size_t>((8 * 12 + 1) * 14 + 1)] = 2;
    locs.insert(locs.end(), {2, 8, 1, 1});
    const std::string base = (dir_ / "c0").string();
    ASSERT_TRUE(data::WriteNpy<float>(base + ".npy", {1, s[0], s[1], s[2]}, img.data()).ok());
    ASSERT_TRUE(data::WriteNpy<int8_t>(base + "_seg.npy", {1, s[0], s[1], s[2]}, seg.data()).ok());
    ASSERT_TRUE(data::WriteNpy<int32_t>(base + "_locations.npy", {static_cast<int64_t>(locs.size() / 4), 4}, locs.data()).ok());
    auto store = CaseStore::Open(dir_.string(), {"c0"}, 3);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  CaseStore store_;
};

TEST(ForcedForegroundTest, NnunetOversamplingRule) {
  EXPECT_FALSE(ForcedForeground(0, 2, 0.33));
  EXPECT_TRUE(ForcedForeground(1, 2, 0.33));
  EXPECT_FALSE(ForcedForeground(1, 3, 0.33));  // round(3 * 0.67) = 2
  EXPECT_TRUE(ForcedForeground(2, 3, 0.33));
  EXPECT_FALSE(ForcedForeground(0, 1, 0.33));  // round(0.67) = 1: nothing forced at batch 1
  EXPECT_FALSE(ForcedForeground(2, 4, 0.33));  // round(2.68) = 3
  EXPECT_TRUE(ForcedForeground(3, 4, 0.33));
}

TEST_F(PatchLoaderTest, ForcedPatchesContainForegroundAndStayInBounds) {
  PatchSampler sampler(&store_, {6, 6, 6}, 0.33);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const PatchBatch b = sampler.Sample(2, seed);
    ASSERT_EQ(b.image.size(), 2u * 216u);
    EXPECT_FALSE(b.forced_foreground[0]);
    EXPECT_TRUE(b.forced_foreground[1]);
    int fg = 0;
    for (int i = 216; i < 432; ++i) fg += b.seg[static_cast<size_t>(i)] > 0;
    EXPECT_GT(fg, 0) << seed;
    for (int j = 0; j < 2; ++j)
      for (int a = 0; a < 3; ++a) {
        EXPECT_GE(b.lower[static_cast<size_t>(j)][a], 0);
        EXPECT_LE(b.lower[static_cast<size_t>(j)][a] + 6, (data::Shape3{10, 12, 14})[a]);
      }
  }
}

TEST_F(PatchLoaderTest, PatchesLargerThanTheCaseArePaddedWithIgnore) {
  PatchSampler sampler(&store_, {14, 12, 20}, 0.0);
  const PatchBatch b = sampler.Sample(1, 3);
  // Axis 0 needs 4 more voxels: 2 on each side; axis 2 needs 6: 3 on each side.
  EXPECT_EQ(b.lower[0][0], -2);
  EXPECT_EQ(b.lower[0][1], 0);
  EXPECT_EQ(b.lower[0][2], -3);
  EXPECT_EQ(b.seg[0], -1);
  EXPECT_EQ(b.image[0], 0.0f);
  // Patch voxel (2, 0, 3) is case voxel (0, 0, 0).
  const size_t inside = static_cast<size_t>((2 * 12 + 0) * 20 + 3);
  EXPECT_EQ(b.image[inside], 0.0f);
  EXPECT_EQ(b.seg[inside], 0);
  EXPECT_EQ(b.image[inside + 1], 1.0f);
}

// A cut enlarged for rotation/scaling (8 x 10 x 12 around a final 4 x 4 x 6)
// may reach past the case by half the margin on each side, as nnU-Net's
// need_to_pad, so the final centre patch reaches every border of the case.
TEST_F(PatchLoaderTest, AnEnlargedCutStillLetsTheFinalPatchReachEveryBorder) {
  const data::Shape3 cut{8, 10, 12}, fin{4, 4, 6}, shape{10, 12, 14};
  PatchSampler sampler(&store_, cut, 0.0, fin);
  std::array<int64_t, 3> lowest{99, 99, 99}, highest{-99, -99, -99};
  for (uint64_t seed = 0; seed < 400; ++seed) {
    const PatchBatch b = sampler.Sample(1, seed);
    for (int a = 0; a < 3; ++a) {
      const int64_t final_lo = b.lower[0][a] + (cut[a] - fin[a]) / 2;  // CenterCrop's offset
      lowest[a] = std::min(lowest[a], final_lo);
      highest[a] = std::max(highest[a], final_lo + fin[a]);
      EXPECT_GE(b.lower[0][a], -(cut[a] - fin[a]) / 2);  // never more padding than the margin
    }
  }
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(lowest[a], 0) << "axis " << a;
    EXPECT_EQ(highest[a], shape[a]) << "axis " << a;
  }
  // Without the final size (the old rule) the cut stays inside: the borders are never in a final patch.
  PatchSampler inside(&store_, cut, 0.0);
  for (uint64_t seed = 0; seed < 50; ++seed)
    for (int a = 0; a < 3; ++a) EXPECT_GE(inside.Sample(1, seed).lower[0][a], 0);
}

TEST_F(PatchLoaderTest, DeterministicForASeed) {
  PatchSampler sampler(&store_, {6, 6, 6}, 0.33);
  EXPECT_EQ(sampler.Sample(2, 7).image, sampler.Sample(2, 7).image);
  EXPECT_NE(sampler.Sample(2, 7).lower, sampler.Sample(2, 8).lower);
}

TEST_F(PatchLoaderTest, MissingOrMalformedFilesAreClearErrors) {
  auto missing = CaseStore::Open(dir_.string(), {"nope"}, 3);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.npy"), std::string::npos);
  fs::resize_file(dir_ / "c0_seg.npy", 200);
  auto cut = CaseStore::Open(dir_.string(), {"c0"}, 3);
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("truncated"), std::string::npos) << cut.status().message();
}

}  // namespace
}  // namespace nephron::train
