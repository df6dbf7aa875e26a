#include "jobs/data/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace nephron::data {
namespace {

namespace fs = std::filesystem;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("dataset_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Touch(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "x";
  }
  fs::path root_;
};

TEST_F(DatasetTest, Kits19LayoutSplitsTrainingAndTestByLabelPresence) {
  Touch(root_ / "case_00002/imaging.nii.gz");
  Touch(root_ / "case_00002/segmentation.nii.gz");
  Touch(root_ / "case_00000/imaging.nii.gz");
  Touch(root_ / "case_00000/segmentation.nii.gz");
  Touch(root_ / "case_00210/imaging.nii.gz");
  Touch(root_ / "README.md");
  auto d = DiscoverDataset(root_.string());
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->layout, Layout::kKits19);
  ASSERT_EQ(d->training.size(), 2u);
  EXPECT_EQ(d->training[0].id, "case_00000");
  EXPECT_EQ(d->training[1].id, "case_00002");
  EXPECT_EQ(d->training[1].label, (root_ / "case_00002/segmentation.nii.gz").string());
  ASSERT_EQ(d->test.size(), 1u);
  EXPECT_EQ(d->test[0].id, "case_00210");
  EXPECT_TRUE(d->test[0].label.empty());
}

TEST_F(DatasetTest, Kits19RepositoryRootWithDataFolder) {
  Touch(root_ / "data/case_00000/imaging.nii.gz");
  Touch(root_ / "data/case_00000/segmentation.nii.gz");
  auto d = DiscoverDataset(root_.string(), "kits19");
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->training.size(), 1u);
}

TEST_F(DatasetTest, NnunetRawLayout) {
  std::ofstream(root_ / "dataset.json")
      << R"({"channel_names": {"0": "CT"}, "labels": {"background": 0, "kidney": 1, "tumor": 2},
            "numTraining": 2, "file_ending": ".nii.gz"})";
  Touch(root_ / "imagesTr/kits_001_0000.nii.gz");
  Touch(root_ / "labelsTr/kits_001.nii.gz");
  Touch(root_ / "imagesTr/kits_000_0000.nii.gz");
  Touch(root_ / "labelsTr/kits_000.nii.gz");
  Touch(root_ / "imagesTs/kits_100_0000.nii.gz");
  auto d = DiscoverDataset(root_.string());
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->layout, Layout::kNnunet);
  ASSERT_EQ(d->training.size(), 2u);
  EXPECT_EQ(d->training[0].id, "kits_000");
  EXPECT_EQ(d->training[0].label, (root_ / "labelsTr/kits_000.nii.gz").string());
  ASSERT_EQ(d->test.size(), 1u);
  EXPECT_EQ(d->test[0].id, "kits_100");
  EXPECT_EQ(d->num_classes, 3);
}

TEST_F(DatasetTest, NnunetErrorsNameTheFileAndField) {
  std::ofstream(root_ / "dataset.json") << R"({"numTraining": 3, "file_ending": ".nii.gz"})";
  Touch(root_ / "imagesTr/a_0000.nii.gz");
  Touch(root_ / "labelsTr/a.nii.gz");
  auto d = DiscoverDataset(root_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("dataset.json: field numTraining says 3"), std::string::npos)
      << d.status().message();

  Touch(root_ / "imagesTr/b_0000.nii.gz");  // no label
  auto e = DiscoverDataset(root_.string());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("b_0000.nii.gz: training image has no label file"), std::string::npos)
      << e.status().message();

  std::ofstream(root_ / "dataset.json") << "{not json";
  auto f = DiscoverDataset(root_.string());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("dataset.json: not valid JSON"), std::string::npos);
}

TEST_F(DatasetTest, EmptyOrMissingFoldersAreClearErrors) {
  auto d = DiscoverDataset(root_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("empty data set"), std::string::npos);
  auto m = DiscoverDataset((root_ / "nope").string());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
}

TEST_F(DatasetTest, HeldOutTestCasesLeaveTrainingAndKeepTheirLabels) {
  for (const char* id : {"case_00000", "case_00001", "case_00002", "case_00003"}) {
    Touch(root_ / id / "imaging.nii.gz");
    Touch(root_ / id / "segmentation.nii.gz");
  }
  Touch(root_ / "case_00210/imaging.nii.gz");
  auto d = DiscoverDataset(root_.string());
  ASSERT_TRUE(d.ok()) << d.status().message();
  // An unlabelled case may be named too: it is a test case anyway.
  ASSERT_TRUE(HoldOutTestCases(&*d, {"case_00003", "case_00210", "case_00001"}).ok());
  ASSERT_EQ(d->training.size(), 2u);
  EXPECT_EQ(d->training[0].id, "case_00000");
  EXPECT_EQ(d->training[1].id, "case_00002");
  ASSERT_EQ(d->test.size(), 3u);
  EXPECT_EQ(d->test[0].id, "case_00001");
  EXPECT_EQ(d->test[0].label, (root_ / "case_00001/segmentation.nii.gz").string());
  EXPECT_EQ(d->test[1].id, "case_00003");
  EXPECT_EQ(d->test[2].id, "case_00210");
  EXPECT_TRUE(d->test[2].label.empty());
}

TEST_F(DatasetTest, UnknownHeldOutCaseIsNamedWithItsIndexAndNothingMoves) {
  Touch(root_ / "case_00000/imaging.nii.gz");
  Touch(root_ / "case_00000/segmentation.nii.gz");
  Touch(root_ / "case_00001/imaging.nii.gz");
  Touch(root_ / "case_00001/segmentation.nii.gz");
  auto d = DiscoverDataset(root_.string());
  ASSERT_TRUE(d.ok());
  Status st = HoldOutTestCases(&*d, {"case_00001", "case_00042", "case_9"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("dataset.test_cases[1]: case 'case_00042' is not in the data set"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("dataset.test_cases[2]: case 'case_9'"), std::string::npos) << st.message();
  EXPECT_EQ(d->training.size(), 2u);
  EXPECT_TRUE(d->test.empty());
  EXPECT_TRUE(HoldOutTestCases(&*d, {}).ok());
  EXPECT_EQ(d->training.size(), 2u);
}

TEST(SelectCasesTest, KeepsTheInputOrderAndNamesUnknownIds) {
  std::vector<CaseFiles> cases;
  for (int i = 0; i < 5; ++i) cases.push_back({"c" + std::to_string(i), "img" + std::to_string(i), ""});
  auto s = SelectCases(cases, {"c3", "c1", "c3"}, "--cases");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].id, "c1");
  EXPECT_EQ((*s)[1].id, "c3");
  EXPECT_EQ((*s)[1].image, "img3");

  auto bad = SelectCases(cases, {"c1", "c7", "x", "c7"}, "--cases");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("--cases: unknown case id(s) 'c7', 'x' (5 case(s) available"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(SelectCases(cases, {}, "--cases").ok());
}

TEST(ShardCasesTest, ShardsPartitionTheCases) {
  std::vector<CaseFiles> cases;
  for (int i = 0; i < 7; ++i) cases.push_back({"c" + std::to_string(i), "", ""});
  size_t total = 0;
  for (int s = 0; s < 3; ++s) total += ShardCases(cases, s, 3).size();
  EXPECT_EQ(total, 7u);
  auto s1 = ShardCases(cases, 1, 3);
  ASSERT_EQ(s1.size(), 2u);
  EXPECT_EQ(s1[0].id, "c1");
  EXPECT_EQ(s1[1].id, "c4");
}

}  // namespace
}  // namespace nephron::data
