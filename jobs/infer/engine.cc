#include "jobs/infer/engine.h"

#include <chrono>
#include <thread>

#include "common/fs_util.h"
#include "jobs/data/nifti_io.h"
#include "jobs/data/npy.h"
#include "jobs/infer/export.h"
#include "jobs/infer/postprocess.h"
#include "jobs/infer/sliding_window.h"
#include "jobs/train/autocast.h"
#include "jobs/train/checkpoint.h"

namespace nephron::infer {

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string DeviceName(const std::string& d) { return d == "cuda" ? "cuda:0" : d; }

}  // namespace

Ensemble::Ensemble(const preprocess::Plan& plan, const RunSettings& s)
    : plan_(plan), settings_(s), device_(DeviceName(s.device)) {
  // Debian's LibTorch defaults to one thread.
  torch::set_num_threads(s.threads > 0 ? s.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

Status Ensemble::AddFold(const std::string& experiment_dir, int fold, const std::string& plan_id) {
  const std::string path = experiment_dir + "/fold_" + std::to_string(fold) + "/checkpoint_" + settings_.checkpoint + ".pt";
  if (!FileExists(path))
    return NotFound(path + ": missing; train fold " + std::to_string(fold) + " first (`nephron train --fold " +
                    std::to_string(fold) + "`) or choose --checkpoint best|latest");
  train::PlainConvUNet model(train::ConfigFromPlan(plan_, false));
  ASSIGN_OR_RETURN(Json meta, train::LoadCheckpoint(path, model, nullptr, device_));
  if (meta.value("plan_id", "") != plan_id)
    return FailedPrecondition(path + ": field plan_id: trained under a different plans.json (" +
                              meta.value("plan_id", std::string("none")) + ", experiment has " + plan_id +
                              "); all folds of an ensemble must share one plan");
  AddModel(model);
  return Status::Ok();
}

void Ensemble::AddModel(train::PlainConvUNet model) {
  model->set_deep_supervision(false);
  model->eval();
  model->to(device_);
  models_.push_back(model);
}

Result<torch::Tensor> Ensemble::Predict(const float* image, const data::Shape3& shape, const ProgressSink* cancel) {
  if (models_.empty()) return FailedPrecondition("ensemble has no model");
  c10::InferenceMode inference;
  const torch::Tensor x =
      torch::from_blob(const_cast<float*>(image), {1, shape[0], shape[1], shape[2]}, torch::kFloat).to(device_);
  SlidingWindowOptions so;
  so.patch = {plan_.patch_size[0], plan_.patch_size[1], plan_.patch_size[2]};
  so.step = settings_.step;
  so.mirror = settings_.tta;
  so.batch = settings_.batch;
  so.num_outputs = plan_.num_classes;
  so.cancel = cancel;
  const bool cuda = device_.is_cuda();
  torch::Tensor sum;
  for (auto& m : models_) {
    auto net = [&](const torch::Tensor& in) {
      train::AutocastGuard ac(cuda);
      return m->forward(in)[0];
    };
    ASSIGN_OR_RETURN(torch::Tensor p, PredictSlidingWindow(net, x, so));
    if (sum.defined()) {
      sum.add_(p);
    } else {
      sum = p;
    }
  }
  if (models_.size() > 1) sum.div_(static_cast<double>(models_.size()));
  return sum.to(torch::kCPU).contiguous();
}

Result<CaseTiming> PredictCaseFile(Ensemble& e, const preprocess::Plan& plan, const data::CaseFiles& c,
                                   const CaseOutput& out, int threads, const ProgressSink* cancel) {
  CaseTiming t;
  auto t0 = Clock::now();
  data::CaseFiles image_only = c;
  image_only.label.clear();
  ASSIGN_OR_RETURN(preprocess::PreprocessedCase pc, preprocess::PreprocessCase(image_only, plan, {}, threads));
  t.preprocess = Since(t0);

  t0 = Clock::now();
  auto probs = e.Predict(pc.image.data(), pc.props.shape_after_resample, cancel);
  if (!probs.ok()) return probs.status().WithContext("case " + c.id);
  std::vector<float>().swap(pc.image);
  t.predict = Since(t0);

  t0 = Clock::now();
  ASSIGN_OR_RETURN(data::Volume<uint8_t> labels,
                   ExportSegmentation(probs->data_ptr<float>(), plan.num_classes, pc.props, plan, threads));
  if (out.postprocessing) ApplyPostprocessing(*out.postprocessing, &labels.data, labels.shape);
  t.export_ = Since(t0);

  t0 = Clock::now();
  if (!out.probabilities_path.empty()) {
    const auto& s = pc.props.shape_after_resample;
    RETURN_IF_ERROR(data::WriteNpy<float>(out.probabilities_path, {plan.num_classes, s[0], s[1], s[2]},
                                          probs->data_ptr<float>()));
    RETURN_IF_ERROR(WriteJsonFile(out.properties_path, preprocess::PropertiesToJson(pc.props)));
  }
  RETURN_IF_ERROR(data::WriteImage(labels, out.label_path));
  t.write = Since(t0);
  return t;
}

}  // namespace nephron::infer
