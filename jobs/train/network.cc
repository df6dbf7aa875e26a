#include "jobs/train/network.h"

#include <sstream>

namespace nephron::train {

namespace nn = torch::nn;

UNetConfig UNetConfig::ReferenceSmall() {
  UNetConfig c;
  c.features = {32, 64, 128, 256, 320};
  c.kernel_sizes.assign(5, {3, 3, 3});
  c.strides = {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}};
  return c;
}

std::string UNetConfig::Validate() const {
  std::ostringstream e;
  const size_t n = features.size();
  if (n < 1) e << "at least one stage is required; ";
  if (kernel_sizes.size() != n || strides.size() != n)
    e << "features (" << n << "), kernel_sizes (" << kernel_sizes.size() << ") and strides (" << strides.size()
      << ") must have one entry per stage; ";
  for (int f : features)
    if (f < 1) e << "features must be positive; ";
  for (const auto& k : kernel_sizes)
    for (int v : k)
      if (v < 1 || v % 2 == 0) e << "kernel sizes must be odd and positive; ";
  for (const auto& s : strides)
    for (int v : s)
      if (v < 1) e << "strides must be positive; ";
  if (in_channels < 1 || num_classes < 2) e << "need >= 1 input channel and >= 2 classes; ";
  return e.str();
}

namespace {
torch::ExpandingArray<3> E(const std::array<int, 3>& a) { return torch::ExpandingArray<3>({a[0], a[1], a[2]}); }
torch::ExpandingArray<3> Pad(const std::array<int, 3>& k) {
  return torch::ExpandingArray<3>({k[0] / 2, k[1] / 2, k[2] / 2});
}
}  // namespace

ConvBlocksImpl::ConvBlocksImpl(int n, int in, int out, std::array<int, 3> kernel, std::array<int, 3> first_stride) {
  for (int i = 0; i < n; ++i) {
    seq_->push_back(nn::Conv3d(nn::Conv3dOptions(i == 0 ? in : out, out, E(kernel))
                                   .stride(i == 0 ? E(first_stride) : E({1, 1, 1}))
                                   .padding(Pad(kernel))
                                   .bias(true)));
    seq_->push_back(nn::InstanceNorm3d(nn::InstanceNorm3dOptions(out).eps(1e-5).affine(true)));
    seq_->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(1e-2).inplace(true)));
  }
  register_module("convs", seq_);
}

torch::Tensor ConvBlocksImpl::forward(torch::Tensor x) { return seq_->forward(x); }

PlainConvUNetImpl::PlainConvUNetImpl(const UNetConfig& c) : config_(c) {
  const std::string err = c.Validate();
  TORCH_CHECK(err.empty(), "invalid UNetConfig: ", err);
  const int n = static_cast<int>(c.features.size());
  int in = c.in_channels;
  for (int s = 0; s < n; ++s) {
    const bool pool = c.maxpool && s > 0;
    if (pool) {
      pools_.push_back(register_module("pool" + std::to_string(s),
                                       nn::MaxPool3d(nn::MaxPool3dOptions(E(c.strides[s])).stride(E(c.strides[s])))));
    } else {
      pools_.push_back(nullptr);
    }
    encoder_.push_back(register_module(
        "encoder" + std::to_string(s),
        ConvBlocks(c.n_conv_per_stage, in, c.features[s], c.kernel_sizes[s], pool ? std::array<int, 3>{1, 1, 1} : c.strides[s])));
    in = c.features[s];
  }
  // Decoder stage d upsamples from stage n-1-d to stage n-2-d.
  for (int d = 0; d + 1 < n; ++d) {
    const int below = n - 1 - d, skip = n - 2 - d;
    up_.push_back(register_module(
        "up" + std::to_string(d),
        nn::ConvTranspose3d(nn::ConvTranspose3dOptions(c.features[below], c.features[skip], E(c.strides[below]))
                                .stride(E(c.strides[below]))
                                .bias(true))));
    decoder_.push_back(register_module("decoder" + std::to_string(d),
                                       ConvBlocks(c.n_conv_per_stage_decoder, 2 * c.features[skip], c.features[skip],
                                                  c.kernel_sizes[skip], std::array<int, 3>{1, 1, 1})));
    heads_.push_back(register_module(
        "seg" + std::to_string(d), nn::Conv3d(nn::Conv3dOptions(c.features[skip], c.num_classes, 1).bias(true))));
  }
}

std::vector<torch::Tensor> PlainConvUNetImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> skips;
  for (size_t s = 0; s < encoder_.size(); ++s) {
    if (pools_[s]) x = pools_[s]->forward(x);
    x = encoder_[s]->forward(x);
    skips.push_back(x);
  }
  std::vector<torch::Tensor> outs;
  x = skips.back();
  for (size_t d = 0; d < decoder_.size(); ++d) {
    x = up_[d]->forward(x);
    x = torch::cat({x, skips[skips.size() - 2 - d]}, 1);
    x = decoder_[d]->forward(x);
    if (config_.deep_supervision || d + 1 == decoder_.size()) outs.push_back(heads_[d]->forward(x));
  }
  if (decoder_.empty()) outs.push_back(x);
  std::reverse(outs.begin(), outs.end());
  return outs;
}

void InitHe(nn::Module& m) {
  torch::NoGradGuard guard;
  for (auto& mod : m.modules(/*include_self=*/true)) {
    if (auto* conv = mod->as<nn::Conv3d>()) {
      nn::init::kaiming_normal_(conv->weight, 1e-2);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* up = mod->as<nn::ConvTranspose3d>()) {
      nn::init::kaiming_normal_(up->weight, 1e-2);
      if (up->bias.defined()) nn::init::zeros_(up->bias);
    }
  }
}

int64_t CountParameters(const nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::vector<std::array<int, 3>> DeepSupervisionScales(const UNetConfig& c) {
  std::vector<std::array<int, 3>> scales;
  std::array<int, 3> f{1, 1, 1};
  for (size_t s = 0; s + 1 < c.strides.size(); ++s) {
    for (int a = 0; a < 3; ++a) f[a] *= c.strides[s][a];
    scales.push_back(f);
  }
  return scales;
}

}  // namespace nephron::train
