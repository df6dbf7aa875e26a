#include "jobs/evaluate/metrics.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace nephron::evaluate {
namespace {

namespace fs = std::filesystem;

// 2 x 2 x 3 volumes, flattened.
const std::vector<uint8_t> kGt = {0, 1, 1, 2, 2, 0,  //
                                  0, 0, 1, 1, 0, 0};
const std::vector<uint8_t> kPred = {0, 1, 2, 2, 0, 0,  //
                                    0, 1, 1, 0, 0, 0};

TEST(DiceTest, HandComputedOnTinyVolumes) {
  // Kidney (> 0): gt has 6 voxels, pred 5, overlap {1, 2, 3, 8} = 4 -> 8/11.
  EXPECT_NEAR(Dice(kPred.data(), kGt.data(), kGt.size(), 1, 255), 8.0 / 11.0, 1e-12);
  // Tumour (== 2): gt {3, 4}, pred {2, 3}, overlap {3} -> 2/4.
  EXPECT_NEAR(Dice(kPred.data(), kGt.data(), kGt.size(), 2, 2), 0.5, 1e-12);
  // Label 1 only: gt {1, 2, 8, 9}, pred {1, 7, 8}, overlap {1, 8} -> 4/7.
  EXPECT_NEAR(Dice(kPred.data(), kGt.data(), kGt.size(), 1, 1), 4.0 / 7.0, 1e-12);
}

TEST(DiceTest, EmptyVersusEmptyIsOneAndEmptyVersusNonEmptyIsZero) {
  const std::vector<uint8_t> empty(12, 0);
  EXPECT_EQ(Dice(empty.data(), empty.data(), 12, 2, 2), 1.0);
  EXPECT_EQ(Dice(empty.data(), kGt.data(), 12, 2, 2), 0.0);
  EXPECT_EQ(Dice(kGt.data(), empty.data(), 12, 1, 255), 0.0);
}

TEST(KitsMetricsTest, TumourCountsAsKidney) {
  // Prediction says tumour where the truth says kidney: kidney Dice is still 1.
  const std::vector<uint8_t> gt = {1, 1, 0, 0}, pred = {2, 1, 0, 0};
  const CaseMetrics m = KitsMetrics("c", pred, gt);
  EXPECT_EQ(m.kidney_dice, 1.0);
  EXPECT_EQ(m.tumor_dice, 0.0);
  EXPECT_EQ(m.composite, 0.5);
  EXPECT_EQ(m.kidney_voxels_gt, 2);
  EXPECT_EQ(m.tumor_voxels_gt, 0);
  EXPECT_EQ(m.kidney_voxels_pred, 2);
  EXPECT_EQ(m.tumor_voxels_pred, 1);
}

TEST(KitsMetricsTest, MatchesHandComputedValues) {
  const CaseMetrics m = KitsMetrics("case_00007", kPred, kGt);
  EXPECT_EQ(m.id, "case_00007");
  EXPECT_NEAR(m.kidney_dice, 8.0 / 11.0, 1e-12);
  EXPECT_NEAR(m.tumor_dice, 0.5, 1e-12);
  EXPECT_NEAR(m.composite, (8.0 / 11.0 + 0.5) / 2, 1e-12);
}

TEST(PerLabelDiceTest, OneEntryPerForegroundLabel) {
  const std::vector<double> d = PerLabelDice(kPred, kGt, 3);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[0], 4.0 / 7.0, 1e-12);
  EXPECT_NEAR(d[1], 0.5, 1e-12);
}

Summary TwoCases() {
  CaseMetrics a, b;
  a.id = "a", a.kidney_dice = 1.0, a.tumor_dice = 0.5, a.composite = 0.75;
  b.id = "b", b.kidney_dice = 0.5, b.tumor_dice = 0.0, b.composite = 0.25;
  return Summarize({a, b});
}

TEST(SummaryTest, MeansOverCases) {
  const Summary s = TwoCases();
  ASSERT_EQ(s.cases.size(), 2u);
  EXPECT_DOUBLE_EQ(s.kidney_dice, 0.75);
  EXPECT_DOUBLE_EQ(s.tumor_dice, 0.25);
  EXPECT_DOUBLE_EQ(s.composite, 0.5);
  const Summary empty = Summarize({});
  EXPECT_EQ(empty.composite, 0.0);
}

TEST(SummaryTest, JsonAndCsvContent) {
  const Summary s = TwoCases();
  const Json j = SummaryToJson(s);
  EXPECT_EQ(j["num_cases"], 2);
  EXPECT_DOUBLE_EQ(j["composite"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["mean"]["tumor_dice"].get<double>(), 0.25);
  ASSERT_EQ(j["cases"].size(), 2u);
  EXPECT_EQ(j["cases"][1]["id"], "b");
  EXPECT_DOUBLE_EQ(j["cases"][0]["kidney_dice"].get<double>(), 1.0);
  EXPECT_EQ(SummaryToCsv(s),
            "case,kidney_dice,tumor_dice,composite\n"
            "a,1.000000,0.500000,0.750000\n"
            "b,0.500000,0.000000,0.250000\n"
            "mean,0.750000,0.250000,0.500000\n");
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SummaryTest, WriteSummaryWritesJsonAndCsv) {
  const fs::path dir = fs::path(::testing::TempDir()) / "metrics_write";
  fs::remove_all(dir);
  const Summary s = TwoCases();
  ASSERT_TRUE(WriteSummary(s, (dir / "sub/summary.csv").string()).ok());
  EXPECT_EQ(Slurp(dir / "sub/summary.csv"), SummaryToCsv(s));
  EXPECT_EQ(Json::parse(Slurp(dir / "sub/summary.json")), SummaryToJson(s));
  // No temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "sub"), fs::directory_iterator()), 2);
  const Status bad = WriteSummary(s, (dir / "summary.txt").string());
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("summary.txt"), std::string::npos);
  fs::remove_all(dir);
}

TEST(CheckSameGeometryTest, NamesFieldAndBothFiles) {
  data::Geometry a, b;
  const data::Shape3 s{2, 3, 4};
  EXPECT_TRUE(CheckSameGeometry(a, s, b, s, "p.nii.gz", "g.nii.gz").ok());
  b.spacing[0] = 1.00001;  // within tolerance
  EXPECT_TRUE(CheckSameGeometry(a, s, b, s, "p.nii.gz", "g.nii.gz").ok());

  const Status shape = CheckSameGeometry(a, s, b, {2, 3, 5}, "p.nii.gz", "g.nii.gz");
  EXPECT_EQ(shape.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(shape.message().find("shape"), std::string::npos) << shape.message();
  EXPECT_NE(shape.message().find("p.nii.gz"), std::string::npos);
  EXPECT_NE(shape.message().find("g.nii.gz"), std::string::npos);

  b.spacing[0] = 1.5;
  const Status sp = CheckSameGeometry(a, s, b, s, "p.nii.gz", "g.nii.gz");
  EXPECT_NE(sp.message().find("spacing"), std::string::npos) << sp.message();
  EXPECT_NE(sp.message().find("1.5"), std::string::npos) << sp.message();

  b = a;
  b.origin[2] = -10;
  EXPECT_NE(CheckSameGeometry(a, s, b, s, "p", "g").message().find("origin"), std::string::npos);
  b = a;
  b.direction[0] = -1;
  EXPECT_NE(CheckSameGeometry(a, s, b, s, "p", "g").message().find("direction"), std::string::npos);
}

}  // namespace
}  // namespace nephron::evaluate
