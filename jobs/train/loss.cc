#include "jobs/train/loss.h"

#include <cmath>

namespace nephron::train {

namespace F = torch::nn::functional;

torch::Tensor SoftDiceLoss(const torch::Tensor& logits, const torch::Tensor& target, const LossOptions& o) {
  const int64_t C = logits.size(1);
  torch::Tensor probs = torch::softmax(logits.to(torch::kFloat), 1);
  std::vector<int64_t> axes;
  for (int64_t d = 2; d < logits.dim(); ++d) axes.push_back(d);
  torch::Tensor mask = target != o.ignore_label;  // [B,1,...]
  torch::Tensor y;
  {
    torch::NoGradGuard g;
    torch::Tensor t = torch::where(mask, target, torch::zeros_like(target));
    y = torch::zeros_like(probs).scatter_(1, t, 1.0);
  }
  const torch::Tensor maskf = mask.to(probs.scalar_type());
  if (!o.do_bg) {
    probs = probs.slice(1, 1, C);
    y = y.slice(1, 1, C);
  }
  torch::Tensor intersect = (probs * y * maskf).sum(axes);
  torch::Tensor sum_pred = (probs * maskf).sum(axes);
  torch::Tensor sum_gt = (y * maskf).sum(axes);
  if (o.batch_dice) {
    intersect = intersect.sum(0);
    sum_pred = sum_pred.sum(0);
    sum_gt = sum_gt.sum(0);
  }
  const torch::Tensor dc = (2 * intersect + o.smooth) / torch::clamp(sum_gt + sum_pred + o.smooth, 1e-8);
  return -dc.mean();
}

torch::Tensor CrossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& target, const LossOptions& o) {
  const torch::Tensor t = target.squeeze(1).to(torch::kLong);
  if ((t != o.ignore_label).sum().item<int64_t>() == 0) return torch::zeros({}, logits.options().dtype(torch::kFloat));
  return F::cross_entropy(logits.to(torch::kFloat), t, F::CrossEntropyFuncOptions().ignore_index(o.ignore_label));
}

torch::Tensor DcAndCeLoss(const torch::Tensor& logits, const torch::Tensor& target, const LossOptions& o) {
  torch::Tensor loss = torch::zeros({}, logits.options().dtype(torch::kFloat));
  if (o.weight_dice != 0) loss = loss + o.weight_dice * SoftDiceLoss(logits, target, o);
  if (o.weight_ce != 0) loss = loss + o.weight_ce * CrossEntropyLoss(logits, target, o);
  return loss;
}

std::vector<double> DeepSupervisionWeights(int n) {
  if (n <= 1) return {1.0};
  std::vector<double> w(static_cast<size_t>(n));
  double sum = 0;
  for (int i = 0; i < n; ++i) w[static_cast<size_t>(i)] = 1.0 / std::pow(2.0, i);
  w.back() = 0;
  for (double v : w) sum += v;
  for (double& v : w) v /= sum;
  return w;
}

std::vector<torch::Tensor> DownsampleTargets(const torch::Tensor& target, const std::vector<std::array<int, 3>>& scales) {
  std::vector<torch::Tensor> out;
  for (const auto& s : scales) {
    if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
      out.push_back(target);
      continue;
    }
    std::vector<int64_t> size{target.size(2) / s[0], target.size(3) / s[1], target.size(4) / s[2]};
    for (auto& v : size) v = std::max<int64_t>(v, 1);
    // "nearest-exact" sampling of pixel centres, done by strided indexing:
    // output voxel i takes input voxel floor((i + 0.5) * scale).
    torch::Tensor t = target;
    for (int a = 0; a < 3; ++a) {
      if (s[a] == 1) continue;
      const int64_t n = size[static_cast<size_t>(a)];
      torch::Tensor idx = ((torch::arange(n, target.options().dtype(torch::kFloat)) + 0.5) * s[a]).floor().to(torch::kLong);
      idx = idx.clamp_max(target.size(2 + a) - 1);
      t = t.index_select(2 + a, idx);
    }
    out.push_back(t);
  }
  return out;
}

torch::Tensor DeepSupervisionLoss(const std::vector<torch::Tensor>& outputs, const std::vector<torch::Tensor>& targets,
                                  const std::vector<double>& weights, const LossOptions& o) {
  TORCH_CHECK(outputs.size() <= targets.size() && outputs.size() <= weights.size(),
              "deep supervision: more outputs than targets or weights");
  torch::Tensor loss = torch::zeros({}, outputs[0].options().dtype(torch::kFloat));
  for (size_t i = 0; i < outputs.size(); ++i)
    if (weights[i] != 0) loss = loss + weights[i] * DcAndCeLoss(outputs[i], targets[i], o);
  return loss;
}

double PolyLearningRate(double initial_lr, int epoch, int max_epochs) {
  return initial_lr * std::pow(1.0 - static_cast<double>(epoch) / static_cast<double>(max_epochs), 0.9);
}

}  // namespace nephron::train
