// CPU kernels behind the augmentation's fast paths (LibTorch 1.13's 3-D
// grid_sample and trilinear interpolation run on one CPU thread, and
// at::parallel_for is serial in files built without -fopenmp): plain loops
// over raw float buffers, split over std::threads. Depend on LibTorch only for
// the intra-op thread count. Thread-safe for distinct output buffers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace nephron::train::cpu {

// Calls fn(begin, end) on contiguous parts of [0, n), one std::thread per
// part, as many parts as LibTorch's intra-op thread count (at most n).
void ParallelRanges(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

using Mat3 = std::array<std::array<double, 3>, 3>;

// Resamples a strided [D, H, W] box (element strides `is`, `ls`) through
// x = c + M (o - (out - 1) / 2): trilinear image, nearest labels, border
// clamping -- the map affine_grid + grid_sample (align_corners=false) apply.
void AffineSample(const float* img, const std::array<int64_t, 3>& is, const int8_t* lab, const std::array<int64_t, 3>& ls,
                  const std::array<int64_t, 3>& in, const Mat3& m, const std::array<double, 3>& c,
                  const std::array<int64_t, 3>& out, float* oimg, int8_t* olab);

// In place: 1-D Gaussian (weights w, radius) along `axis` of a contiguous
// [D, H, W] volume; reflect padding, replicate where the axis is too short.
void GaussianBlurAxis(float* data, const std::array<int64_t, 3>& shape, int axis, const std::vector<float>& w,
                      int64_t radius);

// One separable pass of F::interpolate along the middle axis of a contiguous
// [outer, n, inner] buffer into [outer, m, inner]: nearest (src = floor(o * n / m))
// or linear with align_corners=false.
void ResizeAxis(const float* src, float* dst, int64_t outer, int64_t n, int64_t m, int64_t inner, bool linear);

}  // namespace nephron::train::cpu
