#include "jobs/preprocess/splits.h"

#include <gtest/gtest.h>

#include <set>

namespace nephron::preprocess {
namespace {

std::vector<std::string> Ids(int n) {
  std::vector<std::string> ids;
  for (int i = n - 1; i >= 0; --i) {  // deliberately unsorted
    char b[16];
    std::snprintf(b, sizeof(b), "case_%05d", i);
    ids.push_back(b);
  }
  return ids;
}

// scikit-learn 1.2 KFold(5, shuffle=True, random_state=12345) on 13 sorted ids
// gives these validation folds (nnU-Net's generate_crossval_split).
TEST(SplitsTest, MatchesNnunetKFold) {
  const auto folds = MakeSplits(Ids(13), 5, 12345);
  ASSERT_EQ(folds.size(), 5u);
  const std::vector<std::vector<int>> val = {{0, 7, 9}, {3, 6, 10}, {8, 11, 12}, {1, 4}, {2, 5}};
  for (size_t f = 0; f < 5; ++f) {
    ASSERT_EQ(folds[f].val.size(), val[f].size()) << f;
    for (size_t i = 0; i < val[f].size(); ++i) {
      char b[16];
      std::snprintf(b, sizeof(b), "case_%05d", val[f][i]);
      EXPECT_EQ(folds[f].val[i], b);
    }
    EXPECT_EQ(folds[f].train.size() + folds[f].val.size(), 13u);
    EXPECT_TRUE(std::is_sorted(folds[f].train.begin(), folds[f].train.end()));
  }
}

TEST(SplitsTest, DeterministicAndAPartition) {
  const auto a = MakeSplits(Ids(21), 5, 12345), b = MakeSplits(Ids(21), 5, 12345);
  std::multiset<std::string> all_val;
  for (size_t f = 0; f < a.size(); ++f) {
    EXPECT_EQ(a[f].val, b[f].val);
    all_val.insert(a[f].val.begin(), a[f].val.end());
  }
  EXPECT_EQ(all_val.size(), 21u);
  EXPECT_EQ(std::set<std::string>(all_val.begin(), all_val.end()).size(), 21u);
  EXPECT_NE(MakeSplits(Ids(21), 5, 1)[0].val, a[0].val);
}

TEST(SplitsTest, JsonRoundTripAndValidation) {
  const auto folds = MakeSplits(Ids(10), 5, 12345);
  const Json j = SplitsToJson(folds);
  ASSERT_TRUE(j.is_array());
  EXPECT_TRUE(j[0].contains("train"));
  auto back = SplitsFromJson(j, "splits_final.json");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[2].val, folds[2].val);
  auto unknown = SplitsFromJson(j, "splits_final.json", {"case_00000"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown case id"), std::string::npos);
  auto bad = SplitsFromJson(Json::parse(R"([{"train": ["a"]}])"), "s.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("s.json: fold 0"), std::string::npos);
}

}  // namespace
}  // namespace nephron::preprocess
