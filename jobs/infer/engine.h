// The inference engine proper (LibTorch): an ensemble of trained fold
// networks that turns a preprocessed case into averaged class probabilities,
// and the whole path for one image file (preprocess -> sliding window with
// test-time augmentation -> ensemble -> export -> postprocess -> write).
//
// The ensemble averages the folds' softmax (nnU-Net v1, the KiTS solution
// this project follows). All models stay resident on the device (five
// PlainConvUNets of the reference plans are a few hundred MiB); probabilities
// are accumulated one fold at a time, so the working memory is the case's
// image, one accumulator and the sum: a small multiple of the case's size.
// Not thread-safe: one prediction at a time per Ensemble.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "common/progress.h"
#include "common/status.h"
#include "jobs/data/dataset.h"
#include "jobs/infer/predictor.h"
#include "jobs/preprocess/planner.h"
#include "jobs/preprocess/preprocessor.h"
#include "jobs/train/network.h"

namespace nephron::infer {

struct PostprocessingDecision;  // jobs/infer/postprocess.h


class Ensemble {
 public:
  Ensemble(const preprocess::Plan& plan, const RunSettings& s);

  // Loads EXP/fold_K/checkpoint_<kind>.pt; FailedPrecondition when it was
  // trained under another plan than `plan_id`, NotFound/DataLoss from loading.
  Status AddFold(const std::string& experiment_dir, int fold, const std::string& plan_id);
  // A network built by the caller (benchmarks, tests).
  void AddModel(train::PlainConvUNet model);
  size_t size() const { return models_.size(); }

  // image: C-order float volume of `shape` (network order). Returns the mean
  // softmax over models as a contiguous CPU tensor [K, a, b, c].
  Result<torch::Tensor> Predict(const float* image, const data::Shape3& shape, const ProgressSink* cancel);

 private:
  preprocess::Plan plan_;
  RunSettings settings_;
  torch::Device device_;
  std::vector<train::PlainConvUNet> models_;
};

struct CaseTiming {
  double preprocess = 0, predict = 0, export_ = 0, write = 0;
  double Total() const { return preprocess + predict + export_ + write; }
};

struct CaseOutput {
  std::string label_path;               // <id>.nii.gz, written atomically
  // Optional: float32 [K, a, b, c] probabilities in network space (.npy) and
  // the case properties that map them back to the file (.json).
  std::string probabilities_path, properties_path;
  const PostprocessingDecision* postprocessing = nullptr;  // applied when set
};

// Preprocesses `c.image` with `plan`, predicts, exports and writes.
Result<CaseTiming> PredictCaseFile(Ensemble& e, const preprocess::Plan& plan, const data::CaseFiles& c,
                                   const CaseOutput& out, int threads, const ProgressSink* cancel);


}  // namespace nephron::infer
