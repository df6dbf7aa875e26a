// nnU-Net's training loss: soft Dice (smooth 1e-5, background excluded,
// batch Dice optional) + cross-entropy, weights 1:1, summed over the
// deep-supervision outputs with weights 1/2^i (lowest set to 0, normalised).
// Voxels labelled `ignore_label` (-1: outside the body mask) count in neither
// term. Depends on LibTorch only.
#pragma once

#include <torch/torch.h>

#include <array>
#include <vector>

namespace nephron::train {

struct LossOptions {
  double smooth = 1e-5;
  bool batch_dice = true;
  bool do_bg = false;
  int64_t ignore_label = -1;
  double weight_ce = 1.0;
  double weight_dice = 1.0;
};

// Negative mean soft Dice over the (foreground) classes.
// logits [B, C, ...]; target [B, 1, ...] int64 with values in [0, C) or ignore.
torch::Tensor SoftDiceLoss(const torch::Tensor& logits, const torch::Tensor& target, const LossOptions& o);
// Cross-entropy averaged over non-ignored voxels (0 if there are none).
torch::Tensor CrossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& target, const LossOptions& o);
torch::Tensor DcAndCeLoss(const torch::Tensor& logits, const torch::Tensor& target, const LossOptions& o);

// 1/2^i for i < n, the last set to 0, normalised to sum 1 (n = 1 gives {1}).
std::vector<double> DeepSupervisionWeights(int n);

// Nearest-neighbour downsampling of the target to each output's scale
// (scale 1 returns the target itself).
std::vector<torch::Tensor> DownsampleTargets(const torch::Tensor& target, const std::vector<std::array<int, 3>>& scales);

torch::Tensor DeepSupervisionLoss(const std::vector<torch::Tensor>& outputs, const std::vector<torch::Tensor>& targets,
                                  const std::vector<double>& weights, const LossOptions& o);

// Poly learning rate: lr0 * (1 - epoch / max_epochs)^0.9.
double PolyLearningRate(double initial_lr, int epoch, int max_epochs);

}  // namespace nephron::train
