#include "jobs/evaluate/evaluate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "jobs/data/nifti_io.h"

namespace nephron::evaluate {
namespace {

namespace fs = std::filesystem;
using data::Volume;

const data::Shape3 kShape{4, 6, 8};

data::Geometry Geo() {
  data::Geometry g;
  g.spacing = {0.8, 0.8, 2.5};
  g.origin = {-10, 20, 5};
  return g;
}

// Ground truth: a 2 x 4 x 6 kidney block (48 voxels) whose 2 x 2 x 2 corner is tumour.
Volume<uint8_t> Truth() {
  Volume<uint8_t> v(kShape);
  v.geometry = Geo();
  for (int64_t a = 1; a < 3; ++a)
    for (int64_t b = 1; b < 5; ++b)
      for (int64_t c = 1; c < 7; ++c) v.at(a, b, c) = (b >= 3 && c >= 5) ? 2 : 1;
  return v;
}

void Write(const Volume<uint8_t>& v, const fs::path& p) {
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(data::WriteImage(v, p.string()).ok()) << p;
}

void WriteCt(const fs::path& p) {
  Volume<int16_t> ct(kShape, 40);
  ct.geometry = Geo();
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(data::WriteImage(ct, p.string()).ok()) << p;
}

class EvaluateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) /
            ("evaluate_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "pred");
  }
  void TearDown() override { fs::remove_all(root_); }

  // Case 0: perfect prediction. Case 1: the tumour predicted as kidney.
  void WritePredictions() {
    Write(Truth(), root_ / "pred/case_00000.nii.gz");
    Volume<uint8_t> p = Truth();
    for (auto& x : p.data) x = x ? 1 : 0;
    Write(p, root_ / "pred/case_00001.nii.gz");
    std::ofstream(root_ / "pred/case_00000.npy") << "not a label map";
    fs::create_directories(root_ / "pred/sub");
    Write(Truth(), root_ / "pred/sub/case_00099.nii.gz");  // subfolders are ignored
  }

  static void ExpectScores(const Summary& s) {
    ASSERT_EQ(s.cases.size(), 2u);
    EXPECT_EQ(s.cases[0].id, "case_00000");
    EXPECT_EQ(s.cases[0].composite, 1.0);
    EXPECT_EQ(s.cases[1].kidney_dice, 1.0);
    EXPECT_EQ(s.cases[1].tumor_dice, 0.0);
    EXPECT_EQ(s.cases[1].tumor_voxels_gt, 8);
    EXPECT_EQ(s.cases[1].kidney_voxels_gt, 48);
    EXPECT_DOUBLE_EQ(s.kidney_dice, 1.0);
    EXPECT_DOUBLE_EQ(s.tumor_dice, 0.5);
    EXPECT_DOUBLE_EQ(s.composite, 0.75);
  }

  fs::path root_;
};

TEST_F(EvaluateTest, KitsLayoutScoresPredictedCasesAndWritesSummaryAndPreviews) {
  for (int i = 0; i < 3; ++i) {
    const fs::path c = root_ / "gt" / ("case_0000" + std::to_string(i));
    Write(Truth(), c / "segmentation.nii.gz");
    WriteCt(c / "imaging.nii.gz");
  }
  WritePredictions();  // case_00002 has no prediction: skipped
  EvaluateOptions o;
  o.pred_dir = (root_ / "pred").string();
  o.gt_dir = (root_ / "gt").string();
  o.threads = 2;
  auto s = EvaluateFolders(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectScores(*s);
  auto j = ReadJsonFile((root_ / "pred/evaluation.json").string());
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["num_cases"], 2);
  EXPECT_DOUBLE_EQ((*j)["composite"].get<double>(), 0.75);
  EXPECT_TRUE(fs::exists(root_ / "pred/evaluation.csv"));
  EXPECT_TRUE(fs::exists(root_ / "pred/previews/case_00000.png"));
  EXPECT_TRUE(fs::exists(root_ / "pred/previews/case_00001.png"));
  EXPECT_FALSE(fs::exists(root_ / "pred/previews/case_00002.png"));
}

TEST_F(EvaluateTest, FlatLayoutWithCustomOutputsAndNoPreviews) {
  Write(Truth(), root_ / "gt/case_00000.nii.gz");
  Write(Truth(), root_ / "gt/case_00001.nii.gz");
  WritePredictions();
  EvaluateOptions o;
  o.pred_dir = (root_ / "pred").string();
  o.gt_dir = (root_ / "gt").string();
  o.out = (root_ / "out/scores.csv").string();
  o.previews = false;
  o.threads = 1;
  auto s = EvaluateFolders(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectScores(*s);
  EXPECT_TRUE(fs::exists(root_ / "out/scores.csv"));
  EXPECT_TRUE(fs::exists(root_ / "out/scores.json"));
  EXPECT_FALSE(fs::exists(root_ / "pred/previews"));
  EXPECT_FALSE(fs::exists(root_ / "pred/evaluation.json"));
}

TEST_F(EvaluateTest, NnunetRawLayoutWithPreviewFolder) {
  Write(Truth(), root_ / "gt/labelsTr/case_00000.nii.gz");
  Write(Truth(), root_ / "gt/labelsTr/case_00001.nii.gz");
  WriteCt(root_ / "gt/imagesTr/case_00000_0000.nii.gz");
  WritePredictions();
  EvaluateOptions o;
  o.pred_dir = (root_ / "pred").string();
  o.gt_dir = (root_ / "gt").string();
  o.previews_dir = (root_ / "png").string();
  auto s = EvaluateFolders(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectScores(*s);
  EXPECT_TRUE(fs::exists(root_ / "png/case_00000.png"));
  EXPECT_TRUE(fs::exists(root_ / "png/case_00001.png"));  // no image: black background
}

TEST_F(EvaluateTest, GeometryMismatchNamesFieldAndFilesAndWritesNothing) {
  Write(Truth(), root_ / "gt/case_00000.nii.gz");
  Write(Truth(), root_ / "gt/case_00001.nii.gz");
  WritePredictions();
  Volume<uint8_t> p = Truth();
  p.geometry.spacing[2] = 3.0;
  Write(p, root_ / "pred/case_00001.nii.gz");
  EvaluateOptions o;
  o.pred_dir = (root_ / "pred").string();
  o.gt_dir = (root_ / "gt").string();
  auto s = EvaluateFolders(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  const std::string& m = s.status().message();
  EXPECT_NE(m.find("spacing"), std::string::npos) << m;
  EXPECT_NE(m.find((root_ / "pred/case_00001.nii.gz").string()), std::string::npos) << m;
  EXPECT_NE(m.find((root_ / "gt/case_00001.nii.gz").string()), std::string::npos) << m;
  EXPECT_FALSE(fs::exists(root_ / "pred/previews"));
  EXPECT_FALSE(fs::exists(root_ / "pred/evaluation.json"));
  EXPECT_FALSE(fs::exists(root_ / "pred/evaluation.csv"));
}

TEST_F(EvaluateTest, PredictionWithoutGroundTruthIsAnError) {
  Write(Truth(), root_ / "gt/case_00000.nii.gz");
  WritePredictions();
  EvaluateOptions o;
  o.pred_dir = (root_ / "pred").string();
  o.gt_dir = (root_ / "gt").string();
  auto s = EvaluateFolders(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("case_00001.nii.gz"), std::string::npos) << s.status().message();
}

TEST_F(EvaluateTest, EmptyPredictionFolderAndBadLabelsAreErrors) {
  Write(Truth(), root_ / "gt/case_00000.nii.gz");
  EvaluateOptions o;
  o.pred_dir = (root_ / "pred").string();
  o.gt_dir = (root_ / "gt").string();
  auto empty = EvaluateFolders(o);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no <id>.nii.gz predictions"), std::string::npos);

  Volume<uint8_t> p = Truth();
  p.data[5] = 3;
  Write(p, root_ / "pred/case_00000.nii.gz");
  auto bad = EvaluateFolders(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find((root_ / "pred/case_00000.nii.gz").string()), std::string::npos)
      << bad.status().message();

  o.out = (root_ / "scores.txt").string();
  auto bad_out = EvaluateFolders(o);
  EXPECT_EQ(bad_out.status().code(), StatusCode::kInvalidArgument);
}

// What `nephron predict --test-set` followed by `nephron evaluate --gt <raw
// data set root>` meets: the root also holds training cases (not predicted,
// not scored) and unlabelled test cases (predicted, cannot be scored).
TEST_F(EvaluateTest, WholeRawDataSetAsGroundTruthScoresOnlyPredictedLabelledCases) {
  for (int i = 0; i < 4; ++i) {
    const fs::path c = root_ / "gt" / ("case_0000" + std::to_string(i));
    Volume<uint8_t> t = Truth();
    if (i >= 2) t.data.assign(t.data.size(), 0);  // the training cases differ: scoring them would change the means
    Write(t, c / "segmentation.nii.gz");
    WriteCt(c / "imaging.nii.gz");
  }
  WriteCt(root_ / "gt/case_00210/imaging.nii.gz");  // unlabelled test case
  WritePredictions();                                // case_00000 and case_00001
  Write(Truth(), root_ / "pred/case_00210.nii.gz");
  EvaluateOptions o;
  o.pred_dir = (root_ / "pred").string();
  o.gt_dir = (root_ / "gt").string();
  o.previews = false;
  auto s = EvaluateFolders(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectScores(*s);  // exactly case_00000 and case_00001

  std::vector<std::string> unmatched, unlabelled;
  auto cases = MatchCases(o.pred_dir, o.gt_dir, &unmatched, &unlabelled);
  ASSERT_TRUE(cases.ok());
  EXPECT_EQ(cases->size(), 2u);
  EXPECT_EQ(unmatched, (std::vector<std::string>{"case_00002", "case_00003"}));
  EXPECT_EQ(unlabelled, (std::vector<std::string>{"case_00210"}));

  // Only unlabelled cases predicted: nothing to score is an error, not an empty summary.
  fs::remove_all(root_ / "pred");
  Write(Truth(), root_ / "pred/case_00210.nii.gz");
  auto none = EvaluateFolders(o);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("none of the 1 prediction(s) has ground truth"), std::string::npos)
      << none.status().message();
}

TEST_F(EvaluateTest, MatchCasesListsUnpredictedGroundTruth) {
  for (const char* id : {"a", "b", "c"}) Write(Truth(), root_ / "gt" / (std::string(id) + ".nii.gz"));
  Write(Truth(), root_ / "pred/b.nii.gz");
  std::vector<std::string> unmatched;
  auto cases = MatchCases((root_ / "pred").string(), (root_ / "gt").string(), &unmatched);
  ASSERT_TRUE(cases.ok());
  ASSERT_EQ(cases->size(), 1u);
  EXPECT_EQ((*cases)[0].gt, (root_ / "gt/b.nii.gz").string());
  EXPECT_TRUE((*cases)[0].image.empty());
  EXPECT_EQ(unmatched, (std::vector<std::string>{"a", "c"}));
}

}  // namespace
}  // namespace nephron::evaluate
