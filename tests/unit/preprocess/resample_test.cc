#include "jobs/preprocess/resample.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace nephron::preprocess {
namespace {

using data::Shape3;

std::vector<float> Smooth(const Shape3& s) {
  std::vector<float> v(static_cast<size_t>(data::NumVoxels(s)));
  size_t i = 0;
  for (int64_t a = 0; a < s[0]; ++a)
    for (int64_t b = 0; b < s[1]; ++b)
      for (int64_t c = 0; c < s[2]; ++c)
        v[i++] = static_cast<float>(std::sin(0.5 * a) + std::cos(0.3 * b) + 0.01 * c * c);
  return v;
}

float At(const std::vector<float>& v, const Shape3& s, int64_t a, int64_t b, int64_t c) {
  return v[static_cast<size_t>((a * s[1] + b) * s[2] + c)];
}

TEST(ResampleTest, NewShapeFollowsNnunetRounding) {
  EXPECT_EQ(ComputeNewShape({200, 512, 512}, {0.8, 0.78, 0.78}, {3.22, 1.62, 1.62}), (Shape3{50, 247, 247}));
  EXPECT_EQ(ComputeNewShape({10, 10, 10}, {1, 1, 1}, {1, 1, 1}), (Shape3{10, 10, 10}));
}

// Reference values from scikit-image 0.19 (what nnU-Net calls):
//   f[a,b,c] = sin(0.5a) + cos(0.3b) + 0.01c^2 on a 24^3 grid,
//   resize(f, (13, 17, 29), order=3 / order=1, mode='edge', anti_aliasing=False)
TEST(ResampleTest, CubicMatchesScikitImageInTheInterior) {
  const Shape3 in{24, 24, 24}, out{13, 17, 29};
  auto r = ResampleImage(Smooth(in), in, out, AxisKernels(Interp::kBSpline3, -1), 2);
  ASSERT_EQ(r.size(), static_cast<size_t>(13 * 17 * 29));
  EXPECT_NEAR(At(r, out, 6, 8, 14), -0.13848873397531136, 2e-4);
  EXPECT_NEAR(At(r, out, 5, 9, 12), -0.7679775688578352, 2e-4);
  EXPECT_NEAR(At(r, out, 7, 7, 16), 1.117221902382157, 2e-4);
  EXPECT_NEAR(At(r, out, 6, 6, 10), -0.6958745168800103, 2e-4);
}

TEST(ResampleTest, LinearMatchesScikitImageEverywhere) {
  const Shape3 in{24, 24, 24}, out{13, 17, 29};
  auto r = ResampleImage(Smooth(in), in, out, AxisKernels(Interp::kLinear, -1), 1);
  EXPECT_NEAR(At(r, out, 6, 8, 14), -0.10959700500616487, 1e-5);
  EXPECT_NEAR(At(r, out, 0, 0, 0), 1.1936384530077286, 1e-5);
  EXPECT_NEAR(At(r, out, 12, 16, 28), 5.205276477017411, 1e-4);
}

TEST(ResampleTest, LinearRampIsReproducedByCubicAwayFromEdges) {
  const Shape3 in{1, 1, 40}, out{1, 1, 17};
  std::vector<float> ramp(40);
  std::iota(ramp.begin(), ramp.end(), 0.0f);
  auto r = ResampleImage(std::move(ramp), in, out, AxisKernels(Interp::kBSpline3, -1), 1);
  const double scale = 40.0 / 17.0;
  for (int o = 3; o < 14; ++o) EXPECT_NEAR(r[static_cast<size_t>(o)], (o + 0.5) * scale - 0.5, 1e-3) << o;
}

TEST(ResampleTest, ThreadCountDoesNotChangeTheResult) {
  const Shape3 in{24, 24, 24}, out{30, 11, 24};
  auto a = ResampleImage(Smooth(in), in, out, AxisKernels(Interp::kBSpline3, -1), 1);
  auto b = ResampleImage(Smooth(in), in, out, AxisKernels(Interp::kBSpline3, -1), 2);
  EXPECT_EQ(a, b);
}

std::vector<int8_t> Sphere(const Shape3& s, double ca, double cb, double cc, double r) {
  std::vector<int8_t> v(static_cast<size_t>(data::NumVoxels(s)), 0);
  size_t i = 0;
  for (int64_t a = 0; a < s[0]; ++a)
    for (int64_t b = 0; b < s[1]; ++b)
      for (int64_t c = 0; c < s[2]; ++c, ++i)
        if ((a - ca) * (a - ca) + (b - cb) * (b - cb) + (c - cc) * (c - cc) <= r * r) v[i] = 1;
  return v;
}

// Volume (mm^3) and centroid (mm, pixel-centre convention) of label `l`.
void Measure(const std::vector<int8_t>& v, const Shape3& s, const data::Vec3& sp, int l, double* vol, data::Vec3* c) {
  double n = 0;
  data::Vec3 sum{0, 0, 0};
  size_t i = 0;
  for (int64_t a = 0; a < s[0]; ++a)
    for (int64_t b = 0; b < s[1]; ++b)
      for (int64_t cc = 0; cc < s[2]; ++cc, ++i)
        if (v[i] == l) {
          n += 1;
          sum[0] += (a + 0.5) * sp[0];
          sum[1] += (b + 0.5) * sp[1];
          sum[2] += (cc + 0.5) * sp[2];
        }
  *vol = n * sp[0] * sp[1] * sp[2];
  for (int k = 0; k < 3; ++k) (*c)[k] = sum[k] / n;
}

TEST(ResampleTest, SphereKeepsVolumeAndPositionForBothLabelModes) {
  const Shape3 in{48, 48, 48};
  const data::Vec3 sp{1, 1, 1}, nsp{1.6, 0.7, 1.3};
  const auto lab = Sphere(in, 20.5, 24.5, 26.5, 12);
  double v0;
  data::Vec3 c0;
  Measure(lab, in, sp, 1, &v0, &c0);
  const Shape3 out = ComputeNewShape(in, sp, nsp);
  for (Interp k : {Interp::kLinear, Interp::kNearest}) {
    auto r = ResampleLabels(lab, in, out, AxisKernels(k, -1), 2);
    // Physical extent is preserved by shape, so the effective spacing is extent / new shape.
    const data::Vec3 eff{48.0 / out[0], 48.0 / out[1], 48.0 / out[2]};
    double v1;
    data::Vec3 c1;
    Measure(r, out, eff, 1, &v1, &c1);
    EXPECT_NEAR(v1 / v0, 1.0, 0.03) << static_cast<int>(k);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(c1[i], c0[i], 0.5) << i;
  }
}

TEST(ResampleTest, SeparateZAxisRule) {
  EXPECT_EQ(SeparateZAxis({5, 0.8, 0.8}, {3, 0.8, 0.8}, 3), 0);
  EXPECT_EQ(SeparateZAxis({1, 1, 1}, {1, 1, 4}, 3), 2);        // new spacing decides when the old is isotropic
  EXPECT_EQ(SeparateZAxis({3.22, 1.62, 1.62}, {1, 1, 1}, 3), -1);
  EXPECT_EQ(SeparateZAxis({5, 5, 1}, {5, 5, 1}, 3), -1);        // two low-res axes: no separate handling
  const auto k = AxisKernels(Interp::kBSpline3, 0);
  EXPECT_EQ(k[0], Interp::kNearest);
  EXPECT_EQ(k[1], Interp::kBSpline3);
}

TEST(ResampleTest, NearestAlongTheSeparateAxisKeepsSliceValues) {
  const Shape3 in{4, 8, 8}, out{9, 8, 8};
  std::vector<float> v(4 * 8 * 8);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(100 * (i / 64));  // 0, 100, 200, 300 per slice
  auto r = ResampleImage(std::move(v), in, out, AxisKernels(Interp::kBSpline3, 0), 1);
  for (size_t i = 0; i < r.size(); ++i) {
    const float x = r[i];
    EXPECT_TRUE(x == 0 || x == 100 || x == 200 || x == 300) << x;
  }
}

TEST(ResampleTest, OneHotLabelsKeepIgnoreAndLaterLabelsWinTies) {
  // Label -1 (outside body), 0, 2 in columns; halving the size keeps all three.
  const Shape3 in{1, 1, 8}, out{1, 1, 4};
  std::vector<int8_t> lab{-1, -1, 0, 0, 2, 2, 2, 2};
  auto r = ResampleLabels(lab, in, out, AxisKernels(Interp::kLinear, -1), 1);
  EXPECT_EQ(r, (std::vector<int8_t>{-1, 0, 2, 2}));
}

}  // namespace
}  // namespace nephron::preprocess
