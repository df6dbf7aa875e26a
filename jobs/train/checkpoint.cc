#include "jobs/train/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "common/fs_util.h"
#include "jobs/train/trainer.h"

namespace nephron::train {

UNetConfig ConfigFromPlan(const preprocess::Plan& p, bool deep_supervision) {
  UNetConfig c;
  c.num_classes = p.num_classes;
  c.features = p.features_per_stage;
  c.kernel_sizes = p.kernel_sizes;
  c.strides = p.strides;
  c.n_conv_per_stage = p.n_conv_per_stage;
  c.n_conv_per_stage_decoder = p.n_conv_per_stage;
  c.maxpool = p.downsampling == "maxpool";
  c.deep_supervision = deep_supervision;
  return c;
}

Status SaveCheckpoint(const std::string& path, PlainConvUNet& model, torch::optim::SGD& opt, const Json& meta) {
  const std::string tmp = TempPathFor(path);
  try {
    torch::serialize::OutputArchive archive, m, op;
    model->save(m);
    opt.save(op);
    archive.write("model", m);
    archive.write("optimizer", op);
    archive.write("meta", c10::IValue(meta.dump()));
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    return Internal(path + ": cannot write checkpoint: " + e.what_without_backtrace());
  }
  return RenameInto(tmp, path);
}

Result<Json> LoadCheckpoint(const std::string& path, PlainConvUNet& model, torch::optim::SGD* opt,
                            const torch::Device& device) {
  if (!FileExists(path)) return NotFound(path + ": no checkpoint");
  try {
    torch::serialize::InputArchive archive, m, op;
    archive.load_from(path, device);
    archive.read("model", m);
    model->load(m);
    if (opt) {
      archive.read("optimizer", op);
      opt->load(op);
    }
    c10::IValue meta;
    archive.read("meta", meta);
    return Json::parse(meta.toStringRef());
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    return DataLoss(path + ": corrupt or incompatible checkpoint (" + what + ")");
  }
}

Result<CheckpointInfo> ReadCheckpointInfo(const std::string& path) {
  if (!FileExists(path)) return NotFound(path + ": no checkpoint");
  CheckpointInfo info;
  try {
    torch::serialize::InputArchive archive, m;
    archive.load_from(path, torch::Device("cpu"));
    archive.read("model", m);
    c10::IValue meta;
    archive.read("meta", meta);
    info.meta_json = meta.toStringRef();
    uint64_t h = 1469598103934665603ULL;
    std::function<void(torch::serialize::InputArchive&)> walk = [&](torch::serialize::InputArchive& a) {
      auto keys = a.keys();
      std::sort(keys.begin(), keys.end());
      for (const auto& key : keys) {
        torch::Tensor t;
        if (a.try_read(key, t)) {
          t = t.contiguous().to(torch::kCPU);
          if (t.is_floating_point()) info.num_parameters += t.numel();
          for (unsigned char ch : key) h = (h ^ ch) * 1099511628211ULL;
          const auto* p = static_cast<const unsigned char*>(t.data_ptr());
          const size_t n = static_cast<size_t>(t.numel()) * t.element_size();
          for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
          continue;
        }
        torch::serialize::InputArchive sub;
        if (a.try_read(key, sub)) walk(sub);
      }
    };
    walk(m);
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
    info.weights_digest = buf;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    return DataLoss(path + ": corrupt or incompatible checkpoint (" + what + ")");
  }
  return info;
}

}  // namespace nephron::train
