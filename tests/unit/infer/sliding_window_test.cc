#include "jobs/infer/sliding_window.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nephron::infer {
namespace {

TEST(TileStartsTest, MatchesNnunetFormula) {
  // n = ceil((size - patch) / (patch * step)) + 1; starts = round(i * (size - patch) / (n - 1)), half to even.
  EXPECT_EQ(TileStarts(128, 64, 0.5), (std::vector<int64_t>{0, 32, 64}));
  EXPECT_EQ(TileStarts(64, 64, 0.5), (std::vector<int64_t>{0}));
  EXPECT_EQ(TileStarts(100, 64, 0.5), (std::vector<int64_t>{0, 18, 36}));
  EXPECT_EQ(TileStarts(101, 64, 0.5), (std::vector<int64_t>{0, 18, 37}));  // 18.5 rounds to 18 as in Python
  EXPECT_EQ(TileStarts(247, 160, 0.5), (std::vector<int64_t>{0, 44, 87}));  // 43.5 -> 44
  EXPECT_EQ(TileStarts(130, 64, 0.5), (std::vector<int64_t>{0, 22, 44, 66}));
  EXPECT_EQ(TileStarts(69, 64, 0.5), (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(TileStarts(128, 64, 1.0), (std::vector<int64_t>{0, 64}));
  EXPECT_EQ(TileStarts(200, 64, 0.25), (std::vector<int64_t>{0, 15, 30, 45, 60, 76, 91, 106, 121, 136}));
}

TEST(GaussianTest, MaximumOneAtTheCentreSymmetricAndPositive) {
  const std::array<int64_t, 3> p{16, 24, 32};
  const auto g = GaussianImportance(p);
  ASSERT_EQ(g.size(), 16u * 24u * 32u);
  auto at = [&](int64_t a, int64_t b, int64_t c) { return g[static_cast<size_t>((a * 24 + b) * 32 + c)]; };
  EXPECT_FLOAT_EQ(at(8, 12, 16), 1.0f);
  float max = 0, min = 2;
  for (float v : g) {
    max = std::max(max, v);
    min = std::min(min, v);
  }
  EXPECT_FLOAT_EQ(max, 1.0f);
  EXPECT_GT(min, 0.0f);
  // Symmetric about the centre index patch / 2; separable Gaussian with sigma = patch / 8.
  EXPECT_FLOAT_EQ(at(8 - 3, 12, 16), at(8 + 3, 12, 16));
  EXPECT_FLOAT_EQ(at(8, 12 - 5, 16 + 7), at(8, 12 + 5, 16 - 7));
  EXPECT_NEAR(at(8 + 2, 12, 16), std::exp(-0.5 * 4.0 / 4.0), 1e-6);    // sigma 2 along axis 0
  EXPECT_NEAR(at(8, 12, 16 + 4), std::exp(-0.5 * 16.0 / 16.0), 1e-6);  // sigma 4 along axis 2
}

TEST(GaussianTest, ZerosOutsideTheKernelSupportBecomeTheSmallestValue) {
  // sigma = 1, truncate 4: offsets beyond 4 are exactly 0 in scipy and are replaced.
  const auto g = GaussianImportance({16, 16, 16}, 1.0 / 16.0);
  auto at = [&](int64_t a, int64_t b, int64_t c) { return g[static_cast<size_t>((a * 16 + b) * 16 + c)]; };
  float min_inside = 2;
  for (int64_t a = 4; a <= 12; ++a)
    for (int64_t b = 4; b <= 12; ++b)
      for (int64_t c = 4; c <= 12; ++c) min_inside = std::min(min_inside, at(a, b, c));
  EXPECT_FLOAT_EQ(at(0, 0, 0), min_inside);
  EXPECT_FLOAT_EQ(at(8, 8, 0), min_inside);
  EXPECT_GT(at(8, 8, 4), at(8, 8, 3));
}

torch::Tensor Identity(const torch::Tensor& x) { return x.clone(); }

SlidingWindowOptions Options(std::array<int64_t, 3> patch, int k, bool mirror, bool softmax) {
  SlidingWindowOptions o;
  o.patch = patch;
  o.num_outputs = k;
  o.mirror = mirror;
  o.softmax = softmax;
  return o;
}

TEST(SlidingWindowTest, IdentityModelReproducesTheInput) {
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({3, 20, 37, 50});
  for (bool mirror : {false, true}) {
    auto out = PredictSlidingWindow(Identity, x, Options({16, 16, 32}, 3, mirror, false));
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_TRUE(torch::allclose(*out, x, 1e-5, 1e-5)) << "mirror " << mirror;
  }
  auto soft = PredictSlidingWindow(Identity, x, Options({16, 16, 32}, 3, true, true));
  ASSERT_TRUE(soft.ok());
  EXPECT_TRUE(torch::allclose(*soft, torch::softmax(x, 0), 1e-5, 1e-6));
}

TEST(SlidingWindowTest, VolumeSmallerThanThePatchIsPaddedAndCroppedBack) {
  torch::manual_seed(2);
  const torch::Tensor x = torch::randn({2, 5, 40, 9});
  std::vector<int64_t> seen;
  auto net = [&](const torch::Tensor& in) {
    seen = in.sizes().vec();
    return in.clone();
  };
  auto out = PredictSlidingWindow(net, x, Options({8, 16, 16}, 2, false, false));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->sizes().vec(), x.sizes().vec());
  EXPECT_EQ(std::vector<int64_t>(seen.begin() + 1, seen.end()), (std::vector<int64_t>{2, 8, 16, 16}));
  EXPECT_TRUE(torch::allclose(*out, x, 1e-5, 1e-5));
}

TEST(SlidingWindowTest, MirrorSymmetricModelIsUnchangedByTta) {
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({3, 12, 24, 24});
  // A 3x3x3 box filter commutes with every flip.
  auto symmetric = [](const torch::Tensor& in) {
    return torch::avg_pool3d(in, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, false, true);
  };
  auto plain = PredictSlidingWindow(symmetric, x, Options({8, 16, 16}, 3, false, true));
  auto tta = PredictSlidingWindow(symmetric, x, Options({8, 16, 16}, 3, true, true));
  ASSERT_TRUE(plain.ok() && tta.ok());
  EXPECT_TRUE(torch::allclose(*plain, *tta, 1e-5, 1e-6));
  // A model that shifts along an axis does not commute with flips: TTA must change its output.
  auto shifted = [](const torch::Tensor& in) { return torch::roll(in, {1}, {3}); };
  auto a = PredictSlidingWindow(shifted, x, Options({8, 16, 16}, 3, false, true));
  auto b = PredictSlidingWindow(shifted, x, Options({8, 16, 16}, 3, true, true));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT((*a - *b).abs().max().item<float>(), 1e-3);
}

TEST(SlidingWindowTest, BatchingAndMirrorCountDoNotChangeTheResult) {
  torch::manual_seed(4);
  const torch::Tensor x = torch::randn({1, 14, 30, 22});
  torch::nn::Conv3d conv(torch::nn::Conv3dOptions(1, 3, 3).padding(1));
  int calls = 0;
  int64_t inputs = 0;
  auto net = [&](const torch::Tensor& in) {
    ++calls;
    inputs += in.size(0);
    return conv->forward(in);
  };
  SlidingWindowOptions o = Options({8, 16, 16}, 3, true, true);
  o.batch = 1;
  auto one = PredictSlidingWindow(net, x, o);
  const int calls_one = calls;
  const int64_t inputs_one = inputs;
  calls = 0;
  o.batch = 5;
  auto five = PredictSlidingWindow(net, x, o);
  ASSERT_TRUE(one.ok() && five.ok());
  EXPECT_TRUE(torch::allclose(*one, *five, 1e-5, 1e-6));
  // 14 -> 3 tiles (0, 3, 6), 30 -> 3, 22 -> 2: 18 tiles x 8 flips.
  EXPECT_EQ(inputs_one, 18 * 8);
  EXPECT_EQ(calls_one, 18 * 8);
  EXPECT_EQ(calls, (18 * 8 + 4) / 5);
  // Probabilities sum to one everywhere.
  EXPECT_TRUE(torch::allclose(one->sum(0), torch::ones({14, 30, 22}), 1e-5, 1e-5));
}

class CancelAll : public ProgressSink {
 public:
  void Report(const std::string&, int64_t, int64_t, const std::string&) override {}
  bool Cancelled() const override { return true; }
};

TEST(SlidingWindowTest, CancellationStopsWithCancelled) {
  CancelAll cancel;
  SlidingWindowOptions o = Options({8, 8, 8}, 1, false, false);
  o.cancel = &cancel;
  auto out = PredictSlidingWindow(Identity, torch::zeros({1, 16, 16, 16}), o);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace nephron::infer
