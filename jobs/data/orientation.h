// Canonical reorientation: permute and flip a volume's axes (no
// interpolation) so that array axes 0, 1, 2 run along the patient's
// superior, posterior and left axes (LPS z, y, x) as closely as the direction
// cosines allow. Cases stored in different orientations (KiTS19's
// slice-axis-first files next to ordinary axial ones) then look alike to the
// planner and the network; export undoes it exactly.
#pragma once

#include <array>

#include "jobs/data/volume.h"

namespace nephron::data {

struct Reorientation {
  // Output array axis m is input array axis perm[m], reversed when flip[m].
  std::array<int, 3> perm{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};

  bool IsIdentity() const {
    return perm == std::array<int, 3>{0, 1, 2} && !flip[0] && !flip[1] && !flip[2];
  }
};

// The reorientation that brings a volume with geometry `g` to canonical order.
Reorientation CanonicalReorientation(const Geometry& g);

Shape3 ReorientedShape(const Shape3& in, const Reorientation& r);
// Geometry of the reoriented volume: the same voxels at the same physical points.
Geometry ReorientedGeometry(const Geometry& g, const Shape3& in_shape, const Reorientation& r);

template <typename T>
Volume<T> ApplyReorientation(const Volume<T>& in, const Reorientation& r) {
  Volume<T> out(ReorientedShape(in.shape, r));
  out.geometry = ReorientedGeometry(in.geometry, in.shape, r);
  // Input strides in array order.
  const int64_t in_stride[3] = {in.shape[1] * in.shape[2], in.shape[2], 1};
  int64_t step[3], start = 0;
  for (int m = 0; m < 3; ++m) {
    const int64_t s = in_stride[r.perm[m]];
    step[m] = r.flip[m] ? -s : s;
    if (r.flip[m]) start += (out.shape[m] - 1) * s;
  }
  size_t o = 0;
  for (int64_t a = 0; a < out.shape[0]; ++a)
    for (int64_t b = 0; b < out.shape[1]; ++b) {
      int64_t i = start + a * step[0] + b * step[1];
      for (int64_t c = 0; c < out.shape[2]; ++c, i += step[2]) out.data[o++] = in.data[static_cast<size_t>(i)];
    }
  return out;
}

// Inverse of ApplyReorientation, restoring the original geometry.
Reorientation InverseReorientation(const Reorientation& r);

}  // namespace nephron::data
