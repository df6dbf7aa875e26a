// Sliding-window prediction of one preprocessed case, as nnU-Net does it:
// tiles of the patch size start at evenly spaced positions (step 0.5 of the
// patch), each tile's output is weighted by a Gaussian importance map
// (sigma = patch / 8) and the weighted sum is divided by the summed weights.
// Test-time augmentation averages the softmax over all 2^k flip combinations
// of the mirror axes. Tiles and their mirrored copies are stacked into batches
// of `batch` for the network: one forward pass per batch, no per-tile
// overhead. Volumes smaller than the patch are zero-padded symmetrically
// (nnU-Net's pad_nd_image) and cropped back.
//
// Not thread-safe per network (LibTorch modules are not); reentrant otherwise.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/progress.h"
#include "common/status.h"

namespace nephron::infer {

// nnU-Net's compute_steps_for_sliding_window for one axis (size >= patch):
// n = ceil((size - patch) / (patch * step)) + 1 tiles, starts round(i * (size - patch) / (n - 1)).
std::vector<int64_t> TileStarts(int64_t size, int64_t patch, double step);

// Gaussian importance map of a patch, C order, maximum 1: a centred unit
// impulse filtered with scipy's gaussian_filter (sigma = patch * sigma_scale,
// truncate 4, constant border), so entries outside the kernel's support are 0
// there and are replaced by the smallest non-zero value here.
std::vector<float> GaussianImportance(const std::array<int64_t, 3>& patch, double sigma_scale = 1.0 / 8.0);

// [B, C, p0, p1, p2] -> logits [B, K, p0, p1, p2].
using NetworkFn = std::function<torch::Tensor(const torch::Tensor&)>;

struct SlidingWindowOptions {
  std::array<int64_t, 3> patch{};
  double step = 0.5;
  bool mirror = true;                    // test-time augmentation
  std::vector<int> mirror_axes{0, 1, 2};  // spatial axes
  int batch = 2;                         // network inputs per forward pass
  int num_outputs = 3;                   // K
  bool softmax = true;                   // aggregate softmax (false: raw network outputs)
  const ProgressSink* cancel = nullptr;  // polled between batches
};

// `image`: [C, a, b, c] on the network's device. Returns the aggregated
// [K, a, b, c] float tensor on the same device. Cancelled when `cancel` asks.
Result<torch::Tensor> PredictSlidingWindow(const NetworkFn& net, const torch::Tensor& image,
                                           const SlidingWindowOptions& o);

}  // namespace nephron::infer
