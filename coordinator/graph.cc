#include "coordinator/graph.h"

namespace nephron::coord {

const std::vector<std::string>& StageKinds() {
  static const std::vector<std::string> kKinds = {"fingerprint", "plan",     "preprocess", "train",
                                                  "validate",    "crossval", "predict",    "evaluate"};
  return kKinds;
}

namespace {

TaskRecord Make(const JobSpec& spec, const std::string& kind, const std::string& name) {
  TaskRecord t;
  t.kind = kind;
  t.name = name;
  t.device_kind = spec.resources.device;
  t.memory_mb = spec.resources.memory_mb;
  t.max_attempts = spec.retry.max_attempts;
  return t;
}

std::string ShardName(const std::string& kind, int i, int n) {
  return n == 1 ? kind : kind + " " + std::to_string(i + 1) + "/" + std::to_string(n);
}

std::vector<int64_t> Range(size_t begin, size_t end) {
  std::vector<int64_t> v;
  for (size_t i = begin; i < end; ++i) v.push_back(static_cast<int64_t>(i));
  return v;
}

}  // namespace

std::vector<TaskRecord> ExpandSpec(const JobSpec& spec) {
  std::vector<TaskRecord> g;
  auto sharded = [&](const std::string& kind, int n, const std::vector<int64_t>& deps) {
    const size_t begin = g.size();
    for (int i = 0; i < n; ++i) {
      TaskRecord t = Make(spec, kind, ShardName(kind, i, n));
      t.shard = i;
      t.num_shards = n;
      t.deps = deps;
      g.push_back(t);
    }
    return Range(begin, g.size());
  };
  const auto fingerprints = sharded("fingerprint", spec.resources.fingerprint_shards, {});
  TaskRecord plan = Make(spec, "plan", "plan");
  plan.deps = fingerprints;
  g.push_back(plan);
  const auto preprocess = sharded("preprocess", spec.resources.preprocess_shards, {static_cast<int64_t>(g.size() - 1)});

  std::vector<int> folds = spec.folds;
  if (folds.empty())
    for (int k = 0; k < spec.plan.num_folds; ++k) folds.push_back(k);
  std::vector<int64_t> trains, validations;
  for (int k : folds) {
    TaskRecord t = Make(spec, "train", "train fold " + std::to_string(k));
    t.fold = k;
    t.deps = preprocess;
    trains.push_back(static_cast<int64_t>(g.size()));
    g.push_back(t);
  }
  for (size_t i = 0; i < folds.size(); ++i) {
    TaskRecord t = Make(spec, "validate", "validate fold " + std::to_string(folds[i]));
    t.fold = folds[i];
    t.deps = {trains[i]};
    validations.push_back(static_cast<int64_t>(g.size()));
    g.push_back(t);
  }
  TaskRecord cv = Make(spec, "crossval", "crossval");
  cv.deps = validations;
  const int64_t cv_index = static_cast<int64_t>(g.size());
  g.push_back(cv);
  std::vector<int64_t> predict_deps = trains;
  predict_deps.push_back(cv_index);
  const auto predictions = sharded("predict", spec.resources.predict_shards, predict_deps);
  // Only held-out labelled cases can be scored; unlabelled test cases cannot.
  if (!spec.dataset.test_cases.empty()) {
    TaskRecord ev = Make(spec, "evaluate", "evaluate");
    ev.deps = predictions;
    g.push_back(ev);
  }
  return g;
}

std::vector<TaskRecord> NoopGraph(int count, double seconds) {
  std::vector<TaskRecord> g;
  for (int i = 0; i < count; ++i) {
    TaskRecord t;
    t.kind = "noop";
    t.name = "noop " + std::to_string(i + 1);
    t.noop_seconds = seconds;
    g.push_back(t);
  }
  return g;
}

}  // namespace nephron::coord
