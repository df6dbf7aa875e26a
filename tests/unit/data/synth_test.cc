#include "jobs/data/synth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "jobs/data/nifti_io.h"

namespace nephron::data {
namespace {

constexpr uint64_t kSeed = 20190415;
constexpr int kCases = 10;

// The first kCases tiny cases, generated once for the whole suite.
const std::vector<PhantomCase>& TinyCases() {
  static const std::vector<PhantomCase>* cases = [] {
    auto* v = new std::vector<PhantomCase>;
    for (int i = 0; i < kCases; ++i) v->push_back(MakePhantom(kSeed, i, SynthSize::kTiny, 2));
    return v;
  }();
  return *cases;
}

// Physical (LPS) point of array voxel (a, b, c).
Vec3 PhysicalPoint(const Geometry& g, int64_t a, int64_t b, int64_t c) {
  const double index[3] = {static_cast<double>(c), static_cast<double>(b), static_cast<double>(a)};
  Vec3 p = g.origin;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) p[i] += g.direction[i * 3 + j] * g.spacing[j] * index[j];
  return p;
}

Vec3 GridCentre(const Geometry& g, const Shape3& s) {
  const Vec3 lo = PhysicalPoint(g, 0, 0, 0), hi = PhysicalPoint(g, s[0] - 1, s[1] - 1, s[2] - 1);
  return {(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2};
}

double MeanWhere(const PhantomCase& c, uint8_t label) {
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < c.labels.data.size(); ++i) {
    if (c.labels.data[i] != label) continue;
    sum += c.image.data[i];
    ++n;
  }
  return n ? sum / static_cast<double>(n) : std::nan("");
}

int64_t Count(const PhantomCase& c, uint8_t label) {
  return std::count(c.labels.data.begin(), c.labels.data.end(), label);
}

void ExpectOrthonormal(const std::array<double, 9>& d, const std::string& what) {
  for (int j = 0; j < 3; ++j) {
    for (int k = 0; k < 3; ++k) {
      double dot = 0;
      for (int i = 0; i < 3; ++i) dot += d[i * 3 + j] * d[i * 3 + k];
      EXPECT_NEAR(dot, j == k ? 1.0 : 0.0, 1e-9) << what << " columns " << j << ", " << k;
    }
  }
  const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                     d[2] * (d[3] * d[7] - d[4] * d[6]);
  EXPECT_NEAR(std::abs(det), 1.0, 1e-9) << what;
}

TEST(SynthTest, ParseSynthSizeAcceptsTheThreeNames) {
  EXPECT_EQ(*ParseSynthSize("tiny"), SynthSize::kTiny);
  EXPECT_EQ(*ParseSynthSize("small"), SynthSize::kSmall);
  EXPECT_EQ(*ParseSynthSize("kits"), SynthSize::kKits);
  const auto bad = ParseSynthSize("huge");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("huge"), std::string::npos);
  EXPECT_NE(bad.status().message().find("tiny, small, kits"), std::string::npos);
}

TEST(SynthTest, SameSeedAndCaseGiveIdenticalData) {
  const PhantomCase a = MakePhantom(kSeed, 3, SynthSize::kTiny, 1);
  const PhantomCase& b = TinyCases()[3];
  EXPECT_EQ(a.image.shape, b.image.shape);
  EXPECT_EQ(a.image.data, b.image.data);
  EXPECT_EQ(a.labels.data, b.labels.data);
  EXPECT_EQ(a.image.geometry.origin, b.image.geometry.origin);
  EXPECT_EQ(a.image.geometry.direction, b.image.geometry.direction);

  const PhantomCase other = MakePhantom(kSeed + 1, 3, SynthSize::kTiny, 1);
  EXPECT_TRUE(other.image.shape != a.image.shape || other.image.data != a.image.data);
  // Different cases of one data set differ too.
  EXPECT_NE(TinyCases()[2].image.data, TinyCases()[3].image.data);
}

TEST(SynthTest, ThreadCountDoesNotChangeOutput) {
  const PhantomCase one = MakePhantom(kSeed, 4, SynthSize::kTiny, 1);
  const PhantomCase& two = TinyCases()[4];
  const PhantomCase three = MakePhantom(kSeed, 4, SynthSize::kTiny, 3);
  EXPECT_EQ(one.image.data, two.image.data);
  EXPECT_EQ(one.labels.data, two.labels.data);
  EXPECT_EQ(one.image.data, three.image.data);
  EXPECT_EQ(one.labels.data, three.labels.data);
}

TEST(SynthTest, ImageAndLabelsShareShapeAndGeometryAndLabelsAreClasses) {
  for (int i = 0; i < kCases; ++i) {
    const PhantomCase& c = TinyCases()[i];
    SCOPED_TRACE("case " + std::to_string(i));
    EXPECT_EQ(c.image.shape, c.labels.shape);
    ASSERT_EQ(c.image.data.size(), static_cast<size_t>(NumVoxels(c.image.shape)));
    ASSERT_EQ(c.labels.data.size(), c.image.data.size());
    EXPECT_EQ(c.image.geometry.spacing, c.labels.geometry.spacing);
    EXPECT_EQ(c.image.geometry.origin, c.labels.geometry.origin);
    EXPECT_EQ(c.image.geometry.direction, c.labels.geometry.direction);
    for (uint8_t l : c.labels.data) ASSERT_LE(l, 2);
    // Tiny sizes: 48-64 voxels in-plane, 20-40 slices.
    for (int ax = 0; ax < 3; ++ax) {
      EXPECT_GE(c.image.shape[ax], 20);
      EXPECT_LE(c.image.shape[ax], 64);
    }
    // Air outside, bone present (its thin cortex is blurred at tiny spacings).
    const auto [lo, hi] = std::minmax_element(c.image.data.begin(), c.image.data.end());
    EXPECT_LT(*lo, -900);
    EXPECT_GT(*hi, 300);
  }
}

TEST(SynthTest, DirectionsAreOrthonormalAndVaryAcrossCases) {
  std::set<std::array<double, 9>> distinct;
  for (int i = 0; i < kCases; ++i) {
    const Geometry& g = TinyCases()[i].image.geometry;
    ExpectOrthonormal(g.direction, "case " + std::to_string(i));
    distinct.insert(g.direction);
  }
  EXPECT_GE(distinct.size(), 3u);
}

TEST(SynthTest, CaseZeroHasKitsLayoutAndCaseOneIsAxialIdentity) {
  const Geometry& g0 = TinyCases()[0].image.geometry;
  // Slices are stored along ITK axis 0: its direction is (anti)parallel to z.
  EXPECT_GT(std::abs(g0.direction[2 * 3 + 0]), 0.99);
  const Geometry& g1 = TinyCases()[1].image.geometry;
  EXPECT_EQ(g1.direction, (std::array<double, 9>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
}

TEST(SynthTest, BothKidneysAreFullyInViewOnEitherSideOfTheMidline) {
  for (int i = 0; i < kCases; ++i) {
    const PhantomCase& c = TinyCases()[i];
    SCOPED_TRACE("case " + std::to_string(i));
    const Geometry& g = c.labels.geometry;
    const Shape3& s = c.labels.shape;
    const double midline = GridCentre(g, s)[0];
    int64_t left = 0, right = 0, on_border = 0;
    for (int64_t a = 0; a < s[0]; ++a)
      for (int64_t b = 0; b < s[1]; ++b)
        for (int64_t k = 0; k < s[2]; ++k) {
          if (c.labels.at(a, b, k) == 0) continue;
          const double x = PhysicalPoint(g, a, b, k)[0];
          // Kidneys sit 60-80 mm from the midline; +x is patient left.
          if (x > midline + 20) ++left;
          if (x < midline - 20) ++right;
          if (a == 0 || b == 0 || k == 0 || a == s[0] - 1 || b == s[1] - 1 || k == s[2] - 1) ++on_border;
        }
    EXPECT_GT(left, 50);
    EXPECT_GT(right, 50);
    EXPECT_EQ(on_border, 0) << "a kidney is cut by the field of view";
  }
}

TEST(SynthTest, SomeButNotAllCasesHaveTumours) {
  int with_tumour = 0;
  for (int i = 0; i < kCases; ++i) with_tumour += Count(TinyCases()[i], 2) > 0 ? 1 : 0;
  EXPECT_GE(with_tumour, 1);
  EXPECT_LT(with_tumour, kCases);
  EXPECT_GT(Count(TinyCases()[0], 2), 0);  // case 0 always has one
  EXPECT_EQ(Count(TinyCases()[1], 2), 0);  // case 1 never does
}

TEST(SynthTest, KidneyIsBrightAndTumourIsHypodense) {
  for (int i = 0; i < kCases; ++i) {
    const PhantomCase& c = TinyCases()[i];
    SCOPED_TRACE("case " + std::to_string(i));
    const double kidney = MeanWhere(c, 1);
    EXPECT_GT(kidney, 130);
    EXPECT_LT(kidney, 220);
    if (Count(c, 2) > 0) {
      EXPECT_LT(MeanWhere(c, 2), kidney - 40);
    }
    // Background is mostly air and soft tissue, well below kidney.
    EXPECT_LT(MeanWhere(c, 0), 0);
  }
}

TEST(SynthTest, MakePhantomWithShapeKeepsShapeSpacingAndFitsAnatomy) {
  const Shape3 shape{30, 80, 72};
  const Vec3 spacing{2.5, 2.4, 2.4};
  const PhantomCase c = MakePhantomWithShape(kSeed, shape, spacing, 2);
  EXPECT_EQ(c.image.shape, shape);
  EXPECT_EQ(c.labels.shape, shape);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(c.image.geometry.ArraySpacing()[i], spacing[i], 1e-6);
  EXPECT_EQ(c.image.geometry.direction, (std::array<double, 9>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_GT(Count(c, 1), 0);
  EXPECT_GT(Count(c, 2), 0);
  // Kidneys are centred along z: the labelled slab is roughly symmetric.
  const size_t plane = static_cast<size_t>(shape[1] * shape[2]);
  int64_t first = shape[0], last = -1;
  for (int64_t a = 0; a < shape[0]; ++a) {
    const auto begin = c.labels.data.begin() + static_cast<int64_t>(plane) * a;
    if (std::any_of(begin, begin + static_cast<int64_t>(plane), [](uint8_t l) { return l != 0; })) {
      first = std::min(first, a);
      last = a;
    }
  }
  ASSERT_GE(last, 0);
  EXPECT_GT(first, 0);
  EXPECT_LT(last, shape[0] - 1);
  EXPECT_NEAR(static_cast<double>(first + last) / 2, (shape[0] - 1) / 2.0, 3);
  const PhantomCase again = MakePhantomWithShape(kSeed, shape, spacing, 1);
  EXPECT_EQ(again.image.data, c.image.data);
}

TEST(SynthTest, WriteSynthDatasetWritesReadableCases) {
  const std::string dir = ::testing::TempDir() + "/synth_test_dataset";
  std::filesystem::remove_all(dir);
  std::vector<std::pair<int, std::string>> seen;
  ASSERT_TRUE(WriteSynthDataset(dir, 2, kSeed, SynthSize::kTiny, 2,
                                [&](int i, const std::string& d) { seen.emplace_back(i, d); })
                  .ok());
  ASSERT_EQ(seen.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const std::string case_dir = dir + (i == 0 ? "/case_00000" : "/case_00001");
    EXPECT_EQ(seen[i].first, i);
    EXPECT_EQ(seen[i].second, case_dir);
    auto image = ReadImage(case_dir + "/imaging.nii.gz");
    auto labels = ReadLabels(case_dir + "/segmentation.nii.gz", 2);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    ASSERT_TRUE(labels.ok()) << labels.status().ToString();
    const PhantomCase& expected = TinyCases()[i];
    EXPECT_EQ(image->shape, expected.image.shape);
    EXPECT_EQ(labels->shape, expected.image.shape);
    EXPECT_EQ(labels->data, expected.labels.data);
    ASSERT_EQ(image->data.size(), expected.image.data.size());
    for (size_t v = 0; v < image->data.size(); ++v) ASSERT_EQ(image->data[v], expected.image.data[v]);
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(image->geometry.spacing[k], expected.image.geometry.spacing[k], 1e-4);
      EXPECT_NEAR(image->geometry.origin[k], expected.image.geometry.origin[k], 1e-3);
      EXPECT_NEAR(labels->geometry.origin[k], image->geometry.origin[k], 1e-6);
      EXPECT_NEAR(labels->geometry.spacing[k], image->geometry.spacing[k], 1e-6);
    }
    for (int k = 0; k < 9; ++k) {
      EXPECT_NEAR(image->geometry.direction[k], expected.image.geometry.direction[k], 1e-5);
      EXPECT_NEAR(labels->geometry.direction[k], image->geometry.direction[k], 1e-6);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(SynthTest, WriteSynthDatasetRejectsNonPositiveCaseCount) {
  const Status st = WriteSynthDataset(::testing::TempDir() + "/synth_never", 0, kSeed, SynthSize::kTiny);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("num_cases"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(::testing::TempDir() + "/synth_never"));
}

}  // namespace
}  // namespace nephron::data
