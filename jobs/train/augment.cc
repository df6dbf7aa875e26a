#include "jobs/train/augment.h"

#include "jobs/train/cpu_kernels.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace nephron::train {

namespace {

namespace F = torch::nn::functional;

using Mat3 = std::array<std::array<double, 3>, 3>;

constexpr double kPi = 3.14159265358979323846;

// Our own mapping rather than std::uniform_real_distribution, whose algorithm
// the standard leaves to the library: a seed must give the same batch on every
// build (the CPU trainer and the GPU machine use different toolchains).
double Uniform(std::mt19937_64& rng, double lo, double hi) {
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1)
  return lo + (hi - lo) * u;
}

bool Fires(std::mt19937_64& rng, double p) { return Uniform(rng, 0, 1) < p; }

// batchgenerators' BGContrast: half of the draws below 1 and half above, so
// that darkening and brightening are equally likely although the range is
// asymmetric around 1.
double BgContrastFactor(std::mt19937_64& rng, const Range& r) {
  if (Uniform(rng, 0, 1) < 0.5 && r.lo < 1) return Uniform(rng, r.lo, 1);
  return Uniform(rng, std::max(r.lo, 1.0), r.hi);
}

Mat3 MatMul(const Mat3& a, const Mat3& b) {
  Mat3 c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[i][j] += a[i][k] * b[k][j];
  return c;
}

// Rotation about tensor axis `axis` (0 = D, 1 = H, 2 = W) in voxel space.
Mat3 AxisRotation(int axis, double radians) {
  const double c = std::cos(radians), s = std::sin(radians);
  const int a = (axis + 1) % 3, b = (axis + 2) % 3;  // the plane it turns
  Mat3 m{};
  m[axis][axis] = 1;
  m[a][a] = c;
  m[a][b] = -s;
  m[b][a] = s;
  m[b][b] = c;
  return m;
}

// R = R0(a0) R1(a1) R2(a2). A rotation about axis j would tip a patch axis of
// size 1 (a 2-D patch) out of its plane, so it is dropped when another axis
// has size 1. EnlargedPatchSize and Augment both build R here so the cut
// always covers what is sampled.
Mat3 Rotation(const std::array<double, 3>& radians, const std::array<int64_t, 3>& patch) {
  Mat3 r = AxisRotation(0, 0);
  for (int j = 0; j < 3; ++j) {
    bool flat_other = false;
    for (int k = 0; k < 3; ++k) flat_other = flat_other || (k != j && patch[k] == 1);
    if (!flat_other) r = MatMul(r, AxisRotation(j, radians[j]));
  }
  return r;
}

// Maps an output voxel's offset from the patch centre to an input offset.
// A scale > 1 shrinks the sampled region (zoom in); flat axes are not scaled.
Mat3 SpatialMatrix(const std::array<double, 3>& radians, double scale, const std::array<int64_t, 3>& patch) {
  Mat3 m = Rotation(radians, patch);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (patch[j] != 1) m[i][j] /= scale;
  return m;
}

bool IsIdentity(const Mat3& m) {
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (m[i][j] != (i == j ? 1.0 : 0.0)) return false;
  return true;
}

std::vector<double> AngleGrid(const AugmentOptions& o) {
  std::vector<double> deg{0};
  if (o.p_rotation <= 0) return deg;
  // Not only {lo, 0, hi}: composed rotations reach their widest bounding box
  // between the extremes (for ±30° on a 64^3 patch about 0.5 % wider).
  constexpr int kSteps = 12;
  for (int i = 0; i <= kSteps; ++i) deg.push_back(o.rotation_degrees.lo + (o.rotation_degrees.hi - o.rotation_degrees.lo) * i / kSteps);
  for (double& d : deg) d *= kPi / 180;
  return deg;
}

// The affine map as theta in affine_grid's convention: normalized output
// coordinates -> normalized input coordinates, (x, y, z) = (W, H, D) order,
// align_corners=false. Going through voxel units keeps M a true rotation when
// the input is not a cube. `centre` is the input voxel position that the
// output centre maps to.
std::array<double, 12> Theta(const Mat3& m, const std::array<int64_t, 3>& in, const std::array<double, 3>& centre,
                             const std::array<int64_t, 3>& out) {
  std::array<double, 12> theta{};
  for (int r = 0; r < 3; ++r) {
    const int i = 2 - r;
    const auto n_in = static_cast<double>(in[i]);
    for (int c = 0; c < 3; ++c) theta[static_cast<size_t>(r * 4 + c)] = m[i][2 - c] * static_cast<double>(out[2 - c]) / n_in;
    theta[static_cast<size_t>(r * 4 + 3)] = (2 * centre[i] + 1 - n_in) / n_in;
  }
  return theta;
}

// affine_grid for one sample, built from three broadcast 1-D ramps instead of
// a [D*H*W, 4] x [4, 3] product: same values, a third of the time on the CPU.
torch::Tensor AffineGrid(const std::array<double, 12>& theta, const std::array<int64_t, 3>& out, const torch::Device& device) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(device);
  std::vector<float> t(theta.begin(), theta.end());
  const torch::Tensor columns = torch::tensor(t, torch::kFloat).view({3, 4}).t().to(device);  // rows: x, y, z, 1
  auto ramp = [&](int64_t n) { return (torch::arange(n, options) * 2 + 1) / static_cast<double>(n) - 1; };
  const torch::Tensor gz = ramp(out[0]).view({-1, 1, 1, 1}) * columns[2].view({1, 1, 1, 3});
  const torch::Tensor gy = ramp(out[1]).view({1, -1, 1, 1}) * columns[1].view({1, 1, 1, 3});
  const torch::Tensor gx = ramp(out[2]).view({1, 1, -1, 1}) * columns[0].view({1, 1, 1, 3});
  return ((gz + gy + columns[3].view({1, 1, 1, 3})) + gx).unsqueeze(0);
}

std::array<int64_t, 3> SpatialSize(const torch::Tensor& t) { return {t.size(-3), t.size(-2), t.size(-1)}; }

// Border padding only matters if the cut was smaller than EnlargedPatchSize.
torch::Tensor GridSample(const torch::Tensor& v, const torch::Tensor& grid, bool nearest) {
  auto opts = F::GridSampleFuncOptions().padding_mode(torch::kBorder).align_corners(false);
  return F::grid_sample(v, grid, nearest ? opts.mode(torch::kNearest) : opts.mode(torch::kBilinear));
}

// Resamples sample `b` through M into out.image[b] / out.seg[b]. The rotation
// centre is the centre of the exact centre crop (offset (in - out) / 2), so
// M = I would reproduce CenterCrop even where in - out is odd. Only the box
// that M actually reaches is read (and converted to float for the labels),
// which is usually far smaller than the worst-case enlarged cut.
void Resample(const torch::Tensor& image, const torch::Tensor& seg, int64_t b, const Mat3& m, const std::array<int64_t, 3>& patch,
              bool grid_sample_on_cpu, AugmentedBatch& out) {
  const auto in = SpatialSize(image);
  std::array<int64_t, 3> box{};
  std::array<double, 3> centre{};
  torch::Tensor img = image.slice(0, b, b + 1), lab = seg.slice(0, b, b + 1);
  for (int i = 0; i < 3; ++i) {
    const double c = static_cast<double>(patch[i] - 1) / 2 + static_cast<double>((in[i] - patch[i]) / 2);
    double half = 0;  // half extent of the sampled voxel centres
    for (int j = 0; j < 3; ++j) half += std::abs(m[i][j]) * static_cast<double>(patch[j] - 1) / 2;
    const auto lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(c - half)) - 1);
    const auto hi = std::min<int64_t>(in[i] - 1, static_cast<int64_t>(std::ceil(c + half)) + 1);
    img = img.slice(i + 2, lo, hi + 1);
    lab = lab.slice(i + 2, lo, hi + 1);
    box[i] = hi - lo + 1;
    centre[i] = c - static_cast<double>(lo);
  }
  if (image.device().is_cpu() && !grid_sample_on_cpu) {
    // Read the box in place (strided) when the dtypes already fit.
    const torch::Tensor bi = img.scalar_type() == torch::kFloat ? img : img.to(torch::kFloat);
    const torch::Tensor bl = lab.scalar_type() == torch::kChar ? lab : lab.to(torch::kChar);
    torch::Tensor oi = torch::empty({patch[0], patch[1], patch[2]}, torch::kFloat);
    torch::Tensor ol = torch::empty({patch[0], patch[1], patch[2]}, torch::kChar);
    cpu::AffineSample(bi.data_ptr<float>(), {bi.stride(2), bi.stride(3), bi.stride(4)}, bl.data_ptr<int8_t>(),
                   {bl.stride(2), bl.stride(3), bl.stride(4)}, box, m, centre, patch, oi.data_ptr<float>(), ol.data_ptr<int8_t>());
    out.image.slice(0, b, b + 1).copy_(oi.view({1, 1, patch[0], patch[1], patch[2]}));
    out.seg.slice(0, b, b + 1).copy_(ol.view({1, 1, patch[0], patch[1], patch[2]}));
    return;
  }
  const torch::Tensor grid = AffineGrid(Theta(m, box, centre, patch), patch, image.device());
  out.image.slice(0, b, b + 1).copy_(GridSample(img.to(torch::kFloat), grid, false));
  out.seg.slice(0, b, b + 1).copy_(GridSample(lab.to(torch::kFloat), grid, true).round());
}

// Rotation and scaling: one affine map per firing sample, shared by image
// (bilinear) and labels (nearest); every other sample is the exact centre
// crop. Each firing sample reads its own box, hence the loop.
AugmentedBatch Spatial(const torch::Tensor& image, const torch::Tensor& seg, const AugmentOptions& o, std::mt19937_64& rng) {
  AugmentedBatch out{CenterCrop(image, o.patch_size).to(torch::kFloat).clone(), CenterCrop(seg, o.patch_size).clone()};
  for (int64_t b = 0; b < image.size(0); ++b) {
    const bool rotate = Fires(rng, o.p_rotation);
    std::array<double, 3> radians{};
    for (double& a : radians) a = Uniform(rng, o.rotation_degrees.lo, o.rotation_degrees.hi) * kPi / 180;
    const bool scale = Fires(rng, o.p_scaling);
    const double factor = Uniform(rng, o.scaling.lo, o.scaling.hi);
    if (!rotate && !scale) continue;
    const Mat3 m = SpatialMatrix(rotate ? radians : std::array<double, 3>{}, scale ? factor : 1.0, o.patch_size);
    if (!IsIdentity(m)) Resample(image, seg, b, m, o.patch_size, o.cpu_grid_sample, out);  // the crop is exact, a grid only nearly
  }
  return out;
}

std::vector<int64_t> FiringIndex(const std::vector<float>& fire) {
  std::vector<int64_t> idx;
  for (size_t b = 0; b < fire.size(); ++b)
    if (fire[b] > 0.5f) idx.push_back(static_cast<int64_t>(b));
  return idx;
}

// Per-sample parameters of the firing samples as a [K,1,1,1,1] tensor.
torch::Tensor Gather(const std::vector<float>& v, const std::vector<int64_t>& idx, const torch::Device& device) {
  std::vector<float> picked;
  for (int64_t b : idx) picked.push_back(v[static_cast<size_t>(b)]);
  return torch::tensor(picked, torch::kFloat).view({static_cast<int64_t>(idx.size()), 1, 1, 1, 1}).to(device);
}

// Runs f(samples, idx) once on all firing samples together and writes them
// back into x (owned by the pipeline). Samples that do not fire stay bit for
// bit and cost nothing: with batch 2 and p ~ 0.2, usually one sample fires,
// so this halves the work of a where() over the whole batch.
template <class Fn>
torch::Tensor OnFiring(torch::Tensor x, const std::vector<float>& fire, Fn f) {
  const std::vector<int64_t> idx = FiringIndex(fire);
  if (idx.empty()) return x;
  if (static_cast<int64_t>(idx.size()) == x.size(0)) return f(x, idx);
  const torch::Tensor index = torch::tensor(idx, torch::kLong).to(x.device());
  return x.index_copy_(0, index, f(x.index_select(0, index), idx));
}

torch::Tensor Noise(torch::Tensor x, const AugmentOptions& o, std::mt19937_64& rng) {
  std::vector<float> fire, std_dev;
  for (int64_t b = 0; b < x.size(0); ++b) {
    fire.push_back(Fires(rng, o.p_noise) ? 1.0f : 0.0f);
    std_dev.push_back(static_cast<float>(std::sqrt(Uniform(rng, o.noise_variance.lo, o.noise_variance.hi))));
  }
  const uint64_t noise_seed = rng();
  return OnFiring(std::move(x), fire, [&](const torch::Tensor& v, const std::vector<int64_t>& idx) {
    const torch::Tensor noise = v.device().is_cpu() ? torch::randn(v.sizes(), at::detail::createCPUGenerator(noise_seed), v.options())
                                                    : torch::randn(v.sizes(), v.options());  // determinism is a CPU promise only
    return v + noise * Gather(std_dev, idx, v.device());
  });
}

// Separable Gaussian along one spatial axis, truncated at 3 sigma; reflect
// padding keeps the size (replicate where the axis is too short to reflect).
std::vector<float> GaussianWeights(double sigma, int64_t* radius) {
  *radius = std::max<int64_t>(1, static_cast<int64_t>(3 * sigma + 0.5));
  std::vector<float> weights;
  double sum = 0;
  for (int64_t i = -*radius; i <= *radius; ++i) sum += std::exp(-0.5 * static_cast<double>(i * i) / (sigma * sigma));
  for (int64_t i = -*radius; i <= *radius; ++i)
    weights.push_back(static_cast<float>(std::exp(-0.5 * static_cast<double>(i * i) / (sigma * sigma)) / sum));
  return weights;
}

torch::Tensor Blur1d(const torch::Tensor& v, double sigma, int axis) {
  const int64_t size = v.size(axis + 2);
  if (size == 1) return v;
  int64_t radius = 0;
  const std::vector<float> weights = GaussianWeights(sigma, &radius);
  if (v.device().is_cpu()) {
    torch::Tensor c = v.to(torch::kFloat).contiguous().clone();
    cpu::GaussianBlurAxis(c.data_ptr<float>(), {v.size(2), v.size(3), v.size(4)}, axis, weights, radius);
    return c;
  }
  std::vector<int64_t> shape{1, 1, 1, 1, 1};
  shape[static_cast<size_t>(axis + 2)] = 2 * radius + 1;
  const torch::Tensor kernel = torch::tensor(weights, torch::kFloat).view(shape).to(v.device());
  std::vector<int64_t> pad(6, 0);  // F::pad lists the last axis first
  pad[static_cast<size_t>(2 * (2 - axis))] = radius;
  pad[static_cast<size_t>(2 * (2 - axis) + 1)] = radius;
  const auto mode = radius < size ? F::PadFuncOptions::mode_t(torch::kReflect) : F::PadFuncOptions::mode_t(torch::kReplicate);
  return F::conv3d(F::pad(v, F::PadFuncOptions(pad).mode(mode)), kernel);
}

// Blur and low resolution differ in kernel or size per sample, so they loop,
// but only over the samples (and channels) that fire.
torch::Tensor Blur(torch::Tensor x, const AugmentOptions& o, std::mt19937_64& rng) {
  for (int64_t b = 0; b < x.size(0); ++b) {
    const bool fire = Fires(rng, o.p_blur);
    for (int64_t c = 0; c < x.size(1); ++c) {
      const bool channel = Fires(rng, o.p_blur_per_channel);
      std::array<double, 3> sigma{};  // per axis, as nnU-Net v2 (synchronize_axes=False)
      for (double& s : sigma) s = Uniform(rng, o.blur_sigma.lo, o.blur_sigma.hi);
      if (!fire || !channel) continue;
      torch::Tensor v = x.slice(0, b, b + 1).slice(1, c, c + 1);
      for (int axis = 0; axis < 3; ++axis) v = Blur1d(v, sigma[static_cast<size_t>(axis)], axis);
      x.slice(0, b, b + 1).slice(1, c, c + 1).copy_(v);
    }
  }
  return x;
}

torch::Tensor Brightness(torch::Tensor x, const AugmentOptions& o, std::mt19937_64& rng) {
  std::vector<float> fire, factor;
  for (int64_t b = 0; b < x.size(0); ++b) {
    fire.push_back(Fires(rng, o.p_brightness) ? 1.0f : 0.0f);
    factor.push_back(static_cast<float>(BgContrastFactor(rng, o.brightness)));
  }
  return OnFiring(std::move(x), fire, [&](const torch::Tensor& v, const std::vector<int64_t>& idx) {
    return v * Gather(factor, idx, v.device());
  });
}

// Per-sample, per-channel min and max in one pass.
std::tuple<torch::Tensor, torch::Tensor> MinMax(const torch::Tensor& v) {
  auto [lo, hi] = torch::aminmax(v.flatten(2), 2, true);
  return {lo.unsqueeze(-1).unsqueeze(-1), hi.unsqueeze(-1).unsqueeze(-1)};
}

constexpr std::array<int64_t, 3> kSpatialDims{2, 3, 4};

// torch::std_mean runs a single-threaded Welford pass on the CPU (13 ms for
// 2 x 128^3); two vectorised passes give the same unbiased std much faster.
std::tuple<torch::Tensor, torch::Tensor> StdMean(const torch::Tensor& v) {
  const torch::Tensor mean = v.mean(kSpatialDims, true);
  const double n = static_cast<double>(v.size(2) * v.size(3) * v.size(4));
  const torch::Tensor var = (v - mean).square_().sum(kSpatialDims, true) / std::max(1.0, n - 1);
  return {var.sqrt_(), mean};
}

torch::Tensor Contrast(torch::Tensor x, const AugmentOptions& o, std::mt19937_64& rng) {
  std::vector<float> fire, factor;
  for (int64_t b = 0; b < x.size(0); ++b) {
    fire.push_back(Fires(rng, o.p_contrast) ? 1.0f : 0.0f);
    factor.push_back(static_cast<float>(BgContrastFactor(rng, o.contrast)));
  }
  return OnFiring(std::move(x), fire, [&](const torch::Tensor& v, const std::vector<int64_t>& idx) {
    const torch::Tensor mean = v.mean(kSpatialDims, true);
    const auto [lo, hi] = MinMax(v);
    const torch::Tensor f = Gather(factor, idx, v.device());
    return torch::addcmul(mean * (1 - f), v, f).clamp_(lo, hi);  // (v - mean) * f + mean, range preserved
  });
}

}  // namespace

torch::Tensor ResizeVolume(const torch::Tensor& v, const std::array<int64_t, 3>& size, bool linear) {
  const std::vector<int64_t> sz(size.begin(), size.end());
  if (!v.device().is_cpu()) {
    auto opts = F::InterpolateFuncOptions().size(sz);
    return F::interpolate(v, linear ? opts.mode(torch::kTrilinear).align_corners(false) : opts.mode(torch::kNearest));
  }
  torch::Tensor cur = v.to(torch::kFloat).contiguous();
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t n = cur.size(axis + 2), m = size[static_cast<size_t>(axis)];
    if (n == m) continue;
    int64_t outer = cur.size(0) * cur.size(1), inner = 1;
    for (int a = 0; a < axis; ++a) outer *= cur.size(a + 2);
    for (int a = axis + 1; a < 3; ++a) inner *= cur.size(a + 2);
    std::vector<int64_t> shape = cur.sizes().vec();
    shape[static_cast<size_t>(axis + 2)] = m;
    torch::Tensor next = torch::empty(shape, cur.options());
    cpu::ResizeAxis(cur.data_ptr<float>(), next.data_ptr<float>(), outer, n, m, inner, linear);
    cur = next;
  }
  return cur;
}

namespace {

torch::Tensor LowResolution(torch::Tensor x, const AugmentOptions& o, std::mt19937_64& rng) {
  const std::vector<int64_t> shape{x.size(2), x.size(3), x.size(4)};
  for (int64_t b = 0; b < x.size(0); ++b) {
    const bool fire = Fires(rng, o.p_low_res);
    for (int64_t c = 0; c < x.size(1); ++c) {
      const bool channel = Fires(rng, o.p_low_res_per_channel);
      const double zoom = Uniform(rng, o.low_res_zoom.lo, o.low_res_zoom.hi);  // same on all axes (v2: synchronize_axes)
      if (!fire || !channel) continue;
      std::vector<int64_t> small;
      for (int64_t n : shape) small.push_back(std::max<int64_t>(1, std::llround(static_cast<double>(n) * zoom)));
      const torch::Tensor v = x.slice(0, b, b + 1).slice(1, c, c + 1);
      const torch::Tensor down = ResizeVolume(v, {small[0], small[1], small[2]}, false);
      v.copy_(ResizeVolume(down, {shape[0], shape[1], shape[2]}, true));
    }
  }
  return x;
}

// Gamma with statistics retained; `invert` applies it to -x (brightens dark
// structures instead of bright ones). With z = ((v - min) / range)^gamma the
// reference steps (rescale to [min, max], then restore mean and std) collapse
// into one affine map z * a + b per sample, which saves a third of the passes
// over the volume:
//   x' = (z - mean(z)) * sign * std(x) * range / (std(z) * range + 1e-8) + mean(x)
torch::Tensor Gamma(torch::Tensor x, double p, bool invert, const AugmentOptions& o, std::mt19937_64& rng) {
  std::vector<float> fire, gamma;
  for (int64_t b = 0; b < x.size(0); ++b) {
    fire.push_back(Fires(rng, p) ? 1.0f : 0.0f);
    gamma.push_back(static_cast<float>(BgContrastFactor(rng, o.gamma)));
  }
  return OnFiring(std::move(x), fire, [&](const torch::Tensor& v, const std::vector<int64_t>& idx) {
    const auto [std_dev, mean] = StdMean(v);
    const auto [lo, hi] = MinMax(v);
    const torch::Tensor range = hi - lo + 1e-7;
    // min(-v) = -max(v), so for the inverted case z = (v - max) * (-1 / range).
    torch::Tensor z = (v - (invert ? hi : lo)).mul_((invert ? -1.0 : 1.0) / range);
    // base >= 0 exactly: v - min never rounds below 0. A scalar exponent per
    // sample takes LibTorch's vectorised pow; a broadcast tensor exponent does not.
    for (size_t k = 0; k < idx.size(); ++k) z[static_cast<int64_t>(k)].pow_(gamma[static_cast<size_t>(idx[k])]);
    const auto [z_std, z_mean] = StdMean(z);
    const torch::Tensor a = (invert ? -1.0 : 1.0) * std_dev * range / (z_std * range + 1e-8);
    return torch::addcmul(mean - z_mean * a, z, a);
  });
}

// Samples are grouped by which axes they flip, so each group is one flip.
AugmentedBatch Mirror(AugmentedBatch in, const AugmentOptions& o, std::mt19937_64& rng) {
  std::vector<int> code;
  for (int64_t b = 0; b < in.image.size(0); ++b) {
    int c = 0;
    for (int axis = 0; axis < 3; ++axis) c |= Fires(rng, o.p_mirror_per_axis) ? 1 << axis : 0;
    code.push_back(c);
  }
  for (int c = 1; c < 8; ++c) {
    std::vector<float> group;
    for (int sample_code : code) group.push_back(sample_code == c ? 1.0f : 0.0f);
    std::vector<int64_t> axes;
    for (int axis = 0; axis < 3; ++axis)
      if (c & (1 << axis)) axes.push_back(axis + 2);
    const auto flip = [&](const torch::Tensor& v, const std::vector<int64_t>&) { return v.flip(axes); };
    in.image = OnFiring(std::move(in.image), group, flip);
    in.seg = OnFiring(std::move(in.seg), group, flip);
  }
  return in;
}

}  // namespace

std::array<int64_t, 3> EnlargedPatchSize(const AugmentOptions& o) {
  const auto& n = o.patch_size;
  if (!o.enabled) return n;
  const std::vector<double> angles = AngleGrid(o);
  std::array<double, 3> extent{};
  for (double a0 : angles)
    for (double a1 : angles)
      for (double a2 : angles) {
        const Mat3 r = Rotation({a0, a1, a2}, n);
        for (int i = 0; i < 3; ++i) {
          double e = 0;
          for (int j = 0; j < 3; ++j) e += std::abs(r[i][j]) * static_cast<double>(n[j]);
          extent[i] = std::max(extent[i], e);
        }
      }
  // Unscaled samples rotate too, so the widest view is at min(lo, 1).
  const double widest = o.p_scaling > 0 ? std::min({o.scaling.lo, o.scaling.hi, 1.0}) : 1.0;
  std::array<int64_t, 3> out{};
  for (int i = 0; i < 3; ++i) {
    // The tolerance keeps an exact 64 / 1.0 from rounding up to 65.
    const auto need = static_cast<int64_t>(std::ceil(extent[i] / widest - 1e-6));
    out[i] = n[i] == 1 ? 1 : std::max(n[i], need);
  }
  return out;
}

torch::Tensor CenterCrop(const torch::Tensor& t, const std::array<int64_t, 3>& size) {
  TORCH_CHECK(t.dim() >= 3, "CenterCrop needs at least 3 dimensions, got ", t.sizes());
  torch::Tensor out = t;
  for (int i = 0; i < 3; ++i) {
    const int64_t dim = t.dim() - 3 + i;
    const int64_t in = t.size(dim);
    TORCH_CHECK(in >= size[static_cast<size_t>(i)], "CenterCrop: axis ", i, " is ", in, ", smaller than ", size[static_cast<size_t>(i)]);
    const int64_t offset = (in - size[static_cast<size_t>(i)]) / 2;
    out = out.slice(dim, offset, offset + size[static_cast<size_t>(i)]);
  }
  return out;
}

AugmentedBatch Augment(const torch::Tensor& image, const torch::Tensor& seg, const AugmentOptions& o, uint64_t seed) {
  TORCH_CHECK(image.dim() == 5 && seg.dim() == 5, "Augment expects [B,C,D,H,W] image and seg, got ", image.sizes(), " and ", seg.sizes());
  TORCH_CHECK(image.size(0) == seg.size(0) && SpatialSize(image) == SpatialSize(seg), "Augment: image ", image.sizes(), " and seg ", seg.sizes(), " differ");
  TORCH_CHECK(image.device() == seg.device(), "Augment: image and seg are on different devices");
  if (!o.enabled) return {CenterCrop(image, o.patch_size).to(torch::kFloat).clone(), CenterCrop(seg, o.patch_size).to(torch::kLong).clone()};
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  AugmentedBatch out = Spatial(image, seg, o, rng);
  out.image = Noise(out.image, o, rng);
  out.image = Blur(out.image, o, rng);
  out.image = Brightness(out.image, o, rng);
  out.image = Contrast(out.image, o, rng);
  out.image = LowResolution(out.image, o, rng);
  out.image = Gamma(out.image, o.p_gamma_inverted, true, o, rng);
  out.image = Gamma(out.image, o.p_gamma, false, o, rng);
  out = Mirror(std::move(out), o, rng);
  out.seg = out.seg.to(torch::kLong);  // labels travel in their input dtype (int8 from the loader) until here
  return out;
}

}  // namespace nephron::train
