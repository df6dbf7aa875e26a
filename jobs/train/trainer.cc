#include "jobs/train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/device_plugin.h"
#include "common/fs_util.h"
#include "common/json_util.h"
#include "jobs/preprocess/experiment.h"
#include "jobs/preprocess/splits.h"
#include "jobs/train/augment.h"
#include "jobs/train/autocast.h"
#include "jobs/train/checkpoint.h"
#include "jobs/train/loss.h"
#include "jobs/train/network.h"
#include "jobs/train/patch_loader.h"
#include "jobs/train/prefetcher.h"

namespace nephron::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Status CheckDevice(const std::string& device) {
  if (device == "cpu") return Status::Ok();
  if (!IsBuiltinDevice(device)) {
    if (LoadedDevicePlugin().empty())
      return InvalidArgument("--device: unknown device '" + device +
                             "' (expected cpu, cuda or cuda:N; other accelerators need --device-plugin PATH)");
    // The plugin must have taught LibTorch the device type.
    try {
      (void)torch::Device(device);
    } catch (const std::exception& e) {
      std::string why = e.what();
      why = why.substr(0, why.find('\n'));
      return InvalidArgument("--device " + device + ": this LibTorch does not know the device type even after "
                             "loading " + LoadedDevicePlugin() + ": " + why);
    }
    return Status::Ok();
  }
  const int index = device == "cuda" ? 0 : std::stoi(device.substr(5));
  if (!torch::cuda::is_available())
    return Status(StatusCode::kUnavailable, "--device " + device + ": CUDA is not available on this machine/build");
  if (index >= static_cast<int>(torch::cuda::device_count()))
    return Status(StatusCode::kUnavailable, "--device " + device + ": only " +
                                                std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
  return Status::Ok();
}

std::string EpochLine(const EpochRecord& r, int max_epochs) {
  std::ostringstream ss;
  ss.setf(std::ios::fixed);
  ss.precision(4);
  ss << "epoch " << r.epoch << "/" << max_epochs << "  train " << r.train_loss << "  val " << r.val_loss << "  dice [";
  for (size_t i = 0; i < r.pseudo_dice.size(); ++i) {
    if (i) ss << ", ";
    if (r.pseudo_dice[i]) ss << *r.pseudo_dice[i]; else ss << "n/a";
  }
  ss << "]  ema " << r.ema_dice;
  ss.precision(6);
  ss << "  lr " << r.lr;
  ss.precision(1);
  ss << "  " << r.seconds << " s  wait " << 100.0 * r.data_wait_fraction << "%";
  return ss.str();
}

namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
uint64_t BatchSeed(uint64_t seed, int fold, int epoch, int iter, uint64_t stream) {
  return Mix(Mix(Mix(Mix(seed) ^ static_cast<uint64_t>(fold + 1)) ^ static_cast<uint64_t>(epoch)) ^
             (static_cast<uint64_t>(iter) << 8 | stream));
}

Json RecordToJson(const EpochRecord& r) {
  Json dice = Json::array();
  for (const auto& d : r.pseudo_dice) dice.push_back(d ? Json(*d) : Json(nullptr));
  return {{"epoch", r.epoch},       {"train_loss", r.train_loss}, {"val_loss", r.val_loss},
          {"pseudo_dice", dice},    {"mean_dice", r.mean_dice},   {"ema_dice", r.ema_dice},
          {"lr", r.lr},             {"seconds", r.seconds},       {"data_wait_fraction", r.data_wait_fraction}};
}

EpochRecord RecordFromJson(const Json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch").get<int>();
  r.train_loss = j.at("train_loss").get<double>();
  r.val_loss = j.at("val_loss").get<double>();
  for (const auto& d : j.at("pseudo_dice")) r.pseudo_dice.push_back(d.is_null() ? std::nullopt : std::optional<double>(d.get<double>()));
  r.mean_dice = j.at("mean_dice").get<double>();
  r.ema_dice = j.at("ema_dice").get<double>();
  r.lr = j.at("lr").get<double>();
  r.seconds = j.at("seconds").get<double>();
  r.data_wait_fraction = j.at("data_wait_fraction").get<double>();
  return r;
}

// Where training stands; stored in every checkpoint.
struct TrainState {
  int epoch = 0;          // current epoch (0-based)
  int next_iteration = 0; // next iteration within it
  double loss_sum = 0;    // train loss summed over the iterations done in this epoch
  double wait_seconds = 0, train_seconds = 0;
  double ema = 0;
  bool ema_set = false;
  double best_ema = -1;
  std::vector<EpochRecord> log;
};

Json StateToJson(const TrainState& s, const std::string& plan_id, const std::string& fold) {
  Json log = Json::array();
  for (const auto& r : s.log) log.push_back(RecordToJson(r));
  return {{"epoch", s.epoch},       {"next_iteration", s.next_iteration}, {"loss_sum", s.loss_sum},
          {"wait_seconds", s.wait_seconds}, {"train_seconds", s.train_seconds},
          {"ema", s.ema},           {"ema_set", s.ema_set},   {"best_ema", s.best_ema},
          {"plan_id", plan_id},     {"fold", fold},           {"log", log},
          {"torch_version", TORCH_VERSION}};
}

torch::Tensor ToTensor(const std::vector<float>& v, int b, const data::Shape3& p) {
  return torch::from_blob(const_cast<float*>(v.data()), {b, 1, p[0], p[1], p[2]}, torch::kFloat).clone();
}
torch::Tensor ToTensor(const std::vector<int8_t>& v, int b, const data::Shape3& p) {
  return torch::from_blob(const_cast<int8_t*>(v.data()), {b, 1, p[0], p[1], p[2]}, torch::kChar).to(torch::kLong);
}


struct FoldSetup {
  preprocess::Plan plan;
  std::string plan_id;
  std::vector<std::string> train_ids, val_ids;
  int fold_index = 0;  // -1 for "all"
};

Result<FoldSetup> LoadFold(const TrainOptions& o) {
  FoldSetup f;
  preprocess::ExperimentPaths paths{o.experiment_dir};
  ASSIGN_OR_RETURN(f.plan, preprocess::LoadPlan(o.experiment_dir));
  ASSIGN_OR_RETURN(std::string plans_text, ReadFile(paths.Plans()));
  f.plan_id = preprocess::PlanId(plans_text);
  if (!FileExists(paths.Splits())) return FailedPrecondition(paths.Splits() + ": missing; run `nephron plan` first");
  ASSIGN_OR_RETURN(Json sj, ReadJsonFile(paths.Splits()));
  ASSIGN_OR_RETURN(std::vector<preprocess::Fold> folds, preprocess::SplitsFromJson(sj, paths.Splits()));
  if (o.fold == "all") {
    f.fold_index = -1;
    for (const auto& id : folds[0].train) f.train_ids.push_back(id);
    for (const auto& id : folds[0].val) f.train_ids.push_back(id);
    std::sort(f.train_ids.begin(), f.train_ids.end());
    f.val_ids = f.train_ids;
  } else {
    if (o.fold.empty() || o.fold.find_first_not_of("0123456789") != std::string::npos)
      return InvalidArgument("--fold: expected a fold number or 'all', got '" + o.fold + "'");
    f.fold_index = std::stoi(o.fold);
    if (f.fold_index >= static_cast<int>(folds.size()))
      return InvalidArgument("--fold " + o.fold + ": " + paths.Splits() + " has " + std::to_string(folds.size()) +
                             " folds (0.." + std::to_string(folds.size() - 1) + ")");
    f.train_ids = folds[static_cast<size_t>(f.fold_index)].train;
    f.val_ids = folds[static_cast<size_t>(f.fold_index)].val;
  }
  // Only cases that were preprocessed with this plan can be used.
  for (auto* ids : {&f.train_ids, &f.val_ids}) {
    for (const auto& id : *ids) {
      const std::string props = paths.PreprocessedDir() + "/" + id + ".json";
      auto j = ReadJsonFile(props);
      if (!j.ok()) return FailedPrecondition("case " + id + ": not preprocessed (" + props + " missing); run `nephron preprocess`");
      if (j->value("plan_id", "") != f.plan_id)
        return FailedPrecondition(props + ": field plan_id: preprocessed with a different plan; run `nephron preprocess` again");
    }
  }
  if (f.train_ids.empty()) return FailedPrecondition("fold " + o.fold + " has no training cases");
  if (f.val_ids.empty()) f.val_ids = f.train_ids;
  return f;
}


// The meta JSON of a checkpoint (the whole archive is read; weights are not kept).
Result<Json> ReadCheckpointMeta(const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::Device("cpu"));
    c10::IValue meta;
    archive.read("meta", meta);
    return Json::parse(meta.toStringRef());
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    return DataLoss(path + ": corrupt or incompatible checkpoint (" + what + ")");
  }
}

// For continue_training: the fold's final checkpoint when it covers
// `max_epochs` under the current plans.json, else nullopt (train or resume).
std::optional<Json> FinishedFold(const TrainOptions& o, const std::string& final_path, int max_epochs) {
  if (!FileExists(final_path)) return std::nullopt;
  auto plans_text = ReadFile(preprocess::ExperimentPaths{o.experiment_dir}.Plans());
  if (!plans_text.ok()) return std::nullopt;
  auto meta = ReadCheckpointMeta(final_path);
  if (!meta.ok() || !meta->is_object()) return std::nullopt;
  if (meta->value("plan_id", "") != preprocess::PlanId(*plans_text)) return std::nullopt;
  if (meta->value("epoch", 0) < max_epochs) return std::nullopt;
  return *meta;
}

}  // namespace

Result<TrainResult> TrainFold(const TrainOptions& o) {
  RETURN_IF_ERROR(CheckDevice(o.device));
  const TrainSpec& ts = o.spec.train;
  const int max_epochs = o.epochs > 0 ? o.epochs : ts.epochs;
  const std::string fold_dir = o.experiment_dir + "/fold_" + o.fold;
  const std::string latest = fold_dir + "/checkpoint_latest.pt";
  if (o.continue_training) {
    // Checked before the cases are opened: a finished fold needs nothing else.
    if (auto meta = FinishedFold(o, fold_dir + "/checkpoint_final.pt", max_epochs)) {
      TrainResult done;
      done.fold_dir = fold_dir;
      done.already_complete = true;
      done.epochs_done = meta->value("epoch", 0);
      done.max_epochs = max_epochs;
      done.best_ema = meta->value("best_ema", 0.0);
      if (meta->contains("log") && (*meta)["log"].is_array())
        for (const auto& r : (*meta)["log"]) done.log.push_back(RecordFromJson(r));
      return done;
    }
  }
  const bool resume = o.resume || (o.continue_training && FileExists(latest));
  ASSIGN_OR_RETURN(FoldSetup setup, LoadFold(o));
  const int iterations = o.iterations > 0 ? o.iterations : ts.iterations_per_epoch;
  const int val_iterations = o.val_iterations >= 0 ? o.val_iterations : ts.val_iterations;
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  const torch::Device device(o.device == "cuda" ? "cuda:0" : o.device);
  const bool cuda = device.is_cuda();

  if (!resume && (FileExists(latest) || FileExists(fold_dir + "/checkpoint_final.pt")))
    return Status(StatusCode::kAlreadyExists, fold_dir + " already holds checkpoints; pass --resume to continue, or "
                                              "use another experiment folder (nothing was overwritten)");
  RETURN_IF_ERROR(MakeDirs(fold_dir));

  const preprocess::Plan& plan = setup.plan;
  const UNetConfig cfg = ConfigFromPlan(plan, ts.deep_supervision);
  torch::manual_seed(ts.seed + static_cast<uint64_t>(setup.fold_index + 1));
  PlainConvUNet model(cfg);
  InitHe(*model);
  model->to(device);
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(ts.initial_lr)
                                                 .momentum(ts.momentum)
                                                 .nesterov(ts.nesterov)
                                                 .weight_decay(ts.weight_decay));
  TrainState st;
  if (resume) {
    ASSIGN_OR_RETURN(Json meta, LoadCheckpoint(latest, model, &opt, device));
    if (meta.value("plan_id", "") != setup.plan_id)
      return FailedPrecondition(latest + ": field plan_id: the checkpoint was trained with a different plans.json");
    st.epoch = meta.at("epoch").get<int>();
    st.next_iteration = meta.at("next_iteration").get<int>();
    st.loss_sum = meta.at("loss_sum").get<double>();
    st.wait_seconds = meta.at("wait_seconds").get<double>();
    st.train_seconds = meta.at("train_seconds").get<double>();
    st.ema = meta.at("ema").get<double>();
    st.ema_set = meta.at("ema_set").get<bool>();
    st.best_ema = meta.at("best_ema").get<double>();
    for (const auto& r : meta.at("log")) st.log.push_back(RecordFromJson(r));
    if (o.progress)
      o.progress->Report("train", st.epoch, max_epochs,
                         "resumed from " + latest + " at epoch " + std::to_string(st.epoch) + ", iteration " +
                             std::to_string(st.next_iteration));
  }
  // The log file always mirrors the state we continue from.
  {
    std::string text;
    for (const auto& r : st.log) text += RecordToJson(r).dump() + "\n";
    RETURN_IF_ERROR(WriteFileAtomic(fold_dir + "/training_log.jsonl", text));
  }

  const std::string pre_dir = preprocess::ExperimentPaths{o.experiment_dir}.PreprocessedDir();
  ASSIGN_OR_RETURN(CaseStore train_store, CaseStore::Open(pre_dir, setup.train_ids, plan.num_classes));
  ASSIGN_OR_RETURN(CaseStore val_store, CaseStore::Open(pre_dir, setup.val_ids, plan.num_classes));
  AugmentOptions aug;
  aug.patch_size = {plan.patch_size[0], plan.patch_size[1], plan.patch_size[2]};
  aug.enabled = ts.augmentation;
  const auto cut = ts.augmentation ? EnlargedPatchSize(aug) : aug.patch_size;
  const data::Shape3 final_patch{plan.patch_size[0], plan.patch_size[1], plan.patch_size[2]};
  const PatchSampler train_sampler(&train_store, {cut[0], cut[1], cut[2]}, ts.oversample_foreground, final_patch);
  const PatchSampler val_sampler(&val_store, final_patch, ts.oversample_foreground);
  const int batch = plan.batch_size;
  const auto ds_scales = DeepSupervisionScales(cfg);
  const auto ds_weights = DeepSupervisionWeights(ts.deep_supervision ? static_cast<int>(ds_scales.size()) : 1);
  const LossOptions loss_opts{1e-5, plan.batch_dice, false, -1, 1.0, 1.0};
  const int fold_key = setup.fold_index;

  // Loader threads only cut patches (plain C++, no LibTorch: OpenMP teams in
  // several threads oversubscribe small machines). Augmentation runs as
  // batched tensor ops on the training device, in the training thread.
  auto make_batch = [&](int64_t index) {
    const int epoch = static_cast<int>(index / iterations), iter = static_cast<int>(index % iterations);
    return train_sampler.Sample(batch, BatchSeed(ts.seed, fold_key, epoch, iter, 1));
  };

  TrainResult result;
  result.fold_dir = fold_dir;
  result.max_epochs = max_epochs;
  auto meta_now = [&]() { return StateToJson(st, setup.plan_id, o.fold); };
  auto interrupted = [&]() { return o.stop_flag && o.stop_flag->load(); };

  while (st.epoch < max_epochs) {
    const double lr = PolyLearningRate(ts.initial_lr, st.epoch, max_epochs);
    for (auto& g : opt.param_groups()) static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
    model->train();
    model->set_deep_supervision(ts.deep_supervision);
    {
      const int64_t first = static_cast<int64_t>(st.epoch) * iterations + st.next_iteration;
      const int64_t last = static_cast<int64_t>(st.epoch + 1) * iterations;
      Prefetcher<PatchBatch> prefetch(make_batch, ts.loader_threads, first, last, std::max(2, ts.loader_threads * 2));
      while (st.next_iteration < iterations) {
        if (interrupted()) {
          RETURN_IF_ERROR(SaveCheckpoint(latest, model, opt, meta_now()));
          result.interrupted = true;
          result.epochs_done = st.epoch;
          result.best_ema = st.best_ema;
          result.log = st.log;
          return result;
        }
        const auto t0 = Clock::now();
        PatchBatch pb = prefetch.Get(static_cast<int64_t>(st.epoch) * iterations + st.next_iteration);
        const auto t1 = Clock::now();
        torch::Tensor image = ToTensor(pb.image, batch, pb.patch).to(device);
        torch::Tensor seg = ToTensor(pb.seg, batch, pb.patch).to(device);
        {
          AugmentedBatch a = Augment(image, seg, aug, BatchSeed(ts.seed, fold_key, st.epoch, st.next_iteration, 2));
          image = a.image;
          seg = a.seg;
        }
        const auto targets = DownsampleTargets(seg, ds_scales);
        opt.zero_grad();
        torch::Tensor loss;
        {
          AutocastGuard ac(cuda && ts.mixed_precision);
          const auto outs = model->forward(image);
          loss = DeepSupervisionLoss(outs, targets, ds_weights, loss_opts);
        }
        loss.backward();
        if (ts.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), ts.grad_clip);
        opt.step();
        st.loss_sum += loss.item<double>();
        const auto t2 = Clock::now();
        st.wait_seconds += std::chrono::duration<double>(t1 - t0).count();
        st.train_seconds += std::chrono::duration<double>(t2 - t0).count();
        ++st.next_iteration;
      }
    }

    // Validation on patches of the held-out cases: loss and pseudo Dice.
    const auto tv = Clock::now();
    model->eval();
    model->set_deep_supervision(false);
    const int C = plan.num_classes;
    std::vector<double> tp(static_cast<size_t>(C), 0), fp(tp), fn(tp);
    double val_loss = 0;
    {
      torch::NoGradGuard ng;
      for (int i = 0; i < val_iterations; ++i) {
        PatchBatch pb = val_sampler.Sample(batch, BatchSeed(ts.seed, fold_key, st.epoch, i, 3));
        torch::Tensor image = ToTensor(pb.image, batch, pb.patch).to(device);
        torch::Tensor seg = ToTensor(pb.seg, batch, pb.patch).to(device);
        torch::Tensor logits;
        {
          AutocastGuard ac(cuda && ts.mixed_precision);
          logits = model->forward(image)[0].to(torch::kFloat);
        }
        val_loss += DcAndCeLoss(logits, seg, loss_opts).item<double>();
        const torch::Tensor pred = logits.argmax(1, true);
        const torch::Tensor valid = seg != -1;
        for (int c = 1; c < C; ++c) {
          const torch::Tensor p = (pred == c) & valid, g = (seg == c);
          tp[static_cast<size_t>(c)] += (p & g).sum().item<double>();
          fp[static_cast<size_t>(c)] += (p & ~g).sum().item<double>();
          fn[static_cast<size_t>(c)] += (~p & g).sum().item<double>();
        }
      }
    }
    EpochRecord rec;
    rec.epoch = st.epoch + 1;
    rec.train_loss = st.loss_sum / iterations;
    rec.val_loss = val_iterations > 0 ? val_loss / val_iterations : 0;
    double sum = 0;
    int n = 0;
    for (int c = 1; c < C; ++c) {
      const double den = 2 * tp[static_cast<size_t>(c)] + fp[static_cast<size_t>(c)] + fn[static_cast<size_t>(c)];
      if (den > 0) {
        const double d = 2 * tp[static_cast<size_t>(c)] / den;
        rec.pseudo_dice.push_back(d);
        sum += d;
        ++n;
      } else {
        rec.pseudo_dice.push_back(std::nullopt);
      }
    }
    rec.mean_dice = n ? sum / n : 0;
    st.ema = st.ema_set ? 0.9 * st.ema + 0.1 * rec.mean_dice : rec.mean_dice;
    st.ema_set = true;
    rec.ema_dice = st.ema;
    rec.lr = lr;
    rec.seconds = st.train_seconds + std::chrono::duration<double>(Clock::now() - tv).count();
    rec.data_wait_fraction = st.train_seconds > 0 ? st.wait_seconds / st.train_seconds : 0;
    st.log.push_back(rec);
    st.epoch += 1;
    st.next_iteration = 0;
    st.loss_sum = st.wait_seconds = st.train_seconds = 0;
    {
      std::ofstream log(fold_dir + "/training_log.jsonl", std::ios::app);
      log << RecordToJson(rec).dump() << "\n";
    }
    if (o.progress) o.progress->Report("train", rec.epoch, max_epochs, EpochLine(rec, max_epochs));
    if (st.ema > st.best_ema) {
      st.best_ema = st.ema;
      RETURN_IF_ERROR(SaveCheckpoint(fold_dir + "/checkpoint_best.pt", model, opt, meta_now()));
    }
    const bool stop_here = o.stop_after_epoch > 0 && st.epoch >= o.stop_after_epoch && st.epoch < max_epochs;
    if (st.epoch % ts.checkpoint_every == 0 || st.epoch == max_epochs || stop_here || interrupted())
      RETURN_IF_ERROR(SaveCheckpoint(latest, model, opt, meta_now()));
    if (stop_here || (interrupted() && st.epoch < max_epochs)) {
      result.interrupted = true;
      break;
    }
  }
  if (!result.interrupted) RETURN_IF_ERROR(SaveCheckpoint(fold_dir + "/checkpoint_final.pt", model, opt, meta_now()));
  result.epochs_done = st.epoch;
  result.best_ema = st.best_ema;
  result.log = st.log;
  return result;
}

}  // namespace nephron::train
