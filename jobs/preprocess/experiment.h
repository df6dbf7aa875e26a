// The three preprocessing stages run against an experiment folder:
//
//   EXP/experiment.json              data root, layout, preset (first run)
//   EXP/fingerprint/<id>.json        per-case fingerprint (+ <id>_samples.npy)
//   EXP/fingerprint/<id>.failed.json a case that could not be read, and why
//   EXP/dataset_fingerprint.json     merged fingerprint (nnU-Net keys)
//   EXP/plans.json                   the plan (nnU-Net v2 keys + "nephron")
//   EXP/splits_final.json            5-fold split (kept if already present)
//   EXP/nnUNetPlans_3d_fullres/      preprocessed cases (see preprocessor.h)
//   EXP/reports/<stage>[_shard_i_of_n].json  per-case outcome of each run
//
// The training cases are the labelled cases minus the spec's
// dataset.test_cases (held out: never fingerprinted, planned on, split or
// preprocessed); experiment.json records that list and later runs must use
// the same one. Each stage works on shard i of n of the training cases (cases i, i+n, ...)
// and skips work that is already complete, so interrupted or repeated runs
// resume. A later stage runs whatever earlier stage is missing.
#pragma once

#include <string>
#include <vector>

#include "common/progress.h"
#include "common/spec.h"
#include "common/status.h"
#include "jobs/data/dataset.h"
#include "jobs/preprocess/planner.h"

namespace nephron::preprocess {

struct ExperimentPaths {
  std::string root;
  std::string ExperimentJson() const { return root + "/experiment.json"; }
  std::string FingerprintDir() const { return root + "/fingerprint"; }
  std::string DatasetFingerprint() const { return root + "/dataset_fingerprint.json"; }
  std::string Plans() const { return root + "/plans.json"; }
  std::string Splits() const { return root + "/splits_final.json"; }
  std::string PreprocessedDir() const { return root + "/nnUNetPlans_3d_fullres"; }
  std::string ReportsDir() const { return root + "/reports"; }
};

struct StageOptions {
  std::string data_root;
  std::string experiment_dir;
  JobSpec spec;
  int shard = 0;
  int num_shards = 1;
  int threads = 0;
  ProgressSink* progress = nullptr;  // optional
};

struct CaseOutcome {
  std::string id;
  std::string status;  // "done", "already_done", "failed", "skipped"
  std::string error;
  double seconds = 0;
};

struct StageReport {
  std::string stage;
  std::vector<CaseOutcome> cases;
  int Count(const std::string& status) const;
  std::string Summary() const;
};

// Parses "i/n" (0 <= i < n).
Status ParseShard(const std::string& text, int* shard, int* num_shards);

Result<StageReport> RunFingerprint(const StageOptions& o);
// Makes sure every training case has a fingerprint (computing missing ones),
// then merges, plans and writes plans.json and splits_final.json.
Result<Plan> RunPlan(const StageOptions& o);
Result<StageReport> RunPreprocess(const StageOptions& o);

// The identity of a plans.json text (FNV-1a, hex): preprocessed cases and
// checkpoints record it so that work done under another plan is not mixed in.
std::string PlanId(const std::string& plans_text);

// Loads plans.json from an experiment.
Result<Plan> LoadPlan(const std::string& experiment_dir);

}  // namespace nephron::preprocess
