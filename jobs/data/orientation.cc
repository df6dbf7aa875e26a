#include "jobs/data/orientation.h"

#include <cmath>

namespace nephron::data {

Reorientation CanonicalReorientation(const Geometry& g) {
  // Assign each ITK index axis to a physical axis, greedily by the largest
  // direction cosine, so that the assignment is a permutation even for
  // 45-degree obliques.
  int phys_of_itk[3] = {-1, -1, -1};
  bool phys_used[3] = {false, false, false};
  for (int round = 0; round < 3; ++round) {
    double best = -1;
    int bi = 0, bp = 0;
    for (int i = 0; i < 3; ++i) {
      if (phys_of_itk[i] >= 0) continue;
      for (int p = 0; p < 3; ++p) {
        if (phys_used[p]) continue;
        const double v = std::fabs(g.direction[p * 3 + i]);
        if (v > best) best = v, bi = i, bp = p;
      }
    }
    phys_of_itk[bi] = bp;
    phys_used[bp] = true;
  }
  Reorientation r;
  for (int m = 0; m < 3; ++m) {
    const int want_phys = 2 - m;  // array axis 0 <-> physical z
    for (int k = 0; k < 3; ++k) {
      if (phys_of_itk[2 - k] == want_phys) {
        r.perm[m] = k;
        r.flip[m] = g.direction[want_phys * 3 + (2 - k)] < 0;
      }
    }
  }
  return r;
}

Shape3 ReorientedShape(const Shape3& in, const Reorientation& r) {
  return {in[r.perm[0]], in[r.perm[1]], in[r.perm[2]]};
}

Geometry ReorientedGeometry(const Geometry& g, const Shape3& in_shape, const Reorientation& r) {
  Geometry out;
  // The input voxel that becomes output index 0.
  double first_itk_index[3] = {0, 0, 0};
  for (int m = 0; m < 3; ++m) {
    const int in_itk = 2 - r.perm[m], out_itk = 2 - m;
    const double sign = r.flip[m] ? -1.0 : 1.0;
    out.spacing[out_itk] = g.spacing[in_itk];
    for (int p = 0; p < 3; ++p) out.direction[p * 3 + out_itk] = sign * g.direction[p * 3 + in_itk];
    if (r.flip[m]) first_itk_index[in_itk] = static_cast<double>(in_shape[r.perm[m]] - 1);
  }
  for (int p = 0; p < 3; ++p) {
    double v = g.origin[p];
    for (int i = 0; i < 3; ++i) v += g.direction[p * 3 + i] * g.spacing[i] * first_itk_index[i];
    out.origin[p] = v;
  }
  return out;
}

Reorientation InverseReorientation(const Reorientation& r) {
  Reorientation inv;
  for (int m = 0; m < 3; ++m) {
    inv.perm[r.perm[m]] = m;
    inv.flip[r.perm[m]] = r.flip[m];
  }
  return inv;
}

}  // namespace nephron::data
