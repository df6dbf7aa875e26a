// nnU-Net's training augmentation as batched tensor operations that run on
// whatever device the batch lives on (CPU or CUDA).
//
// Input: a batch cut LARGER than the final patch (see EnlargedPatchSize), so
// that rotation and scaling sample real image content instead of padding.
// Output: final-size image and labels. Spatial transforms move image and
// labels together (one affine grid for both; labels by nearest neighbour);
// samples whose spatial transform does not fire are centre-cropped exactly.
//
// Transforms, probabilities and ranges follow REFERENCE.md (nnU-Net v2's
// get_training_transforms) and are fields of AugmentOptions. Every random
// draw comes from `seed`, so a batch is reproducible on the CPU.
// Thread-safe: no shared state (each call uses its own generators).
// Depends on LibTorch only.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace nephron::train {

struct Range {
  double lo, hi;
};

struct AugmentOptions {
  std::array<int64_t, 3> patch_size{64, 64, 64};  // final patch (network order)
  double p_rotation = 0.2;
  Range rotation_degrees{-30, 30};  // per axis
  double p_scaling = 0.2;
  Range scaling{0.7, 1.4};          // same factor on all axes; > 1 zooms in
  double p_noise = 0.1;
  Range noise_variance{0.0, 0.1};
  double p_blur = 0.2;
  double p_blur_per_channel = 0.5;
  Range blur_sigma{0.5, 1.0};
  double p_brightness = 0.15;
  Range brightness{0.75, 1.25};
  double p_contrast = 0.15;
  Range contrast{0.75, 1.25};
  double p_low_res = 0.25;
  double p_low_res_per_channel = 0.5;
  Range low_res_zoom{0.5, 1.0};
  double p_gamma_inverted = 0.1;
  double p_gamma = 0.3;
  Range gamma{0.7, 1.5};
  double p_mirror_per_axis = 0.5;
  bool enabled = true;  // false: only the exact centre crop
  // On the CPU the spatial transform uses a fused sampler (trilinear image +
  // nearest labels, coordinates computed on the fly); true forces LibTorch's
  // affine grid + grid_sample there too (the path CUDA always takes).
  bool cpu_grid_sample = false;
};

// The cut size that lets any rotation (within rotation_degrees about every
// axis) and any scaling (down to scaling.lo) of the final patch stay inside it.
// Axes of size 1 stay 1.
std::array<int64_t, 3> EnlargedPatchSize(const AugmentOptions& o);

struct AugmentedBatch {
  torch::Tensor image;  // [B, 1, D, H, W] float
  torch::Tensor seg;    // [B, 1, D, H, W] int64, values as in the input (-1 kept)
};

// image: [B, 1, d, h, w] float; seg: [B, 1, d, h, w] integer (any int dtype);
// d, h, w >= patch_size. Both on the same device.
AugmentedBatch Augment(const torch::Tensor& image, const torch::Tensor& seg, const AugmentOptions& o, uint64_t seed);

// Resizes [B, C, D, H, W] to `size` like F::interpolate with mode nearest
// (src = floor(dst * in / out)) or trilinear (align_corners = false). On the
// CPU it runs as three separable passes over std::threads (LibTorch 1.13's
// 3-D trilinear kernel is several times slower); elsewhere it calls
// F::interpolate.
torch::Tensor ResizeVolume(const torch::Tensor& v, const std::array<int64_t, 3>& size, bool linear);

// Exact centre crop to `size` (no augmentation).
torch::Tensor CenterCrop(const torch::Tensor& t, const std::array<int64_t, 3>& size);

}  // namespace nephron::train
