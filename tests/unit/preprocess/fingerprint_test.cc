#include "jobs/preprocess/fingerprint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "jobs/data/nifti_io.h"
#include "jobs/data/synth.h"

namespace nephron::preprocess {
namespace {

namespace fs = std::filesystem;

TEST(IntensityStatsTest, MatchesNumpyDefinitions) {
  // numpy: mean 22, median 3, std (ddof 0) sqrt(1522), percentile 0.5 -> 1.02, 99.5 -> 98.08
  const IntensityStats s = ComputeIntensityStats({100, 3, 1, 4, 2});
  EXPECT_DOUBLE_EQ(s.mean, 22);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_NEAR(s.std, std::sqrt(1522.0), 1e-12);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_NEAR(s.percentile_00_5, 1.02, 1e-12);
  EXPECT_NEAR(s.percentile_99_5, 98.08, 1e-12);
  EXPECT_DOUBLE_EQ(ComputeIntensityStats({}).mean, 0);
}

class FingerprintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("fp_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    ASSERT_TRUE(data::WriteSynthDataset(dir_.string() + "/data", 3, 7, data::SynthSize::kTiny).ok());
    for (int i = 0; i < 3; ++i) {
      char b[32];
      std::snprintf(b, sizeof(b), "case_%05d", i);
      cases_.push_back({b, (dir_ / "data" / b / "imaging.nii.gz").string(), (dir_ / "data" / b / "segmentation.nii.gz").string()});
    }
    spec_.foreground_samples_total = 3000;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::vector<data::CaseFiles> cases_;
  FingerprintSpec spec_;
};

TEST_F(FingerprintTest, CaseFingerprintSamplesForegroundDeterministically) {
  auto a = FingerprintCase(cases_[0], spec_, true, 3, 2);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->samples.size(), 1000u);  // 3000 samples over 3 cases
  auto img = data::ReadImage(cases_[0].image);
  auto lab = data::ReadLabels(cases_[0].label, 2);
  std::set<float> fg;
  for (size_t i = 0; i < lab->data.size(); ++i)
    if (lab->data[i] > 0) fg.insert(img->data[i]);
  for (float s : a->samples) ASSERT_TRUE(fg.count(s));
  auto b = FingerprintCase(cases_[0], spec_, true, 3, 2);
  EXPECT_EQ(a->samples, b->samples);
  // Case 0 is stored slice-axis-first: the canonical spacing lists the slice spacing first.
  const data::Vec3 file_sp = img->geometry.ArraySpacing();
  EXPECT_DOUBLE_EQ(a->spacing[0], file_sp[2]);
  EXPECT_EQ(a->shape_before_crop[0], img->shape[2]);
}

TEST_F(FingerprintTest, ShardsMergeToTheSingleRunResult) {
  std::vector<CaseFingerprint> all;
  for (const auto& c : cases_) all.push_back(*FingerprintCase(c, spec_, true, 3, 2));
  const Json single = FingerprintToJson(MergeFingerprints(all));
  // Two "shards" computed out of order, written and read back.
  const std::string d = (dir_ / "fp").string();
  ASSERT_TRUE(WriteCaseFingerprint(d, *FingerprintCase(cases_[2], spec_, true, 3, 2)).ok());
  ASSERT_TRUE(WriteCaseFingerprint(d, *FingerprintCase(cases_[0], spec_, true, 3, 2)).ok());
  ASSERT_TRUE(WriteCaseFingerprint(d, *FingerprintCase(cases_[1], spec_, true, 3, 2)).ok());
  std::vector<CaseFingerprint> read;
  for (const std::string id : {"case_00001", "case_00002", "case_00000"}) read.push_back(*ReadCaseFingerprint(d, id));
  EXPECT_EQ(FingerprintToJson(MergeFingerprints(read)).dump(), single.dump());
  auto back = FingerprintFromJson(single, "dataset_fingerprint.json");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->case_ids, (std::vector<std::string>{"case_00000", "case_00001", "case_00002"}));
  EXPECT_GT(back->intensity.mean, 100);  // kidneys are 150-200 HU, tumours darker
}

TEST_F(FingerprintTest, GeometryMismatchNamesTheField) {
  auto lab = data::ReadLabels(cases_[1].label, 2);
  lab->geometry.origin[0] += 5.0;
  const std::string moved = (dir_ / "moved.nii.gz").string();
  ASSERT_TRUE(data::WriteImage(*lab, moved).ok());
  auto r = FingerprintCase({"case_00001", cases_[1].image, moved}, spec_, true, 3, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("case case_00001: image/label geometry mismatch in origin"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("moved.nii.gz"), std::string::npos);

  data::Volume<uint8_t> small({3, 3, 3}, 0);
  small.geometry = lab->geometry;
  ASSERT_TRUE(data::WriteImage(small, moved).ok());
  auto s = FingerprintCase({"case_00001", cases_[1].image, moved}, spec_, true, 3, 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("mismatch in shape"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace nephron::preprocess
