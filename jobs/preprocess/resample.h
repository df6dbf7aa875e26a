// Separable resampling to a new shape, the way nnU-Net maps coordinates
// (scikit-image `resize`, pixel-centre aligned: x_in = (x_out + 0.5) * n_in /
// n_out - 0.5, edges clamped).
//
// Each axis has its own kernel, so the anisotropic "separate z" case
// (cubic in-plane, nearest along the coarse axis) is just a per-axis choice.
// Cubic is true B-spline interpolation (prefilter + cubic B-spline kernel,
// like scipy's order 3), computed one axis at a time: the tensor-product
// spline is separable, so this is exact, and reducing the axis with the
// largest shrink first keeps time and memory low. Thread-safe; uses
// `threads` std::threads internally.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "jobs/data/volume.h"

namespace nephron::preprocess {

enum class Interp { kNearest, kLinear, kBSpline3 };

// nnU-Net's new shape: round(old_spacing / new_spacing * old_shape), Python rounding (half to even).
data::Shape3 ComputeNewShape(const data::Shape3& shape, const data::Vec3& spacing, const data::Vec3& new_spacing);

// The coarse axis to treat separately (nnU-Net's get_do_separate_z +
// get_lowres_axis), or -1: checks the current spacing first, then the new
// one; only a single lowest-resolution axis qualifies.
int SeparateZAxis(const data::Vec3& spacing, const data::Vec3& new_spacing, double anisotropy_threshold);

// Per-axis kernels for an image: `kernel` everywhere except nearest along the
// separate axis (if any).
std::array<Interp, 3> AxisKernels(Interp kernel, int separate_axis);

// Resamples `in` (consumed: the B-spline prefilter works in place) to `out_shape`.
std::vector<float> ResampleImage(std::vector<float>&& in, const data::Shape3& in_shape,
                                 const data::Shape3& out_shape, const std::array<Interp, 3>& kernels, int threads);

// Resamples a label map. kNearest axes copy labels; when any axis is linear,
// each label's one-hot map is interpolated and a label is kept where its map
// is >= 0.5 (nnU-Net's resize_segmentation; later labels win ties, labels in
// ascending order). kBSpline3 is not allowed for labels.
std::vector<int8_t> ResampleLabels(const std::vector<int8_t>& in, const data::Shape3& in_shape,
                                   const data::Shape3& out_shape, const std::array<Interp, 3>& kernels, int threads);

}  // namespace nephron::preprocess
