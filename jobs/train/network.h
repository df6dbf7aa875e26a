// nnU-Net's PlainConvUNet (dynamic_network_architectures) in LibTorch.
//
// Encoder stage s: [max-pool by strides[s] when `maxpool`] then n_conv
// blocks of conv (kernel_sizes[s], bias) -> InstanceNorm (eps 1e-5, affine)
// -> LeakyReLU(0.01); without max-pooling the first conv of the stage is
// strided. Decoder: transposed conv (kernel = stride) up, concatenation with
// the skip, n_conv blocks, and a 1x1x1 segmentation head at every decoder
// scale (deep supervision). Forward returns the logits of every head,
// highest resolution first (only the first when deep supervision is off).
// Depends on LibTorch only.
#pragma once

#include <torch/torch.h>

#include <array>
#include <vector>

namespace nephron::train {

struct UNetConfig {
  int in_channels = 1;
  int num_classes = 3;
  std::vector<int> features;                      // per stage
  std::vector<std::array<int, 3>> kernel_sizes;   // per stage
  std::vector<std::array<int, 3>> strides;        // per stage; stage 0 is {1,1,1}
  int n_conv_per_stage = 2;
  int n_conv_per_stage_decoder = 2;
  bool maxpool = false;
  bool deep_supervision = true;

  // The reference small config: 5 stages, 32..320 features, strides 1,2,2,2,2, kernel 3.
  static UNetConfig ReferenceSmall();
  // Checks lengths and values; returns an empty string when valid.
  std::string Validate() const;
};

class ConvBlocksImpl : public torch::nn::Module {
 public:
  ConvBlocksImpl(int n, int in, int out, std::array<int, 3> kernel, std::array<int, 3> first_stride);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Sequential seq_;
};
TORCH_MODULE(ConvBlocks);

class PlainConvUNetImpl : public torch::nn::Module {
 public:
  explicit PlainConvUNetImpl(const UNetConfig& c);
  std::vector<torch::Tensor> forward(torch::Tensor x);
  const UNetConfig& config() const { return config_; }
  // Turns deep supervision outputs on or off (validation uses only the first).
  void set_deep_supervision(bool on) { config_.deep_supervision = on; }

 private:
  UNetConfig config_;
  std::vector<torch::nn::MaxPool3d> pools_;  // empty entries when not max-pooling
  std::vector<ConvBlocks> encoder_;
  std::vector<torch::nn::ConvTranspose3d> up_;
  std::vector<ConvBlocks> decoder_;
  std::vector<torch::nn::Conv3d> heads_;
};
TORCH_MODULE(PlainConvUNet);

// nnU-Net's InitWeights_He(1e-2): Kaiming normal (a = 0.01) for conv and
// transposed-conv weights, zero biases.
void InitHe(torch::nn::Module& m);
int64_t CountParameters(const torch::nn::Module& m);

// Downsampling factor of each deep-supervision output relative to the input
// (cumulative product of the strides), highest resolution first.
std::vector<std::array<int, 3>> DeepSupervisionScales(const UNetConfig& c);

}  // namespace nephron::train
