// Throughput measurements for Augment, for choosing where augmentation runs
// (CPU workers or the GPU) and for checking it keeps up with a training step.
// Each call builds its own random batch of EnlargedPatchSize (noise image, a
// labelled ball in the middle, an ignore label at one border) on `device`,
// makes one warm-up call, then times `iterations` calls with seeds 0, 1, ...
// so the mix of transforms that fire is the usual one.
// Depends on LibTorch only. Uses torch's thread pool as configured by the
// caller (torch::set_num_threads), so the number reflects that setting.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace nephron::train {

// Patches per second (batch * iterations / seconds) with the default options.
double BenchAugmentPatchesPerSecond(int batch, std::array<int64_t, 3> patch, int iterations, torch::Device device);

// Seconds per patch when rotation and scaling always fire and nothing else
// does: the cost of the affine grid-sample path alone.
double BenchSpatialOnlySecondsPerPatch(int batch, std::array<int64_t, 3> patch, int iterations, torch::Device device);

}  // namespace nephron::train
