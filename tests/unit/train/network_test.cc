#include "jobs/train/network.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nephron::train {
namespace {

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(2); }
};

// nnU-Net v2 builds 16,548,076 parameters (16.55 M) for this config: encoder
// 8,493,600 (two conv+bias+affine-norm per stage), decoder 8,053,024
// (transposed conv + two convs per stage), heads 1,452.
TEST_F(NetworkTest, ReferenceSmallConfigHasNnunetsParameterCount) {
  PlainConvUNet net(UNetConfig::ReferenceSmall());
  EXPECT_EQ(CountParameters(*net), 16548076);
}

TEST_F(NetworkTest, OutputsOfEveryHeadHighestResolutionFirst) {
  UNetConfig c = UNetConfig::ReferenceSmall();
  c.features = {4, 8, 16, 32, 32};
  PlainConvUNet net(c);
  const auto outs = net->forward(torch::randn({1, 1, 32, 32, 32}));
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[0].sizes(), (std::vector<int64_t>{1, 3, 32, 32, 32}));
  EXPECT_EQ(outs[1].sizes(), (std::vector<int64_t>{1, 3, 16, 16, 16}));
  EXPECT_EQ(outs[3].sizes(), (std::vector<int64_t>{1, 3, 4, 4, 4}));
  net->set_deep_supervision(false);
  EXPECT_EQ(net->forward(torch::randn({1, 1, 32, 32, 32})).size(), 1u);
}

TEST_F(NetworkTest, AnisotropicPoolingWithStridedConvAndMaxPool) {
  UNetConfig c;
  c.features = {4, 8, 16, 16};
  c.kernel_sizes = {{1, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}};
  c.strides = {{1, 1, 1}, {1, 2, 2}, {2, 2, 2}, {1, 2, 2}};
  for (bool maxpool : {false, true}) {
    c.maxpool = maxpool;
    PlainConvUNet net(c);
    const auto outs = net->forward(torch::randn({2, 1, 8, 32, 32}));
    ASSERT_EQ(outs.size(), 3u);
    EXPECT_EQ(outs[0].sizes(), (std::vector<int64_t>{2, 3, 8, 32, 32}));
    EXPECT_EQ(outs[1].sizes(), (std::vector<int64_t>{2, 3, 8, 16, 16}));
    EXPECT_EQ(outs[2].sizes(), (std::vector<int64_t>{2, 3, 4, 8, 8}));
    bool has_pool = false;
    for (const auto& m : net->modules()) has_pool |= m->as<torch::nn::MaxPool3d>() != nullptr;
    EXPECT_EQ(has_pool, maxpool);
  }
  const auto scales = DeepSupervisionScales(c);
  ASSERT_EQ(scales.size(), 3u);
  EXPECT_EQ(scales[1], (std::array<int, 3>{1, 2, 2}));
  EXPECT_EQ(scales[2], (std::array<int, 3>{2, 4, 4}));
}

TEST_F(NetworkTest, HeInitialisation) {
  torch::manual_seed(0);
  UNetConfig c = UNetConfig::ReferenceSmall();
  PlainConvUNet net(c);
  InitHe(*net);
  // The 3x3x3 conv 256 -> 320 of stage 4: std = sqrt(2 / (1 + 0.01^2)) / sqrt(256 * 27).
  torch::Tensor w = net->named_parameters()["encoder4.convs.0.weight"];
  const double expected = std::sqrt(2.0 / (1.0 + 1e-4)) / std::sqrt(256.0 * 27.0);
  EXPECT_NEAR(w.std().item<double>(), expected, 0.02 * expected);
  EXPECT_EQ(net->named_parameters()["encoder4.convs.0.bias"].abs().sum().item<double>(), 0.0);
}

TEST_F(NetworkTest, InvalidConfigIsRejected) {
  UNetConfig c = UNetConfig::ReferenceSmall();
  c.strides.pop_back();
  EXPECT_NE(c.Validate(), "");
  EXPECT_THROW(PlainConvUNet{c}, c10::Error);
}

}  // namespace
}  // namespace nephron::train
