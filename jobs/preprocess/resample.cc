#include "jobs/preprocess/resample.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "jobs/preprocess/thread_pool.h"

namespace nephron::preprocess {

using data::Shape3;
using data::Vec3;

Shape3 ComputeNewShape(const Shape3& shape, const Vec3& spacing, const Vec3& new_spacing) {
  Shape3 out;
  for (int i = 0; i < 3; ++i)
    out[i] = std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(spacing[i] / new_spacing[i] * static_cast<double>(shape[i]))));
  return out;
}

namespace {

// Axes whose spacing equals the maximum (nnU-Net's get_lowres_axis).
std::vector<int> LowresAxes(const Vec3& s) {
  const double mx = *std::max_element(s.begin(), s.end());
  std::vector<int> axes;
  for (int i = 0; i < 3; ++i)
    if (mx / s[i] == 1.0) axes.push_back(i);
  return axes;
}

bool Aniso(const Vec3& s, double thr) {
  return *std::max_element(s.begin(), s.end()) / *std::min_element(s.begin(), s.end()) > thr;
}

// For each output index: `taps` source indices and weights.
struct AxisTaps {
  int taps = 1;
  std::vector<int64_t> idx;
  std::vector<float> w;
};

float CubicBSpline(double x) {
  x = std::fabs(x);
  if (x < 1) return static_cast<float>(2.0 / 3.0 - x * x + 0.5 * x * x * x);
  if (x < 2) {
    const double t = 2 - x;
    return static_cast<float>(t * t * t / 6.0);
  }
  return 0.0f;
}

AxisTaps MakeTaps(int64_t n_in, int64_t n_out, Interp k) {
  AxisTaps t;
  t.taps = k == Interp::kNearest ? 1 : (k == Interp::kLinear ? 2 : 4);
  t.idx.resize(static_cast<size_t>(n_out * t.taps));
  t.w.resize(t.idx.size());
  const double scale = static_cast<double>(n_in) / static_cast<double>(n_out);
  auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), n_in - 1); };
  for (int64_t o = 0; o < n_out; ++o) {
    const double x = (static_cast<double>(o) + 0.5) * scale - 0.5;
    const size_t base = static_cast<size_t>(o * t.taps);
    if (k == Interp::kNearest) {
      t.idx[base] = clamp(static_cast<int64_t>(std::floor(x + 0.5)));
      t.w[base] = 1.0f;
    } else if (k == Interp::kLinear) {
      const double xc = std::min(std::max(x, 0.0), static_cast<double>(n_in - 1));
      const int64_t i0 = static_cast<int64_t>(std::floor(xc));
      const double f = xc - static_cast<double>(i0);
      t.idx[base] = clamp(i0);
      t.idx[base + 1] = clamp(i0 + 1);
      t.w[base] = static_cast<float>(1 - f);
      t.w[base + 1] = static_cast<float>(f);
    } else {
      const double xc = std::min(std::max(x, 0.0), static_cast<double>(n_in - 1));
      const int64_t i0 = static_cast<int64_t>(std::floor(xc)) - 1;
      for (int j = 0; j < 4; ++j) {
        t.idx[base + j] = clamp(i0 + j);
        t.w[base + j] = CubicBSpline(xc - static_cast<double>(i0 + j));
      }
    }
  }
  return t;
}

// View of a volume as [outer, n, inner] around `axis`.
struct AxisView {
  int64_t outer, n, inner;
};
AxisView ViewOf(const Shape3& s, int axis) {
  AxisView v{1, s[axis], 1};
  for (int i = 0; i < axis; ++i) v.outer *= s[i];
  for (int i = axis + 1; i < 3; ++i) v.inner *= s[i];
  return v;
}

// In-place conversion of samples to cubic B-spline coefficients along one
// axis (Unser's recursive filter, mirror boundaries). Works on whole rows
// of `inner` contiguous values at a time.
void PrefilterAxis(std::vector<float>* data, const Shape3& s, int axis, int threads) {
  const AxisView v = ViewOf(s, axis);
  if (v.n < 2) return;
  const double z = std::sqrt(3.0) - 2.0;
  const float zf = static_cast<float>(z);
  const int64_t horizon = std::min<int64_t>(v.n, static_cast<int64_t>(std::ceil(std::log(1e-7) / std::log(std::fabs(z)))));
  const float anti = static_cast<float>(z / (z * z - 1.0));
  auto run = [&](int64_t o, int64_t i_begin, int64_t i_end) {
    float* base = data->data() + o * v.n * v.inner;
    auto row = [&](int64_t k) { return base + k * v.inner; };
    const int64_t len = i_end - i_begin;
    for (int64_t k = 0; k < v.n; ++k) {
      float* r = row(k) + i_begin;
      for (int64_t i = 0; i < len; ++i) r[i] *= 6.0f;
    }
    // Causal initialisation: c+[0] = sum_k z^k s[k].
    std::vector<float> init(static_cast<size_t>(len), 0.0f);
    float zk = 1.0f;
    for (int64_t k = 0; k < horizon; ++k, zk *= zf) {
      const float* r = row(k) + i_begin;
      for (int64_t i = 0; i < len; ++i) init[static_cast<size_t>(i)] += zk * r[i];
    }
    std::copy(init.begin(), init.end(), row(0) + i_begin);
    for (int64_t k = 1; k < v.n; ++k) {
      float* r = row(k) + i_begin;
      const float* p = row(k - 1) + i_begin;
      for (int64_t i = 0; i < len; ++i) r[i] += zf * p[i];
    }
    {
      float* last = row(v.n - 1) + i_begin;
      const float* prev = row(v.n - 2) + i_begin;
      for (int64_t i = 0; i < len; ++i) last[i] = anti * (last[i] + zf * prev[i]);
    }
    for (int64_t k = v.n - 2; k >= 0; --k) {
      float* r = row(k) + i_begin;
      const float* nx = row(k + 1) + i_begin;
      for (int64_t i = 0; i < len; ++i) r[i] = zf * (nx[i] - r[i]);
    }
  };
  if (v.outer >= ResolveThreads(threads)) {
    ParallelFor(v.outer, threads, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) run(o, 0, v.inner);
    });
  } else {
    for (int64_t o = 0; o < v.outer; ++o)
      ParallelFor(v.inner, threads, [&](int64_t b, int64_t e) { run(o, b, e); });
  }
}

// One separable pass along `axis`: out[outer][o][:] = sum_t w * load(in[outer][idx][:]).
template <typename T, typename Load>
std::vector<float> Pass(const T* in, const Shape3& s, int axis, int64_t n_out, const AxisTaps& taps, int threads,
                        Load load) {
  const AxisView v = ViewOf(s, axis);
  std::vector<float> out(static_cast<size_t>(v.outer * n_out * v.inner));
  auto run = [&](int64_t o_outer, int64_t ob, int64_t oe) {
    const T* src = in + o_outer * v.n * v.inner;
    float* dst = out.data() + o_outer * n_out * v.inner;
    for (int64_t o = ob; o < oe; ++o) {
      float* d = dst + o * v.inner;
      for (int t = 0; t < taps.taps; ++t) {
        const size_t k = static_cast<size_t>(o * taps.taps + t);
        const float w = taps.w[k];
        const T* r = src + taps.idx[k] * v.inner;
        if (t == 0) {
          for (int64_t i = 0; i < v.inner; ++i) d[i] = w * load(r[i]);
        } else if (w != 0.0f) {
          for (int64_t i = 0; i < v.inner; ++i) d[i] += w * load(r[i]);
        }
      }
    }
  };
  if (v.outer >= ResolveThreads(threads)) {
    ParallelFor(v.outer, threads, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) run(o, 0, n_out);
    });
  } else {
    for (int64_t o = 0; o < v.outer; ++o) ParallelFor(n_out, threads, [&](int64_t b, int64_t e) { run(o, b, e); });
  }
  return out;
}

// Axes that change size, the strongest reduction first (cheapest order).
std::vector<int> AxisOrder(const Shape3& in, const Shape3& out) {
  std::vector<int> axes;
  for (int i = 0; i < 3; ++i)
    if (in[i] != out[i]) axes.push_back(i);
  std::stable_sort(axes.begin(), axes.end(), [&](int a, int b) {
    return static_cast<double>(in[a]) / static_cast<double>(out[a]) >
           static_cast<double>(in[b]) / static_cast<double>(out[b]);
  });
  return axes;
}

}  // namespace

int SeparateZAxis(const Vec3& spacing, const Vec3& new_spacing, double thr) {
  std::vector<int> axes;
  if (Aniso(spacing, thr)) {
    axes = LowresAxes(spacing);
  } else if (Aniso(new_spacing, thr)) {
    axes = LowresAxes(new_spacing);
  }
  return axes.size() == 1 ? axes[0] : -1;
}

std::array<Interp, 3> AxisKernels(Interp kernel, int separate_axis) {
  std::array<Interp, 3> k{kernel, kernel, kernel};
  if (separate_axis >= 0) k[separate_axis] = Interp::kNearest;
  return k;
}

std::vector<float> ResampleImage(std::vector<float>&& in, const Shape3& in_shape, const Shape3& out_shape,
                                 const std::array<Interp, 3>& kernels, int threads) {
  std::vector<float> cur = std::move(in);
  Shape3 s = in_shape;
  for (int axis : AxisOrder(in_shape, out_shape)) {
    if (kernels[axis] == Interp::kBSpline3) PrefilterAxis(&cur, s, axis, threads);
    const AxisTaps taps = MakeTaps(s[axis], out_shape[axis], kernels[axis]);
    std::vector<float> next = Pass(cur.data(), s, axis, out_shape[axis], taps, threads, [](float x) { return x; });
    std::vector<float>().swap(cur);
    cur = std::move(next);
    s[axis] = out_shape[axis];
  }
  return cur;
}

std::vector<int8_t> ResampleLabels(const std::vector<int8_t>& in, const Shape3& in_shape, const Shape3& out_shape,
                                   const std::array<Interp, 3>& kernels, int threads) {
  const std::vector<int> axes = AxisOrder(in_shape, out_shape);
  if (axes.empty()) return in;
  const bool any_linear = std::any_of(axes.begin(), axes.end(), [&](int a) { return kernels[a] != Interp::kNearest; });
  std::vector<int8_t> out(static_cast<size_t>(data::NumVoxels(out_shape)), 0);
  if (!any_linear) {
    // Pure index mapping.
    AxisTaps t[3];
    for (int a = 0; a < 3; ++a) t[a] = MakeTaps(in_shape[a], out_shape[a], Interp::kNearest);
    ParallelFor(out_shape[0], threads, [&](int64_t b0, int64_t e0) {
      for (int64_t a = b0; a < e0; ++a)
        for (int64_t b = 0; b < out_shape[1]; ++b) {
          const int8_t* row = in.data() + (t[0].idx[a] * in_shape[1] + t[1].idx[b]) * in_shape[2];
          int8_t* dst = out.data() + (a * out_shape[1] + b) * out_shape[2];
          for (int64_t c = 0; c < out_shape[2]; ++c) dst[c] = row[t[2].idx[c]];
        }
    });
    return out;
  }
  std::set<int> labels(in.begin(), in.end());
  for (int label : labels) {
    Shape3 s = in_shape;
    std::vector<float> cur;
    bool first = true;
    for (int axis : axes) {
      const Interp k = kernels[axis] == Interp::kNearest ? Interp::kNearest : Interp::kLinear;
      const AxisTaps taps = MakeTaps(s[axis], out_shape[axis], k);
      std::vector<float> next =
          first ? Pass(in.data(), s, axis, out_shape[axis], taps, threads,
                       [label](int8_t x) { return x == label ? 1.0f : 0.0f; })
                : Pass(cur.data(), s, axis, out_shape[axis], taps, threads, [](float x) { return x; });
      first = false;
      cur = std::move(next);
      s[axis] = out_shape[axis];
    }
    for (size_t i = 0; i < out.size(); ++i)
      if (cur[i] >= 0.5f) out[i] = static_cast<int8_t>(label);
  }
  return out;
}

}  // namespace nephron::preprocess
