#include "jobs/evaluate/overlay.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "jobs/data/orientation.h"
#include "jobs/evaluate/png.h"

namespace nephron::evaluate {
namespace {

namespace fs = std::filesystem;
using data::Volume;

// Fills an axial rectangle [b0, b1) x [c0, c1) of slice a with `label`.
void Fill(Volume<uint8_t>* v, int64_t a, int64_t b0, int64_t b1, int64_t c0, int64_t c1, uint8_t label) {
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t c = c0; c < c1; ++c) v->at(a, b, c) = label;
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const uint8_t* Pixel(const RgbImage& img, int x, int y) {
  return &img.rgb[(size_t(y) * size_t(img.width) + size_t(x)) * 3];
}

TEST(PreviewSliceTest, LargestGroundTruthAreaThenPredictionThenMiddle) {
  Volume<uint8_t> gt({5, 6, 7}), pred({5, 6, 7});
  Fill(&gt, 1, 0, 2, 0, 2, 1);  // 4 voxels
  Fill(&gt, 3, 0, 3, 0, 2, 1);  // 6 voxels: kidney
  Fill(&gt, 3, 3, 4, 0, 3, 2);  // + 3 voxels tumour = 9
  Fill(&pred, 4, 0, 5, 0, 5, 1);  // 25 voxels, but ground truth decides
  EXPECT_EQ(PreviewSlice(pred, gt), 3);
  const Volume<uint8_t> empty({5, 6, 7});
  EXPECT_EQ(PreviewSlice(pred, empty), 4);
  EXPECT_EQ(PreviewSlice(empty, empty), 2);
}

TEST(RenderPreviewTest, ThreePanelsWithWindowedCtAndColouredLabels) {
  const int64_t rows = 8, cols = 10;
  Volume<float> image({3, rows, cols}, 40.0f);  // 40 HU -> grey 128 in [-160, 240]
  image.at(1, 0, 0) = -1000.0f;                 // below the window -> black
  image.at(1, 0, 1) = 3000.0f;                  // above -> white
  Volume<uint8_t> gt({3, rows, cols}), pred({3, rows, cols});
  Fill(&gt, 1, 2, 7, 2, 7, 1);  // kidney 5 x 5
  Fill(&gt, 1, 4, 5, 4, 5, 2);  // tumour voxel in the middle
  Fill(&pred, 1, 2, 7, 2, 7, 1);
  const RgbImage img = RenderPreview(&image, pred, gt, 1);
  ASSERT_EQ(img.width, 3 * cols + 2 * kPanelGap);
  ASSERT_EQ(img.height, rows);
  ASSERT_EQ(img.rgb.size(), size_t(img.width * img.height * 3));
  // CT panel: windowed grey, no labels.
  EXPECT_EQ(Pixel(img, 5, 5)[0], 128);
  EXPECT_EQ(Pixel(img, 5, 5)[1], 128);
  EXPECT_EQ(Pixel(img, 0, 0)[0], 0);
  EXPECT_EQ(Pixel(img, 1, 0)[0], 255);
  // Gap: dark and equal in all channels.
  const uint8_t* gap = Pixel(img, int(cols) + 1, 3);
  EXPECT_LT(gap[0], 64);
  EXPECT_EQ(gap[0], gap[2]);
  // Ground-truth panel: kidney interior blended red, outline fully red,
  // tumour voxel (an outline of its own) green, background grey.
  const int gx = int(cols + kPanelGap), px = int(2 * (cols + kPanelGap));
  const uint8_t* kid = Pixel(img, gx + 3, 3);
  EXPECT_EQ(kid[0], uint8_t(std::lround(0.55 * 128 + 0.45 * 255)));
  EXPECT_EQ(kid[1], uint8_t(std::lround(0.55 * 128)));
  const uint8_t* edge = Pixel(img, gx + 2, 2);
  EXPECT_EQ(edge[0], 255);
  EXPECT_EQ(edge[1], 0);
  const uint8_t* tum = Pixel(img, gx + 4, 4);
  EXPECT_EQ(tum[0], 0);
  EXPECT_EQ(tum[1], 255);
  EXPECT_EQ(Pixel(img, gx + 0, 7)[0], 128);
  // Prediction panel: the voxel where the truth has tumour is kidney here.
  const uint8_t* pk = Pixel(img, px + 4, 4);
  EXPECT_GT(pk[0], pk[1]);
  EXPECT_EQ(pk[1], uint8_t(std::lround(0.55 * 128)));
}

TEST(RenderPreviewTest, NoImageMeansBlackBackground) {
  Volume<uint8_t> gt({1, 4, 4}), pred({1, 4, 4});
  const RgbImage img = RenderPreview(nullptr, pred, gt, 0);
  EXPECT_EQ(Pixel(img, 1, 1)[0], 0);
  EXPECT_EQ(Pixel(img, 4 + kPanelGap + 1, 1)[1], 0);
}

TEST(WritePreviewTest, StorageOrientationDoesNotChangeThePreview) {
  // A canonical case (identity direction) whose largest ground-truth slice is 3.
  Volume<uint8_t> gt({6, 9, 11}), pred({6, 9, 11});
  Volume<float> image({6, 9, 11}, -500.0f);
  Fill(&gt, 1, 1, 3, 1, 3, 1);
  Fill(&gt, 3, 2, 7, 3, 8, 1);
  Fill(&gt, 3, 4, 5, 5, 6, 2);
  Fill(&pred, 3, 2, 6, 3, 8, 1);
  for (int64_t b = 0; b < 9; ++b) image.at(3, b, 0) = float(b * 40 - 160);  // an asymmetric gradient
  const RgbImage want = RenderPreview(&image, pred, gt, 3);
  const std::string canonical_png = *EncodePngRgb(want.width, want.height, want.rgb);

  // Store it the KiTS19 way round and flipped: slice axis last, reversed rows.
  data::Reorientation store;
  store.perm = {1, 2, 0};
  store.flip = {true, false, true};
  const Volume<uint8_t> gt_s = data::ApplyReorientation(gt, store), pred_s = data::ApplyReorientation(pred, store);
  const Volume<float> image_s = data::ApplyReorientation(image, store);
  ASSERT_NE(gt_s.shape, gt.shape);
  const data::Reorientation back = data::CanonicalReorientation(gt_s.geometry);
  ASSERT_FALSE(back.IsIdentity());
  ASSERT_EQ(data::ApplyReorientation(gt_s, back).data, gt.data);

  const fs::path path = fs::path(::testing::TempDir()) / "overlay_oriented.png";
  ASSERT_TRUE(WritePreview(&image_s, pred_s, gt_s, path.string()).ok());
  const std::string png = Slurp(path);
  EXPECT_EQ(png, canonical_png);
  // IHDR width and height (bytes 16..23).
  auto u32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  EXPECT_EQ(u32(16), uint32_t(3 * 11 + 2 * kPanelGap));
  EXPECT_EQ(u32(20), 9u);
  fs::remove(path);
}

TEST(WritePreviewTest, MismatchedShapesAreRejected) {
  Volume<uint8_t> gt({2, 3, 4}), pred({2, 3, 5});
  const Status st = WritePreview(nullptr, pred, gt, (fs::path(::testing::TempDir()) / "x.png").string());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nephron::evaluate
