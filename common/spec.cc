#include "common/spec.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "common/fs_util.h"

namespace nephron {

Result<JobSpec> PresetSpec(const std::string& preset) {
  JobSpec s;
  s.preset = preset;
  if (preset == "nnunet") return s;
  if (preset == "bdci2022") {
    s.plan.planner = "v1";
    s.plan.target_spacing = std::array<double, 3>{3.22, 1.62, 1.62};
    s.plan.downsampling = "maxpool";
    s.preprocess.image_interpolation = "bspline3";
    s.preprocess.label_interpolation = "nearest";
    s.preprocess.normalize_before_resample = false;
    s.train.epochs = 600;
    s.train.iterations_per_epoch = 50;
    s.train.momentum = 0.9;
    s.train.grad_clip = 0;
    return s;
  }
  return NotFound("unknown preset '" + preset + "' (known: nnunet, bdci2022)");
}

namespace {

// Walks a YAML mapping, converting known keys and collecting every problem.
class Reader {
 public:
  explicit Reader(std::vector<std::string>* errors) : errors_(errors) {}

  void Error(const std::string& path, const std::string& why) { errors_->push_back(path + ": " + why); }

  // Calls the handler registered for each key of `node`; unknown keys are errors.
  void Map(const YAML::Node& node, const std::string& path,
           const std::map<std::string, std::function<void(const YAML::Node&, const std::string&)>>& handlers) {
    if (!node.IsMap()) {
      Error(path.empty() ? "(top level)" : path, "expected a mapping");
      return;
    }
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      const std::string p = path.empty() ? key : path + "." + key;
      auto it = handlers.find(key);
      if (it == handlers.end()) {
        std::string known;
        for (const auto& h : handlers) known += (known.empty() ? "" : ", ") + h.first;
        Error(p, "unknown key (known here: " + known + ")");
        continue;
      }
      it->second(kv.second, p);
    }
  }

  template <typename T>
  bool Scalar(const YAML::Node& n, const std::string& path, T* out, const char* what) {
    if (!n.IsScalar()) {
      Error(path, std::string("expected ") + what);
      return false;
    }
    try {
      *out = n.as<T>();
      return true;
    } catch (const YAML::Exception&) {
      Error(path, std::string("expected ") + what + ", got '" + n.Scalar() + "'");
      return false;
    }
  }

  void Str(const YAML::Node& n, const std::string& p, std::string* out, std::set<std::string> allowed = {}) {
    std::string v;
    if (!Scalar(n, p, &v, "a string")) return;
    if (!allowed.empty() && !allowed.count(v)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      Error(p, "'" + v + "' is not one of: " + list);
      return;
    }
    *out = v;
  }
  void Bool(const YAML::Node& n, const std::string& p, bool* out) { Scalar(n, p, out, "true or false"); }
  template <typename T>
  void Num(const YAML::Node& n, const std::string& p, T* out, double min, double max) {
    T v;
    if (!Scalar(n, p, &v, "a number")) return;
    if (static_cast<double>(v) < min || static_cast<double>(v) > max) {
      std::ostringstream ss;
      ss << "must be between " << min << " and " << max << ", got " << v;
      Error(p, ss.str());
      return;
    }
    *out = v;
  }
  // A number in (min, max]: for fractions where 0 makes no sense.
  void Fraction(const YAML::Node& n, const std::string& p, double* out, double min_exclusive, double max) {
    double v;
    if (!Scalar(n, p, &v, "a number")) return;
    if (!(v > min_exclusive && v <= max)) {
      std::ostringstream ss;
      ss << "must be > " << min_exclusive << " and <= " << max << ", got " << v;
      Error(p, ss.str());
      return;
    }
    *out = v;
  }
  // A list of non-empty strings (each entry's problem named by its index).
  void StrList(const YAML::Node& n, const std::string& p, std::vector<std::string>* out) {
    if (n.IsNull()) {
      out->clear();
      return;
    }
    if (!n.IsSequence()) {
      Error(p, "expected a list of strings");
      return;
    }
    std::vector<std::string> v;
    bool ok = true;
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string pi = p + "[" + std::to_string(i) + "]";
      std::string item;
      if (!Scalar(n[i], pi, &item, "a string")) {
        ok = false;
      } else if (item.empty()) {
        Error(pi, "must not be empty");
        ok = false;
      } else {
        v.push_back(item);
      }
    }
    if (ok) *out = std::move(v);
  }
  // A list of integers in [min, max].
  void IntList(const YAML::Node& n, const std::string& p, std::vector<int>* out, int min, int max) {
    if (n.IsNull()) {
      out->clear();
      return;
    }
    if (!n.IsSequence()) {
      Error(p, "expected a list of integers");
      return;
    }
    std::vector<int> v;
    bool ok = true;
    for (size_t i = 0; i < n.size(); ++i) {
      int item = min - 1;
      Num(n[i], p + "[" + std::to_string(i) + "]", &item, min, max);
      if (item < min) ok = false;
      v.push_back(item);
    }
    if (ok) *out = std::move(v);
  }
  template <typename T, size_t N>
  void Triple(const YAML::Node& n, const std::string& p, std::optional<std::array<T, N>>* out) {
    if (n.IsNull()) {
      out->reset();
      return;
    }
    if (!n.IsSequence() || n.size() != N) {
      Error(p, "expected a list of " + std::to_string(N) + " positive numbers (or null)");
      return;
    }
    std::array<T, N> v{};
    for (size_t i = 0; i < N; ++i) {
      if (!Scalar(n[i], p + "[" + std::to_string(i) + "]", &v[i], "a positive number")) return;
      if (!(v[i] > 0)) {
        Error(p + "[" + std::to_string(i) + "]", "must be positive");
        return;
      }
    }
    *out = v;
  }

 private:
  std::vector<std::string>* errors_;
};

// Rules that involve more than one field or entry; one line per problem.
std::vector<std::string> CrossFieldProblems(const JobSpec& s) {
  std::vector<std::string> errors;
  if (s.plan.max_features < s.plan.base_features)
    errors.push_back("plan.max_features: must be >= plan.base_features");
  if (s.plan.patch_size)
    for (int v : *s.plan.patch_size)
      if (v < 1) errors.push_back("plan.patch_size: entries must be >= 1");
  std::set<std::string> seen_cases;
  for (size_t i = 0; i < s.dataset.test_cases.size(); ++i)
    if (!seen_cases.insert(s.dataset.test_cases[i]).second)
      errors.push_back("dataset.test_cases[" + std::to_string(i) + "]: '" + s.dataset.test_cases[i] + "' is listed twice");
  if (s.retry.backoff_cap_seconds < s.retry.backoff_seconds) {
    std::ostringstream ss;
    ss << "retry.backoff_cap_seconds: must be >= retry.backoff_seconds (" << s.retry.backoff_seconds << "), got "
       << s.retry.backoff_cap_seconds;
    errors.push_back(ss.str());
  }
  std::set<int> seen_folds;
  for (size_t i = 0; i < s.folds.size(); ++i) {
    const std::string p = "folds[" + std::to_string(i) + "]";
    const int f = s.folds[i];
    if (f < 0 || f >= s.plan.num_folds)
      errors.push_back(p + ": fold " + std::to_string(f) + " does not exist (plan.num_folds is " +
                       std::to_string(s.plan.num_folds) + ": 0.." + std::to_string(s.plan.num_folds - 1) + ")");
    else if (!seen_folds.insert(f).second)
      errors.push_back(p + ": fold " + std::to_string(f) + " is listed twice");
  }
  return errors;
}

}  // namespace

Result<JobSpec> ParseJobSpec(const std::string& yaml_text, const std::string& source,
                             const std::string& preset_override) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(source + ": not valid YAML: " + e.what());
  }
  std::string preset = preset_override;
  if (preset.empty() && root.IsMap() && root["preset"] && root["preset"].IsScalar())
    preset = root["preset"].as<std::string>();
  if (preset.empty()) preset = "nnunet";
  auto base = PresetSpec(preset);
  if (!base.ok()) return InvalidArgument(source + ": preset: " + base.status().message());
  JobSpec s = std::move(base).value();
  if (root.IsNull()) return s;

  std::vector<std::string> errors;
  Reader r(&errors);
  using H = std::function<void(const YAML::Node&, const std::string&)>;
  r.Map(root, "", {
    {"name", [&](auto& n, auto& p) { r.Str(n, p, &s.name); }},
    {"preset", [&](auto&, auto&) {}},
    {"dataset", [&](auto& n, auto& p) {
      r.Map(n, p, {
        {"root", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &s.dataset.root); })},
        {"layout", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &s.dataset.layout, {"auto", "kits19", "nnunet"}); })},
        {"test_cases", H([&](auto& n2, auto& p2) { r.StrList(n2, p2, &s.dataset.test_cases); })},
      });
    }},
    {"fingerprint", [&](auto& n, auto& p) {
      r.Map(n, p, {
        {"foreground_samples_total", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &s.fingerprint.foreground_samples_total, 1, 1e10); })},
        {"seed", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &s.fingerprint.seed, 0, 4294967295.0); })},
      });
    }},
    {"plan", [&](auto& n, auto& p) {
      PlanSpec& q = s.plan;
      r.Map(n, p, {
        {"planner", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &q.planner, {"v1", "v2"}); })},
        {"target_spacing", H([&](auto& n2, auto& p2) { r.Triple(n2, p2, &q.target_spacing); })},
        {"gpu_memory_gb", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.gpu_memory_gb, 0.01, 4096); })},
        {"base_features", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.base_features, 1, 4096); })},
        {"max_features", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.max_features, 1, 8192); })},
        {"conv_per_stage", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.conv_per_stage, 1, 8); })},
        {"min_batch_size", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.min_batch_size, 1, 1024); })},
        {"max_dataset_covered", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.max_dataset_covered, 1e-6, 1); })},
        {"anisotropy_threshold", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.anisotropy_threshold, 1, 1000); })},
        {"featuremap_min_edge", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.featuremap_min_edge, 1, 1024); })},
        {"downsampling", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &q.downsampling, {"conv", "maxpool"}); })},
        {"reorient", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.reorient); })},
        {"suppress_transpose", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.suppress_transpose); })},
        {"patch_size", H([&](auto& n2, auto& p2) { r.Triple(n2, p2, &q.patch_size); })},
        {"batch_size", H([&](auto& n2, auto& p2) {
          if (n2.IsNull()) { q.batch_size.reset(); return; }
          int b = 0; r.Num(n2, p2, &b, 1, 4096); if (b > 0) q.batch_size = b; })},
        {"num_folds", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.num_folds, 2, 100); })},
        {"split_seed", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.split_seed, 0, 4294967295.0); })},
      });
    }},
    {"preprocess", [&](auto& n, auto& p) {
      PreprocessSpec& q = s.preprocess;
      r.Map(n, p, {
        {"image_interpolation", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &q.image_interpolation, {"bspline3", "linear"}); })},
        {"label_interpolation", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &q.label_interpolation, {"onehot_linear", "nearest"}); })},
        {"normalize_before_resample", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.normalize_before_resample); })},
        {"foreground_locations_per_class", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.foreground_locations_per_class, 0, 1e8); })},
        {"min_location_coverage", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.min_location_coverage, 0, 1); })},
        {"seed", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.seed, 0, 4294967295.0); })},
        {"on_bad_case", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &q.on_bad_case, {"skip", "stop"}); })},
        {"threads", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.threads, 0, 1024); })},
      });
    }},
    {"train", [&](auto& n, auto& p) {
      TrainSpec& q = s.train;
      r.Map(n, p, {
        {"epochs", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.epochs, 1, 1e6); })},
        {"iterations_per_epoch", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.iterations_per_epoch, 1, 1e7); })},
        {"val_iterations", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.val_iterations, 0, 1e7); })},
        {"initial_lr", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.initial_lr, 1e-9, 10); })},
        {"momentum", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.momentum, 0, 1); })},
        {"nesterov", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.nesterov); })},
        {"weight_decay", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.weight_decay, 0, 1); })},
        {"grad_clip", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.grad_clip, 0, 1e9); })},
        {"oversample_foreground", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.oversample_foreground, 0, 1); })},
        {"deep_supervision", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.deep_supervision); })},
        {"augmentation", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.augmentation); })},
        {"mixed_precision", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.mixed_precision); })},
        {"checkpoint_every", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.checkpoint_every, 1, 1e6); })},
        {"loader_threads", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.loader_threads, 0, 64); })},
        {"seed", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.seed, 0, 1.8e19); })},
      });
    }},
    {"inference", [&](auto& n, auto& p) {
      InferenceSpec& q = s.inference;
      r.Map(n, p, {
        {"tta", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.tta); })},
        {"step", H([&](auto& n2, auto& p2) { r.Fraction(n2, p2, &q.step, 0, 1); })},
        {"batch", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.batch, 1, 4096); })},
        {"checkpoint", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &q.checkpoint, {"final", "best", "latest"}); })},
        {"postprocessing", H([&](auto& n2, auto& p2) { r.Bool(n2, p2, &q.postprocessing); })},
      });
    }},
    {"resources", [&](auto& n, auto& p) {
      ResourcesSpec& q = s.resources;
      r.Map(n, p, {
        {"device", H([&](auto& n2, auto& p2) { r.Str(n2, p2, &q.device, {"any", "cpu", "cuda"}); })},
        {"memory_mb", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.memory_mb, 0, 1e9); })},
        {"threads", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.threads, 0, 4096); })},
        {"fingerprint_shards", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.fingerprint_shards, 1, 1000); })},
        {"preprocess_shards", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.preprocess_shards, 1, 1000); })},
        {"predict_shards", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.predict_shards, 1, 1000); })},
      });
    }},
    {"retry", [&](auto& n, auto& p) {
      RetrySpec& q = s.retry;
      r.Map(n, p, {
        {"max_attempts", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.max_attempts, 1, 100); })},
        {"backoff_seconds", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.backoff_seconds, 0, 1e7); })},
        {"backoff_cap_seconds", H([&](auto& n2, auto& p2) { r.Num(n2, p2, &q.backoff_cap_seconds, 0, 1e7); })},
      });
    }},
    {"folds", [&](auto& n, auto& p) { r.IntList(n, p, &s.folds, 0, 99); }},
  });
  // Cross-field rules join the same list, so one round shows every problem.
  if (!errors.empty()) {
    for (auto& e : CrossFieldProblems(s)) errors.push_back(std::move(e));
  }
  if (!errors.empty()) {
    std::string msg = source + ": invalid job spec (" + std::to_string(errors.size()) + " problem" +
                      (errors.size() > 1 ? "s" : "") + "):";
    for (const auto& e : errors) msg += "\n  " + e;
    return InvalidArgument(msg);
  }
  RETURN_IF_ERROR(ValidateJobSpec(s, source));
  return s;
}

Status ValidateJobSpec(const JobSpec& s, const std::string& source) {
  const std::vector<std::string> errors = CrossFieldProblems(s);
  if (errors.empty()) return Status::Ok();
  std::string msg = source + ": invalid job spec:";
  for (const auto& e : errors) msg += "\n  " + e;
  return InvalidArgument(msg);
}

std::string DatasetRootOf(const std::string& yaml_text) {
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (root.IsMap() && root["dataset"] && root["dataset"].IsMap() && root["dataset"]["root"] &&
        root["dataset"]["root"].IsScalar())
      return root["dataset"]["root"].as<std::string>();
  } catch (const YAML::Exception&) {
  }
  return "";
}

Result<JobSpec> LoadJobSpecFile(const std::string& path, const std::string& preset_override) {
  auto text = ReadFile(path);
  if (!text.ok()) return NotFound("job spec " + path + " cannot be read");
  return ParseJobSpec(*text, path, preset_override);
}

}  // namespace nephron
