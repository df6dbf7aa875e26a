#include "jobs/infer/predict_bench.h"

#include <chrono>
#include <thread>

#include "jobs/infer/engine.h"
#include "jobs/infer/sliding_window.h"
#include "jobs/preprocess/experiment.h"
#include "jobs/train/autocast.h"
#include "jobs/train/checkpoint.h"

namespace nephron::infer {

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t CountTiles(const std::array<int64_t, 3>& size, const std::array<int64_t, 3>& patch, double step) {
  int64_t n = 1;
  for (int d = 0; d < 3; ++d) n *= static_cast<int64_t>(TileStarts(std::max(size[d], patch[d]), patch[d], step).size());
  return n;
}

Result<Json> Reference(const PredictBenchOptions& o) {
  const torch::Device device(o.device == "cuda" ? "cuda:0" : o.device);
  torch::manual_seed(0);
  train::UNetConfig cfg = train::UNetConfig::ReferenceSmall();
  cfg.deep_supervision = false;
  train::PlainConvUNet model(cfg);
  train::InitHe(*model);
  model->eval();
  model->to(device);
  c10::InferenceMode inference;
  const torch::Tensor image = torch::randn({1, 64, 128, 128}).to(device);
  SlidingWindowOptions so;
  so.patch = {64, 64, 64};
  so.mirror = o.mirror;
  so.batch = o.batch;
  int64_t inputs = 0;
  auto net = [&](const torch::Tensor& x) {
    train::AutocastGuard ac(device.is_cuda());
    inputs += x.size(0);
    return model->forward(x)[0];
  };
  const auto t0 = Clock::now();
  ASSIGN_OR_RETURN(torch::Tensor probs, PredictSlidingWindow(net, image, so));
  probs.sum().item<double>();  // waits for the device
  const double seconds = Since(t0);
  return Json{{"seconds", seconds}, {"tiles", CountTiles({64, 128, 128}, so.patch, so.step)}, {"forward_inputs", inputs}};
}

Result<Json> Kits(const PredictBenchOptions& o) {
  const std::string exp = o.workdir + "/experiment";
  ASSIGN_OR_RETURN(preprocess::Plan plan, preprocess::LoadPlan(exp));
  for (auto& f : plan.features_per_stage) f = std::min(64, 8 << (&f - plan.features_per_stage.data()));
  RunSettings rs;
  rs.device = o.device;
  rs.tta = o.mirror;
  rs.batch = o.batch;
  rs.threads = o.threads;
  Ensemble e(plan, rs);
  torch::manual_seed(0);
  train::PlainConvUNet model(train::ConfigFromPlan(plan, false));
  train::InitHe(*model);
  e.AddModel(model);
  const data::CaseFiles c{"case_00000", o.workdir + "/data/case_00000/imaging.nii.gz", ""};
  CaseOutput out;
  out.label_path = o.workdir + "/prediction_case_00000.nii.gz";
  const auto t0 = Clock::now();
  ASSIGN_OR_RETURN(CaseTiming t, PredictCaseFile(e, plan, c, out, o.threads, nullptr));
  const double seconds = Since(t0);
  Json features = plan.features_per_stage;
  return Json{{"seconds", seconds},          {"preprocess", t.preprocess}, {"predict", t.predict},
              {"export", t.export_},         {"write", t.write},           {"features", features},
              {"patch", plan.patch_size}};
}

}  // namespace

Result<Json> RunPredictBench(const PredictBenchOptions& o) {
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  if (o.scenario == "reference") return Reference(o);
  if (o.scenario == "kits") return Kits(o);
  return InvalidArgument("--scenario: expected reference or kits, got '" + o.scenario + "'");
}

}  // namespace nephron::infer
