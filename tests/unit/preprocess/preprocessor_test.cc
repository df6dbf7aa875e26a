#include "jobs/preprocess/preprocessor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "jobs/data/nifti_io.h"
#include "jobs/data/npy.h"

namespace nephron::preprocess {
namespace {

namespace fs = std::filesystem;

class PreprocessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("pp_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // File order shape (a, b, c) = (6, 8, 10); ITK axis 0 (array c) runs along -x... see direction.
    img_ = data::Volume<int16_t>({6, 8, 10}, 0);
    lab_ = data::Volume<uint8_t>({6, 8, 10}, 0);
    // KiTS-like: index axis 0 along +z (slices), axis 1 along +y, axis 2 along -x.
    img_.geometry.direction = {0, 0, -1, 0, 1, 0, 1, 0, 0};
    img_.geometry.spacing = {3.0, 0.8, 0.7};
    img_.geometry.origin = {5, -7, 11};
    for (int a = 1; a < 5; ++a)
      for (int b = 2; b < 7; ++b)
        for (int c = 1; c < 9; ++c) img_.at(a, b, c) = static_cast<int16_t>(20 * a + 10 * b + c - 50);
    img_.at(1, 2, 1) = 0;  // a zero voxel on the body's edge: outside the mask after hole filling
    img_.at(3, 4, 5) = 0;  // an interior zero: a hole, filled
    for (int a = 2; a < 4; ++a)
      for (int b = 3; b < 6; ++b)
        for (int c = 3; c < 7; ++c) lab_.at(a, b, c) = c < 5 ? 1 : 2;
    lab_.geometry = img_.geometry;
    ASSERT_TRUE(data::WriteImage(img_, Path("img.nii.gz")).ok());
    ASSERT_TRUE(data::WriteImage(lab_, Path("seg.nii.gz")).ok());
    plan_.reorient = true;
    plan_.num_classes = 3;
    plan_.spacing = {3.0, 0.8, 0.7};  // network order: slices, then y, then x
    plan_.intensity.mean = 100;
    plan_.intensity.std = 50;
    plan_.intensity.percentile_00_5 = 0;
    plan_.intensity.percentile_99_5 = 150;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& n) const { return (dir_ / n).string(); }

  fs::path dir_;
  data::Volume<int16_t> img_;
  data::Volume<uint8_t> lab_;
  Plan plan_;
  PreprocessSpec spec_;
};

TEST_F(PreprocessorTest, CropReorientNormalizeAndUndoExactly) {
  auto pc = PreprocessCase({"c1", Path("img.nii.gz"), Path("seg.nii.gz")}, plan_, spec_, 2);
  ASSERT_TRUE(pc.ok()) << pc.status().message();
  const CaseProperties& p = pc->props;
  EXPECT_EQ(p.crop.lo, (std::array<int64_t, 3>{1, 2, 1}));
  EXPECT_EQ(p.crop.hi, (std::array<int64_t, 3>{5, 7, 9}));
  // The slice axis (file array axis 2) comes first in network order.
  EXPECT_EQ(p.shape_after_crop, (data::Shape3{8, 5, 4}));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p.spacing_after_crop[i], (data::Vec3{3.0, 0.8, 0.7})[i], 1e-6);
  EXPECT_EQ(p.shape_after_resample, p.shape_after_crop);

  // Undo: network order -> file order, paste into the crop box.
  data::Volume<int8_t> net(p.shape_after_crop);
  net.data = pc->seg;
  const data::Volume<int8_t> block = data::ApplyReorientation(net, data::InverseReorientation(p.to_network));
  ASSERT_EQ(block.shape, p.crop.Shape());
  data::Volume<float> imgnet(p.shape_after_crop);
  imgnet.data = pc->image;
  const data::Volume<float> imgblock = data::ApplyReorientation(imgnet, data::InverseReorientation(p.to_network));
  int ignored = 0;
  for (int64_t a = 0; a < block.shape[0]; ++a)
    for (int64_t b = 0; b < block.shape[1]; ++b)
      for (int64_t c = 0; c < block.shape[2]; ++c) {
        const int8_t v = block.at(a, b, c);
        const int64_t fa = a + p.crop.lo[0], fb = b + p.crop.lo[1], fc = c + p.crop.lo[2];
        if (v == -1) {
          ++ignored;
          EXPECT_EQ(img_.at(fa, fb, fc), 0);
          EXPECT_EQ(lab_.at(fa, fb, fc), 0);
          continue;
        }
        ASSERT_EQ(v, lab_.at(fa, fb, fc));
        const float raw = img_.at(fa, fb, fc);
        ASSERT_NEAR(imgblock.at(a, b, c), (std::min(std::max(raw, 0.0f), 150.0f) - 100.0f) / 50.0f, 1e-6);
      }
  EXPECT_EQ(ignored, 1);  // only the edge voxel; the interior hole was filled

  // Sampled locations point at voxels of their class.
  ASSERT_EQ(pc->locations.size(), 24u);  // 12 kidney + 12 tumour voxels, all kept (< 10000)
  for (const auto& l : pc->locations) {
    const int64_t i = (l[1] * p.shape_after_resample[1] + l[2]) * p.shape_after_resample[2] + l[3];
    EXPECT_EQ(pc->seg[static_cast<size_t>(i)], l[0]);
  }
  EXPECT_EQ(p.num_locations[1], 12);
  EXPECT_EQ(p.num_locations[2], 12);
}

TEST_F(PreprocessorTest, ResamplesToThePlanSpacingAndWritesNumpyFiles) {
  plan_.spacing = {6.0, 2.0, 1.4};
  auto pc = PreprocessCase({"c2", Path("img.nii.gz"), Path("seg.nii.gz")}, plan_, spec_, 1);
  ASSERT_TRUE(pc.ok()) << pc.status().message();
  EXPECT_EQ(pc->props.shape_after_resample, (data::Shape3{4, 2, 2}));  // 8 * 3/6, 5 * 0.8/2, 4 * 0.7/1.4
  ASSERT_TRUE(WritePreprocessedCase(Path("out"), *pc, "plan-x").ok());
  auto arr = data::ReadNpy(Path("out/c2.npy"));
  ASSERT_TRUE(arr.ok());
  EXPECT_EQ(arr->shape, (std::vector<int64_t>{1, 4, 2, 2}));
  auto seg = data::ReadNpy(Path("out/c2_seg.npy"));
  ASSERT_TRUE(seg.ok());
  EXPECT_EQ(seg->dtype, "|i1");
  auto props = ReadJsonFile(Path("out/c2.json"));
  ASSERT_TRUE(props.ok());
  EXPECT_EQ((*props)["plan_id"], "plan-x");
  auto back = PropertiesFromJson(*props, "c2.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->crop.lo, pc->props.crop.lo);
  EXPECT_EQ(back->to_network.perm, pc->props.to_network.perm);
  EXPECT_EQ(back->original_geometry.direction, pc->props.original_geometry.direction);
}

TEST_F(PreprocessorTest, TestCasesWithoutLabelsArePreprocessedToo) {
  auto pc = PreprocessCase({"t1", Path("img.nii.gz"), ""}, plan_, spec_, 1);
  ASSERT_TRUE(pc.ok());
  EXPECT_TRUE(pc->seg.empty());
  EXPECT_EQ(pc->image.size(), static_cast<size_t>(data::NumVoxels(pc->props.shape_after_resample)));
}

TEST_F(PreprocessorTest, BadLabelsNameTheCaseAndFile) {
  lab_.at(0, 0, 0) = 7;
  ASSERT_TRUE(data::WriteImage(lab_, Path("bad.nii.gz")).ok());
  auto pc = PreprocessCase({"c3", Path("img.nii.gz"), Path("bad.nii.gz")}, plan_, spec_, 1);
  ASSERT_FALSE(pc.ok());
  EXPECT_NE(pc.status().message().find("case c3"), std::string::npos);
  EXPECT_NE(pc.status().message().find("bad.nii.gz: label value 7"), std::string::npos) << pc.status().message();
}

TEST(SampleClassLocationsTest, CoverageRuleAndCap) {
  std::vector<int8_t> seg(50000, 0);
  for (size_t i = 0; i < 30000; ++i) seg[i] = 1;
  for (size_t i = 30000; i < 30007; ++i) seg[i] = 2;
  const auto locs = SampleClassLocations(seg, {50, 100, 10}, 3, 100, 0.01, 1234);
  int n1 = 0, n2 = 0;
  for (const auto& l : locs) (l[0] == 1 ? n1 : n2)++;
  EXPECT_EQ(n1, 300);  // max(min(100, 30000), ceil(30000 * 0.01))
  EXPECT_EQ(n2, 7);
  EXPECT_EQ(locs, SampleClassLocations(seg, {50, 100, 10}, 3, 100, 0.01, 1234));
}

}  // namespace
}  // namespace nephron::preprocess
