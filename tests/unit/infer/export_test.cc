// Export round trip: preprocess a label map as if it were a prediction in
// network space, export it, and get the file back: same header geometry, the
// labels where they were.
#include "jobs/infer/export.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "jobs/data/nifti_io.h"

namespace nephron::infer {
namespace {

namespace fs = std::filesystem;

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("export_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    plan_.reorient = true;
    plan_.num_classes = 3;
    plan_.intensity.mean = 0;
    plan_.intensity.std = 1;
    plan_.intensity.percentile_00_5 = -1000;
    plan_.intensity.percentile_99_5 = 1000;
    plan_.image_interpolation = "linear";
    plan_.label_interpolation = "nearest";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A body (non-zero image) with a kidney (1) holding a tumour (2), stored
  // slice-first (array axis 2 = the patient's z) with an oblique direction.
  void WriteCase(bool oblique) {
    const data::Shape3 shape{30, 26, 12};
    data::Volume<int16_t> img(shape, 0);
    data::Volume<uint8_t> lab(shape, 0);
    const double s = oblique ? std::sin(0.35) : 0.0, c = oblique ? std::cos(0.35) : 1.0;
    img.geometry.direction = {0, -s, -c, 0, c, -s, 1, 0, 0};
    img.geometry.spacing = {3.0, 0.9, 0.8};
    img.geometry.origin = {-12.5, 40.25, 7};
    for (int64_t a = 0; a < shape[0]; ++a)
      for (int64_t b = 0; b < shape[1]; ++b)
        for (int64_t k = 0; k < shape[2]; ++k) {
          const double da = (a - 15.0) / 12.0, db = (b - 13.0) / 10.0;
          if (da * da + db * db < 1 && k >= 1 && k <= 10) img.at(a, b, k) = static_cast<int16_t>(40 + a);
          const double ka = (a - 12.0) / 5.0, kb = (b - 14.0) / 4.0, kk = (k - 5.0) / 3.0;
          if (ka * ka + kb * kb + kk * kk < 1) lab.at(a, b, k) = (ka > 0.2 && kb > -0.3) ? 2 : 1;
        }
    lab.geometry = img.geometry;
    ASSERT_TRUE(data::WriteImage(img, Path("img.nii.gz")).ok());
    ASSERT_TRUE(data::WriteImage(lab, Path("seg.nii.gz")).ok());
    labels_ = lab;
  }
  std::string Path(const std::string& n) const { return (dir_ / n).string(); }

  // One-hot "probabilities" of the preprocessed labels (ignore -1 -> background).
  static std::vector<float> OneHot(const std::vector<int8_t>& seg, int k) {
    std::vector<float> p(seg.size() * static_cast<size_t>(k), 0.0f);
    for (size_t i = 0; i < seg.size(); ++i) p[static_cast<size_t>(std::max<int8_t>(seg[i], 0)) * seg.size() + i] = 1.0f;
    return p;
  }

  fs::path dir_;
  preprocess::Plan plan_;
  data::Volume<uint8_t> labels_;
};

TEST_F(ExportTest, ObliqueSliceFirstCaseComesBackExactly) {
  WriteCase(true);
  plan_.spacing = {3.0, 0.9, 0.8};  // network order after reorientation: no resampling
  auto pc = preprocess::PreprocessCase({"c", Path("img.nii.gz"), Path("seg.nii.gz")}, plan_, {}, 2);
  ASSERT_TRUE(pc.ok()) << pc.status().message();
  EXPECT_FALSE(pc->props.to_network.IsIdentity());
  EXPECT_EQ(pc->props.shape_after_resample, pc->props.shape_after_crop);
  const auto probs = OneHot(pc->seg, 3);
  auto out = ExportSegmentation(probs.data(), 3, pc->props, plan_, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->shape, labels_.shape);
  EXPECT_EQ(out->data, labels_.data);

  ASSERT_TRUE(data::WriteImage(*out, Path("pred.nii.gz")).ok());
  auto a = data::ReadHeader(Path("img.nii.gz"));
  auto b = data::ReadHeader(Path("pred.nii.gz"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->shape, b->shape);
  EXPECT_EQ(a->geometry.spacing, b->geometry.spacing);
  EXPECT_EQ(a->geometry.origin, b->geometry.origin);
  EXPECT_EQ(a->geometry.direction, b->geometry.direction);
  EXPECT_EQ(b->component_type, "unsigned_char");
}

TEST_F(ExportTest, ResampledPredictionLandsWhereTheLabelsWere) {
  WriteCase(false);
  plan_.spacing = {3.0, 1.35, 1.2};  // 1.5x coarser in-plane
  auto pc = preprocess::PreprocessCase({"c", Path("img.nii.gz"), Path("seg.nii.gz")}, plan_, {}, 2);
  ASSERT_TRUE(pc.ok()) << pc.status().message();
  ASSERT_NE(pc->props.shape_after_resample, pc->props.shape_after_crop);
  const auto probs = OneHot(pc->seg, 3);
  auto out = ExportSegmentation(probs.data(), 3, pc->props, plan_, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->shape, labels_.shape);
  EXPECT_EQ(out->geometry.direction, labels_.geometry.direction);
  EXPECT_EQ(out->geometry.origin, labels_.geometry.origin);
  int64_t inter = 0, sum = 0;
  for (size_t i = 0; i < out->data.size(); ++i) {
    inter += (out->data[i] > 0 && labels_.data[i] > 0);
    sum += (out->data[i] > 0) + (labels_.data[i] > 0);
  }
  EXPECT_GT(2.0 * static_cast<double>(inter) / static_cast<double>(sum), 0.9);
}

TEST_F(ExportTest, ArgmaxTakesTheFirstMaximumAndRejectsWrongShapes) {
  WriteCase(false);
  plan_.spacing = {3.0, 0.9, 0.8};
  auto pc = preprocess::PreprocessCase({"c", Path("img.nii.gz"), ""}, plan_, {}, 1);
  ASSERT_TRUE(pc.ok());
  const size_t n = static_cast<size_t>(data::NumVoxels(pc->props.shape_after_resample));
  std::vector<float> probs(3 * n, 0.3f);  // a three-way tie everywhere -> background
  auto out = ExportSegmentation(probs.data(), 3, pc->props, plan_, 1);
  ASSERT_TRUE(out.ok());
  for (uint8_t v : out->data) ASSERT_EQ(v, 0);
  data::Volume<uint8_t> wrong({1, 2, 3}, 0);
  auto bad = PasteIntoOriginal(wrong, pc->props);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("case c"), std::string::npos);
}

}  // namespace
}  // namespace nephron::infer
