#include "jobs/train/loss.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nephron::train {
namespace {

torch::Tensor Target(std::vector<int64_t> v) {
  return torch::tensor(v, torch::kLong).reshape({1, 1, static_cast<int64_t>(v.size()), 1, 1});
}

// Two voxels, two classes, logits 0 -> probabilities 0.5 everywhere.
TEST(LossTest, DiceAndCrossEntropyByHand) {
  const torch::Tensor logits = torch::zeros({1, 2, 2, 1, 1});
  LossOptions o;
  // Foreground Dice: intersect 0.5, predicted 1.0, truth 1 -> (1 + s) / (2 + s).
  const double dc = (2 * 0.5 + 1e-5) / (1.0 + 1.0 + 1e-5);
  EXPECT_NEAR(SoftDiceLoss(logits, Target({1, 0}), o).item<double>(), -dc, 1e-6);
  EXPECT_NEAR(CrossEntropyLoss(logits, Target({1, 0}), o).item<double>(), std::log(2.0), 1e-6);
  EXPECT_NEAR(DcAndCeLoss(logits, Target({1, 0}), o).item<double>(), std::log(2.0) - dc, 1e-6);
}

TEST(LossTest, IgnoreLabelIsExcludedFromBothTerms) {
  torch::Tensor logits = torch::zeros({1, 2, 2, 1, 1});
  logits[0][1][1] = 5.0;  // a confident wrong prediction on the ignored voxel must not matter
  LossOptions o;
  const double dc = (2 * 0.5 + 1e-5) / (0.5 + 1.0 + 1e-5);
  EXPECT_NEAR(SoftDiceLoss(logits, Target({1, -1}), o).item<double>(), -dc, 1e-6);
  EXPECT_NEAR(CrossEntropyLoss(logits, Target({1, -1}), o).item<double>(), std::log(2.0), 1e-6);
  EXPECT_EQ(CrossEntropyLoss(logits, Target({-1, -1}), o).item<double>(), 0.0);
}

TEST(LossTest, BatchDiceSumsOverTheBatchFirst) {
  // Sample 0 has the class, sample 1 does not.
  torch::Tensor logits = torch::zeros({2, 2, 1, 1, 1});
  torch::Tensor target = torch::tensor({1, 0}, torch::kLong).reshape({2, 1, 1, 1, 1});
  LossOptions batch, per_sample;
  per_sample.batch_dice = false;
  const double s = 1e-5;
  const double b = (2 * 0.5 + s) / (1.0 + 1.0 + s);                            // pooled over both samples
  const double p = 0.5 * ((2 * 0.5 + s) / (1.0 + 0.5 + s) + (0 + s) / (0.5 + s));  // mean of per-sample Dice
  EXPECT_NEAR(SoftDiceLoss(logits, target, batch).item<double>(), -b, 1e-6);
  EXPECT_NEAR(SoftDiceLoss(logits, target, per_sample).item<double>(), -p, 1e-6);
}

TEST(LossTest, DeepSupervisionWeightsAndSum) {
  const auto w = DeepSupervisionWeights(5);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_NEAR(w[0], 8.0 / 15, 1e-12);
  EXPECT_NEAR(w[1], 4.0 / 15, 1e-12);
  EXPECT_NEAR(w[2], 2.0 / 15, 1e-12);
  EXPECT_NEAR(w[3], 1.0 / 15, 1e-12);
  EXPECT_EQ(w[4], 0.0);
  EXPECT_EQ(DeepSupervisionWeights(1), std::vector<double>{1.0});

  torch::manual_seed(1);
  const torch::Tensor target = torch::randint(0, 3, {2, 1, 8, 8, 8}, torch::kLong);
  const auto targets = DownsampleTargets(target, {{1, 1, 1}, {2, 2, 2}, {4, 4, 4}});
  ASSERT_EQ(targets[1].sizes(), (std::vector<int64_t>{2, 1, 4, 4, 4}));
  // Output voxel i takes input voxel floor((i + 0.5) * 2) = 2i + 1.
  EXPECT_EQ(targets[1][1][0][2][3][0].item<int64_t>(), target[1][0][5][7][1].item<int64_t>());
  std::vector<torch::Tensor> outs = {torch::randn({2, 3, 8, 8, 8}), torch::randn({2, 3, 4, 4, 4}),
                                     torch::randn({2, 3, 2, 2, 2})};
  const auto w3 = DeepSupervisionWeights(3);
  LossOptions o;
  const double expected = w3[0] * DcAndCeLoss(outs[0], targets[0], o).item<double>() +
                          w3[1] * DcAndCeLoss(outs[1], targets[1], o).item<double>();
  EXPECT_NEAR(DeepSupervisionLoss(outs, targets, w3, o).item<double>(), expected, 1e-5);
}

TEST(LossTest, PolySchedule) {
  EXPECT_DOUBLE_EQ(PolyLearningRate(0.01, 0, 1000), 0.01);
  EXPECT_NEAR(PolyLearningRate(0.01, 500, 1000), 0.01 * std::pow(0.5, 0.9), 1e-15);
  EXPECT_NEAR(PolyLearningRate(0.01, 999, 1000), 0.01 * std::pow(0.001, 0.9), 1e-15);
}

}  // namespace
}  // namespace nephron::train
