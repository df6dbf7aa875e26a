#include "jobs/infer/postprocess.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace nephron::infer {
namespace {

using data::Shape3;

// A label volume of `shape` with helpers to paint boxes.
struct Vol {
  Shape3 shape;
  std::vector<uint8_t> v;
  explicit Vol(Shape3 s) : shape(s), v(size_t(s[0] * s[1] * s[2]), 0) {}
  uint8_t& at(int64_t a, int64_t b, int64_t c) { return v[size_t((a * shape[1] + b) * shape[2] + c)]; }
  // Box [a0, a1) x [b0, b1) x [c0, c1).
  Vol& Box(int64_t a0, int64_t a1, int64_t b0, int64_t b1, int64_t c0, int64_t c1, uint8_t label) {
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t b = b0; b < b1; ++b)
        for (int64_t c = c0; c < c1; ++c) at(a, b, c) = label;
    return *this;
  }
};

TEST(LabelComponentsTest, DiagonalNeighboursAreSeparateFaceNeighboursJoin) {
  Vol m({2, 3, 3});
  m.at(0, 0, 0) = 1;
  m.at(1, 0, 0) = 1;  // face neighbour across slices: same component
  m.at(0, 1, 1) = 1;  // diagonal to (0, 0, 0): separate
  m.at(1, 2, 2) = 1;  // diagonal in 3-D to (0, 1, 1)... not a face neighbour
  int n = -1;
  const std::vector<int32_t> l = LabelComponents(m.v, m.shape, &n);
  EXPECT_EQ(n, 3);
  // Numbered in raster order of first voxel.
  EXPECT_EQ(l[0], 1);
  EXPECT_EQ(l[size_t(1 * 9)], 1);
  EXPECT_EQ(l[size_t(0 * 9 + 1 * 3 + 1)], 2);
  EXPECT_EQ(l[size_t(1 * 9 + 2 * 3 + 2)], 3);
  EXPECT_EQ(l[1], 0);
}

TEST(LabelComponentsTest, UShapeMergesProvisionalLabels) {
  // Slice rows: "1 0 1 0 1" / "1 1 1 1 1": three prongs, one component; plus
  // an isolated voxel in the next slice's corner that touches nothing.
  Vol m({2, 2, 5});
  for (int64_t c : {0, 2, 4}) m.at(0, 0, c) = 1;
  m.Box(0, 1, 1, 2, 0, 5, 1);
  m.at(1, 0, 1) = 1;  // above (0, 0, 1), which is background
  int n = 0;
  const std::vector<int32_t> l = LabelComponents(m.v, m.shape, &n);
  EXPECT_EQ(n, 2);
  for (int64_t c : {0, 2, 4}) EXPECT_EQ(l[size_t(c)], 1);
  for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(l[size_t(5 + c)], 1);
  EXPECT_EQ(l[size_t(10 + 1)], 2);
}

TEST(LabelComponentsTest, CheckerboardHasOneComponentPerVoxelAndFullMaskOne) {
  Vol m({16, 17, 18});
  int64_t count = 0;
  for (int64_t a = 0; a < 16; ++a)
    for (int64_t b = 0; b < 17; ++b)
      for (int64_t c = 0; c < 18; ++c)
        if ((a + b + c) % 2 == 0) m.at(a, b, c) = 1, ++count;
  int n = 0;
  LabelComponents(m.v, m.shape, &n);
  EXPECT_EQ(n, count);
  std::fill(m.v.begin(), m.v.end(), 1);
  const std::vector<int32_t> l = LabelComponents(m.v, m.shape, &n);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(*std::min_element(l.begin(), l.end()), 1);
  std::fill(m.v.begin(), m.v.end(), 0);
  LabelComponents(m.v, m.shape, &n);
  EXPECT_EQ(n, 0);
}

TEST(KeepLargestComponentTest, ForegroundAndSingleClass) {
  Vol m({4, 8, 8});
  m.Box(0, 2, 0, 3, 0, 3, 1);  // kidney A: 18 voxels
  m.Box(0, 1, 0, 1, 3, 4, 2);  // tumour touching A
  m.Box(3, 4, 6, 8, 6, 8, 1);  // kidney B: 4 voxels, far away
  m.Box(3, 4, 0, 1, 0, 1, 2);  // a lone tumour voxel
  Vol fg = m;
  KeepLargestComponent(&fg.v, fg.shape, {1, 2});
  EXPECT_EQ(fg.at(0, 0, 0), 1);
  EXPECT_EQ(fg.at(0, 0, 3), 2);  // joined to A through the tumour class
  EXPECT_EQ(fg.at(3, 7, 7), 0);
  EXPECT_EQ(fg.at(3, 0, 0), 0);

  Vol tum = m;
  KeepLargestComponent(&tum.v, tum.shape, {2});  // two 1-voxel tumours: the first in raster order stays
  EXPECT_EQ(tum.at(0, 0, 3), 2);
  EXPECT_EQ(tum.at(3, 0, 0), 0);
  EXPECT_EQ(tum.at(3, 7, 7), 1);  // other classes untouched
}

TEST(ApplyPostprocessingTest, ForegroundStepThenClassSteps) {
  Vol m({3, 10, 10});
  m.Box(0, 3, 0, 4, 0, 4, 1).Box(1, 2, 1, 3, 1, 3, 2);  // kidney with tumour inside
  m.Box(0, 1, 8, 10, 8, 10, 1);                          // spurious blob
  m.Box(0, 1, 0, 1, 0, 1, 2);                            // second tumour, inside the kidney
  PostprocessingDecision d;
  d.largest_foreground = true;
  d.largest_per_class = {2};
  ApplyPostprocessing(d, &m.v, m.shape);
  EXPECT_EQ(m.at(0, 9, 9), 0);
  EXPECT_EQ(m.at(0, 0, 0), 0);  // smaller tumour component removed
  EXPECT_EQ(m.at(1, 1, 1), 2);
  EXPECT_EQ(m.at(2, 3, 3), 1);
}

const Shape3 kShape{4, 12, 24};

// Right and left kidney boxes.
Vol TwoKidneys() { return Vol(kShape).Box(1, 3, 2, 8, 2, 8, 1).Box(1, 3, 2, 8, 16, 22, 1); }

TEST(PostprocessingDeciderTest, SpuriousBlobMakesForegroundStepAccepted) {
  PostprocessingDecider d(3);
  for (int i = 0; i < 3; ++i) {
    const Vol gt = Vol(kShape).Box(1, 3, 2, 8, 2, 8, 1);
    Vol pred = gt;
    pred.Box(0, 1, 10, 12, 20 - i, 22, 1);  // distant false positive
    d.AddCase("c" + std::to_string(i), pred.v, gt.v, kShape);
  }
  const PostprocessingDecision r = d.Decide();
  EXPECT_TRUE(r.largest_foreground);
  EXPECT_TRUE(r.largest_per_class.empty());  // nothing left to gain on top (strict improvement)
  EXPECT_EQ(r.report["num_cases"], 3);
  EXPECT_EQ(r.report["mean_dice_largest_foreground"][0], 1.0);
  EXPECT_LT(r.report["mean_dice_raw"][0].get<double>(), 1.0);
  EXPECT_EQ(r.report["mean_dice_raw"][1], 1.0);  // no tumour anywhere: empty vs empty
}

TEST(PostprocessingDeciderTest, TrueSecondKidneyMakesLargestComponentRejected) {
  PostprocessingDecider d(3);
  for (int i = 0; i < 2; ++i) {
    const Vol gt = TwoKidneys();
    Vol pred = gt;
    pred.at(0, 0, 0) = 1;  // a tiny false positive that LCC would also remove
    d.AddCase("c" + std::to_string(i), pred.v, gt.v, kShape);
  }
  const PostprocessingDecision r = d.Decide();
  EXPECT_FALSE(r.largest_foreground);
  EXPECT_TRUE(r.largest_per_class.empty());
}

TEST(PostprocessingDeciderTest, PerClassStepAcceptedWhenOnlyThatClassGains) {
  PostprocessingDecider d(3);
  Vol gt = TwoKidneys();
  gt.Box(1, 3, 3, 6, 3, 6, 2);  // tumour in the right kidney
  Vol pred = gt;
  pred.Box(1, 2, 4, 5, 18, 19, 2);  // spurious tumour inside the left kidney
  d.AddCase("c0", pred.v, gt.v, kShape);
  const PostprocessingDecision r = d.Decide();
  EXPECT_FALSE(r.largest_foreground);  // would delete the left kidney
  EXPECT_EQ(r.largest_per_class, std::vector<int>{2});
  EXPECT_EQ(r.report["largest_per_class"]["2"]["accepted"], true);
  EXPECT_EQ(r.report["largest_per_class"]["1"]["accepted"], false);

  // Applying the decision repairs the tumour.
  ApplyPostprocessing(r, &pred.v, kShape);
  EXPECT_EQ(pred.at(1, 4, 18), 0);
  EXPECT_EQ(pred.at(1, 4, 4), 2);
}

TEST(PostprocessingDeciderTest, NoCasesDecidesNothing) {
  const PostprocessingDecision r = PostprocessingDecider(3).Decide();
  EXPECT_FALSE(r.largest_foreground);
  EXPECT_TRUE(r.largest_per_class.empty());
  EXPECT_EQ(r.report["num_cases"], 0);
}

TEST(DecisionJsonTest, RoundTripAndErrorsNameSourceAndField) {
  PostprocessingDecision d;
  d.largest_foreground = true;
  d.largest_per_class = {1, 2};
  d.report = {{"num_cases", 5}};
  auto back = DecisionFromJson(Json::parse(DecisionToJson(d).dump()), "pp.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->largest_foreground);
  EXPECT_EQ(back->largest_per_class, (std::vector<int>{1, 2}));
  EXPECT_EQ(back->report["num_cases"], 5);

  auto missing = DecisionFromJson(Json{{"largest_per_class", Json::array()}}, "pp.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("pp.json"), std::string::npos);
  EXPECT_NE(missing.status().message().find("largest_foreground"), std::string::npos);
  auto bad_class = DecisionFromJson(Json{{"largest_foreground", false}, {"largest_per_class", {1, "two"}}}, "x.json");
  ASSERT_FALSE(bad_class.ok());
  EXPECT_NE(bad_class.status().message().find("largest_per_class"), std::string::npos);
  EXPECT_FALSE(DecisionFromJson(Json{{"largest_foreground", false}, {"largest_per_class", {0}}}, "x").ok());
  EXPECT_FALSE(DecisionFromJson(Json::array(), "x").ok());
}

}  // namespace
}  // namespace nephron::infer
