// Volume<T>: a 3-D image in memory plus its physical geometry.
//
// Axis convention (used everywhere in Nephron, as numpy/SimpleITK do):
//   * `shape` and array-order spacing list the SLOWEST axis first:
//     shape = {n0, n1, n2}, voxel (a, b, c) lives at data[(a * n1 + b) * n2 + c].
//   * `geometry` keeps ITK's order (index axis 0 = fastest = array axis 2), so
//     files round-trip exactly: ITK size[i] == shape[2 - i].
// A KiTS19 file stores slices along NIfTI/ITK axis 0, i.e. array axis 2.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nephron::data {

using Shape3 = std::array<int64_t, 3>;
using Vec3 = std::array<double, 3>;

struct Geometry {
  Vec3 spacing{1, 1, 1};  // ITK order, mm
  Vec3 origin{0, 0, 0};   // ITK order, mm (LPS)
  // Row-major 3x3; column j is the physical (LPS) direction of ITK index axis j.
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};

  // Spacing in array order (slowest axis first).
  Vec3 ArraySpacing() const { return {spacing[2], spacing[1], spacing[0]}; }
};

inline int64_t NumVoxels(const Shape3& s) { return s[0] * s[1] * s[2]; }

template <typename T>
struct Volume {
  Shape3 shape{0, 0, 0};
  std::vector<T> data;
  Geometry geometry;

  Volume() = default;
  explicit Volume(Shape3 s, T fill = T()) : shape(s), data(static_cast<size_t>(NumVoxels(s)), fill) {}

  int64_t size() const { return NumVoxels(shape); }
  size_t Index(int64_t a, int64_t b, int64_t c) const {
    return static_cast<size_t>((a * shape[1] + b) * shape[2] + c);
  }
  T& at(int64_t a, int64_t b, int64_t c) { return data[Index(a, b, c)]; }
  const T& at(int64_t a, int64_t b, int64_t c) const { return data[Index(a, b, c)]; }
};

}  // namespace nephron::data
