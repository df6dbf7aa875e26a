#include "jobs/train/augment_bench.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>

#include "jobs/train/augment.h"

namespace nephron::train {

namespace {

struct BenchBatch {
  torch::Tensor image, seg;
};

// A ball of label 1 in the middle (image brighter there) and label -1 on one
// face, so the label path carries real content and the ignore label. Labels
// are int8, as the patch loader delivers them.
BenchBatch MakeBatch(int batch, const std::array<int64_t, 3>& size, torch::Device device) {
  const auto options = torch::TensorOptions().device(device);
  const torch::Tensor d = torch::arange(size[0], options.dtype(torch::kFloat)).view({-1, 1, 1}) - static_cast<double>(size[0] - 1) / 2;
  const torch::Tensor h = torch::arange(size[1], options.dtype(torch::kFloat)).view({1, -1, 1}) - static_cast<double>(size[1] - 1) / 2;
  const torch::Tensor w = torch::arange(size[2], options.dtype(torch::kFloat)).view({1, 1, -1}) - static_cast<double>(size[2] - 1) / 2;
  const double radius = static_cast<double>(std::min({size[0], size[1], size[2]})) / 4;
  const torch::Tensor ball = (d * d + h * h + w * w) < radius * radius;
  torch::Tensor seg = ball.to(torch::kChar).expand({batch, 1, size[0], size[1], size[2]}).clone();
  seg.select(2, 0).fill_(-1);
  const torch::Tensor image = torch::randn({batch, 1, size[0], size[1], size[2]}, options.dtype(torch::kFloat)) + 2 * seg.clamp_min(0).to(torch::kFloat);
  return {image, seg};
}

void Sync(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double SecondsPerCall(const BenchBatch& b, const AugmentOptions& o, int iterations, torch::Device device) {
  Augment(b.image, b.seg, o, 12345);  // warm-up: allocator, kernels, thread pool
  Sync(device);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) Augment(b.image, b.seg, o, static_cast<uint64_t>(i));
  Sync(device);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / iterations;
}

}  // namespace

double BenchAugmentPatchesPerSecond(int batch, std::array<int64_t, 3> patch, int iterations, torch::Device device) {
  torch::NoGradGuard no_grad;
  AugmentOptions o;
  o.patch_size = patch;
  const BenchBatch b = MakeBatch(batch, EnlargedPatchSize(o), device);
  return batch / SecondsPerCall(b, o, iterations, device);
}

double BenchSpatialOnlySecondsPerPatch(int batch, std::array<int64_t, 3> patch, int iterations, torch::Device device) {
  torch::NoGradGuard no_grad;
  AugmentOptions o;
  o.patch_size = patch;
  o.p_rotation = o.p_scaling = 1;
  o.p_noise = o.p_blur = o.p_brightness = o.p_contrast = o.p_low_res = 0;
  o.p_gamma_inverted = o.p_gamma = o.p_mirror_per_axis = 0;
  const BenchBatch b = MakeBatch(batch, EnlargedPatchSize(o), device);
  return SecondsPerCall(b, o, iterations, device) / batch;
}

}  // namespace nephron::train
