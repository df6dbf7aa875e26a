#include "jobs/data/orientation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nephron::data {
namespace {

// Physical position (LPS) of array voxel (a, b, c).
Vec3 Physical(const Geometry& g, int64_t a, int64_t b, int64_t c) {
  const double idx[3] = {static_cast<double>(c), static_cast<double>(b), static_cast<double>(a)};
  Vec3 p = g.origin;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 3; ++i) p[r] += g.direction[r * 3 + i] * g.spacing[i] * idx[i];
  return p;
}

Volume<int> Numbered(Shape3 s) {
  Volume<int> v(s);
  for (size_t i = 0; i < v.data.size(); ++i) v.data[i] = static_cast<int>(i);
  return v;
}

TEST(OrientationTest, KitsSliceFirstBecomesAxialWithSameVoxelsAtSamePoints) {
  // KiTS19-like: index axis 0 runs along -z (slices), axis 1 along -y, axis 2 along +x.
  Volume<int> v = Numbered({5, 6, 7});
  v.geometry.direction = {0, 0, 1, 0, -1, 0, -1, 0, 0};
  v.geometry.spacing = {3.0, 0.8, 0.7};
  v.geometry.origin = {10, 20, 30};
  const Reorientation r = CanonicalReorientation(v.geometry);
  const Volume<int> out = ApplyReorientation(v, r);
  EXPECT_EQ(out.shape, (Shape3{7, 6, 5}));  // slices become the slowest axis
  // The direction is now the identity and spacing follows the axes.
  const std::array<double, 9> eye{1, 0, 0, 0, 1, 0, 0, 0, 1};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(out.geometry.direction[i], eye[i], 1e-12) << i;
  EXPECT_EQ(out.geometry.ArraySpacing(), (Vec3{3.0, 0.8, 0.7}));
  // Every voxel keeps its value at its physical point.
  for (int64_t a = 0; a < out.shape[0]; ++a)
    for (int64_t b = 0; b < out.shape[1]; ++b)
      for (int64_t c = 0; c < out.shape[2]; ++c) {
        const int value = out.at(a, b, c);
        const int64_t ia = value / (6 * 7), ib = (value / 7) % 6, ic = value % 7;
        const Vec3 p = Physical(out.geometry, a, b, c), q = Physical(v.geometry, ia, ib, ic);
        for (int k = 0; k < 3; ++k) ASSERT_NEAR(p[k], q[k], 1e-9);
      }
}

TEST(OrientationTest, IdentityAndInverse) {
  Geometry g;
  EXPECT_TRUE(CanonicalReorientation(g).IsIdentity());
  Volume<int> v = Numbered({3, 4, 5});
  v.geometry.direction = {0, -1, 0, 0, 0, 1, -1, 0, 0};
  const Reorientation r = CanonicalReorientation(v.geometry);
  EXPECT_FALSE(r.IsIdentity());
  const Volume<int> back = ApplyReorientation(ApplyReorientation(v, r), InverseReorientation(r));
  EXPECT_EQ(back.shape, v.shape);
  EXPECT_EQ(back.data, v.data);
}

TEST(OrientationTest, ObliqueAt45DegreesStillGivesAPermutation) {
  Geometry g;
  const double s = std::sqrt(0.5);
  g.direction = {s, -s, 0, s, s, 0, 0, 0, 1};
  const Reorientation r = CanonicalReorientation(g);
  std::array<bool, 3> seen{};
  for (int p : r.perm) seen[p] = true;
  EXPECT_TRUE(seen[0] && seen[1] && seen[2]);
}

}  // namespace
}  // namespace nephron::data
