#include "jobs/train/cpu_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <thread>

namespace nephron::train::cpu {

void ParallelRanges(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n));
  std::vector<std::thread> pool;
  for (int64_t k = 1; k < parts; ++k) pool.emplace_back(fn, n * k / parts, n * (k + 1) / parts);
  fn(0, n / parts);
  for (auto& t : pool) t.join();
}

// Input voxel x = c + M (o - (out - 1) / 2)
// for output voxel o (the same map affine_grid + grid_sample evaluate with
// align_corners=false), trilinear for the image and nearest for the labels,
// coordinates clamped to the box (border padding).
void AffineSample(const float* img, const std::array<int64_t, 3>& is, const int8_t* lab, const std::array<int64_t, 3>& ls,
                    const std::array<int64_t, 3>& in, const Mat3& m, const std::array<double, 3>& c,
                    const std::array<int64_t, 3>& out, float* oimg, int8_t* olab) {
  const double h0 = (static_cast<double>(out[0]) - 1) / 2, h1 = (static_cast<double>(out[1]) - 1) / 2,
               h2 = (static_cast<double>(out[2]) - 1) / 2;
  const double mx[3] = {static_cast<double>(in[0] - 1), static_cast<double>(in[1] - 1), static_cast<double>(in[2] - 1)};
  const int64_t s0 = is[0], s1 = is[1], s2 = is[2];
  auto slab = [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t b = 0; b < out[1]; ++b) {
        double x[3];
        for (int i = 0; i < 3; ++i) x[i] = c[i] + m[i][0] * (a - h0) + m[i][1] * (b - h1) + m[i][2] * (0 - h2);
        size_t o = static_cast<size_t>((a * out[1] + b) * out[2]);
        for (int64_t k = 0; k < out[2]; ++k, ++o) {
          double p[3];
          int64_t i0[3], i1[3];
          double f[3];
          // p >= 0 after clamping, so truncation is floor (no libm call per voxel).
          int64_t r[3];
          for (int i = 0; i < 3; ++i) {
            p[i] = std::min(std::max(x[i], 0.0), mx[i]);
            i0[i] = static_cast<int64_t>(p[i]);
            i1[i] = std::min<int64_t>(i0[i] + 1, in[i] - 1);
            f[i] = p[i] - static_cast<double>(i0[i]);
            r[i] = f[i] > 0.5 ? i1[i] : i0[i];  // nearest; exact .5 ties go down (grid_sample: to even)
            x[i] += m[i][2];
          }
          const float* q = img;
          const int64_t a0 = i0[0] * s0, a1 = i1[0] * s0, b0 = i0[1] * s1, b1 = i1[1] * s1, e0 = i0[2] * s2, e1 = i1[2] * s2;
          const double c00 = q[a0 + b0 + e0] * (1 - f[2]) + q[a0 + b0 + e1] * f[2];
          const double c01 = q[a0 + b1 + e0] * (1 - f[2]) + q[a0 + b1 + e1] * f[2];
          const double c10 = q[a1 + b0 + e0] * (1 - f[2]) + q[a1 + b0 + e1] * f[2];
          const double c11 = q[a1 + b1 + e0] * (1 - f[2]) + q[a1 + b1 + e1] * f[2];
          oimg[o] = static_cast<float>((c00 * (1 - f[1]) + c01 * f[1]) * (1 - f[0]) + (c10 * (1 - f[1]) + c11 * f[1]) * f[0]);
          olab[o] = lab[r[0] * ls[0] + r[1] * ls[1] + r[2] * ls[2]];
        }
      }
  };
  ParallelRanges(out[0], slab);
}

namespace {

// Reflect (mirror without repeating the edge), replicate when the kernel is
// wider than the axis, as F::pad does on the device path.
int64_t MirrorIndex(int64_t i, int64_t n, bool reflect) {
  if (!reflect) return std::min<int64_t>(std::max<int64_t>(i, 0), n - 1);
  if (i < 0) return -i;
  if (i >= n) return 2 * (n - 1) - i;
  return i;
}

}  // namespace

// The 1-D Gaussian along `axis` of a contiguous [D, H, W] float volume,
// whole rows at a time (vectorisable), split over std::threads.
void GaussianBlurAxis(float* data, const std::array<int64_t, 3>& shape, int axis, const std::vector<float>& w, int64_t radius) {
  int64_t outer = 1, inner = 1;
  const int64_t n = shape[static_cast<size_t>(axis)];
  for (int i = 0; i < axis; ++i) outer *= shape[static_cast<size_t>(i)];
  for (int i = axis + 1; i < 3; ++i) inner *= shape[static_cast<size_t>(i)];
  const bool reflect = radius < n;
  if (inner == 1) {
    // The last axis: each row is one short line; convolve it in place from a
    // padded copy, with no per-element reflect arithmetic.
    auto rows = [&](int64_t r0, int64_t r1) {
      std::vector<float> pad(static_cast<size_t>(n + 2 * radius));
      for (int64_t r = r0; r < r1; ++r) {
        float* row = data + r * n;
        for (int64_t i = -radius; i < n + radius; ++i) pad[static_cast<size_t>(i + radius)] = row[MirrorIndex(i, n, reflect)];
        for (int64_t k = 0; k < n; ++k) {
          const float* src = pad.data() + k;
          float acc = 0;
          for (int64_t t = 0; t <= 2 * radius; ++t) acc += w[static_cast<size_t>(t)] * src[t];
          row[k] = acc;
        }
      }
    };
    ParallelRanges(outer, rows);
    return;
  }
  auto run = [&](int64_t o0, int64_t o1) {
    std::vector<float> line(static_cast<size_t>(n * inner));
    for (int64_t o = o0; o < o1; ++o) {
      float* base = data + o * n * inner;
      std::copy(base, base + n * inner, line.begin());
      for (int64_t k = 0; k < n; ++k) {
        float* dst = base + k * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] = 0;
        for (int64_t t = -radius; t <= radius; ++t) {
          const float wt = w[static_cast<size_t>(t + radius)];
          const float* src = line.data() + MirrorIndex(k + t, n, reflect) * inner;
          for (int64_t i = 0; i < inner; ++i) dst[i] += wt * src[i];
        }
      }
    }
  };
  ParallelRanges(outer, run);
}


void ResizeAxis(const float* src, float* dst, int64_t outer, int64_t n, int64_t m, int64_t inner, bool linear) {
  const double scale = static_cast<double>(n) / static_cast<double>(m);
  std::vector<int64_t> i0(static_cast<size_t>(m)), i1(static_cast<size_t>(m));
  std::vector<float> w1(static_cast<size_t>(m));
  for (int64_t o = 0; o < m; ++o) {
    const size_t k = static_cast<size_t>(o);
    if (linear) {
      const double s = std::max(0.0, (static_cast<double>(o) + 0.5) * scale - 0.5);
      i0[k] = std::min<int64_t>(static_cast<int64_t>(s), n - 1);
      i1[k] = std::min<int64_t>(i0[k] + 1, n - 1);
      w1[k] = static_cast<float>(s - static_cast<double>(i0[k]));
    } else {
      i0[k] = i1[k] = std::min<int64_t>(static_cast<int64_t>(std::floor(static_cast<double>(o) * scale)), n - 1);
      w1[k] = 0;
    }
  }
  ParallelRanges(outer * m, [&](int64_t r0, int64_t r1) {  // output rows
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t q = r / m;
      const size_t k = static_cast<size_t>(r % m);
      const float* a = src + (q * n + i0[k]) * inner;
      const float* b = src + (q * n + i1[k]) * inner;
      float* d = dst + r * inner;
      const float wb = w1[k], wa = 1.0f - wb;
      if (wb == 0.0f) {
        std::copy(a, a + inner, d);
      } else {
        for (int64_t i = 0; i < inner; ++i) d[i] = wa * a[i] + wb * b[i];
      }
    }
  });
}

}  // namespace nephron::train::cpu
