// The inference commands against an experiment folder. LibTorch-free header
// (the CLI and the worker include it); the engine is in engine.h.
//
//   PredictCases   every image of a folder (KiTS19 layout, nnU-Net raw layout
//                  or a flat folder of NIfTI images) or one NIfTI file, or a
//                  selection of them (test set, ids, shard; CaseSelection) ->
//                  OUT/<id>.nii.gz (uint8 labels, the input's exact geometry),
//                  OUT/prediction.json (settings, folds, timings), optional
//                  OUT/<id>_probabilities.npy + <id>_properties.json.
//   ValidateFold   fold K's held-out cases with fold K's checkpoint ->
//                  EXP/fold_K/validation/<id>.nii.gz + summary.{json,csv}.
//   CrossValidate  all validated folds -> EXP/crossval/summary.{json,csv}
//                  (raw and postprocessed) and EXP/postprocessing.json,
//                  which PredictCases then applies.
//
// Every output file is written to a temporary name and renamed: a failure
// never leaves a partial file under a final name. Nothing is overwritten
// before all inputs (plan, checkpoints) have been checked.
#pragma once

#include <string>
#include <vector>

#include "common/progress.h"
#include "common/status.h"
#include "jobs/data/dataset.h"
#include "jobs/evaluate/metrics.h"

namespace nephron::infer {

struct RunSettings {
  std::string checkpoint = "final";  // final | best | latest
  std::string device = "cpu";
  bool tta = true;
  double step = 0.5;
  int batch = 2;
  int threads = 0;
};

// Which cases of the input to predict: all of DiscoverInputs(input), or with
// `test_set` the test cases of the raw data set at `input` (its unlabelled
// cases plus `test_cases`, the spec's dataset.test_cases); then only the ids
// in `cases` (if any); then shard i of n of that list (cases i, i+n, ...).
// PredictCases refuses a test set of the experiment's own data root whose
// `test_cases` differ from the list recorded at preprocessing (CheckHeldOutList).
struct CaseSelection {
  bool test_set = false;
  std::vector<std::string> test_cases;  // with test_set: labelled cases held out as test cases
  std::string layout = "auto";          // with test_set: the data set layout (auto | kits19 | nnunet)
  std::vector<std::string> cases;       // only these ids; empty = all
  int shard = 0, num_shards = 1;
};

struct PredictOptions {
  std::string experiment_dir, input, output_dir;
  std::string folds = "all";  // "all" (every fold with the checkpoint) or "0,1,2"
  RunSettings run;
  CaseSelection select;
  bool save_probabilities = false;
  bool postprocess = true;  // apply EXP/postprocessing.json when it exists
  ProgressSink* progress = nullptr;
};

struct CasePrediction {
  std::string id, image, output;
  double seconds = 0;
};

struct PredictReport {
  std::vector<int> folds;
  bool postprocessed = false;
  std::vector<CasePrediction> cases;
};

// The images to predict: one NIfTI file (id: the file name without .nii[.gz]
// and _0000; for KiTS19's imaging.nii.gz, its folder's name); a KiTS19 folder (every case); an
// nnU-Net raw folder (imagesTs if present, else imagesTr); or a folder of
// NIfTI files (<id>.nii.gz or <id>_0000.nii.gz). Sorted by id.
Result<std::vector<data::CaseFiles>> DiscoverInputs(const std::string& input);

// The cases PredictCases predicts for `input` and `s` (see CaseSelection),
// sorted by id, labels cleared. InvalidArgument naming --cases and every
// unknown id, or dataset.test_cases[i] for a held-out id the data set lacks;
// an empty shard is an empty list, not an error.
Result<std::vector<data::CaseFiles>> SelectInputs(const std::string& input, const CaseSelection& s);

// The held-out test cases EXP/experiment.json records when the experiment was
// made from `data_root` (empty otherwise, or without the field), and the check
// PredictCases makes for a test set of that data root: the spec's list must be
// the one the folds were preprocessed and trained with (FailedPrecondition).
Result<std::vector<std::string>> RecordedTestCases(const std::string& experiment_dir, const std::string& data_root);
Status CheckHeldOutList(const std::string& experiment_dir, const std::string& data_root,
                        std::vector<std::string> test_cases);

// OUT/prediction.json, or OUT/prediction_shard_i_of_n.json for a shard of
// n > 1, so that shards writing into one folder keep each other's reports.
std::string PredictionReportPath(const std::string& output_dir, const CaseSelection& s);

// "all" -> every fold of splits_final.json that has checkpoint_<kind>.pt
// (error if none); "0,2" -> exactly those (error naming any that is missing).
Result<std::vector<int>> ResolveFolds(const std::string& experiment_dir, const std::string& folds,
                                      const std::string& checkpoint);

Result<PredictReport> PredictCases(const PredictOptions& o);

struct ValidateOptions {
  std::string experiment_dir;
  int fold = 0;
  RunSettings run;
  ProgressSink* progress = nullptr;
};

// Predicts fold K's validation cases from their preprocessed arrays and
// scores them against the original label files (KiTS19 metrics).
Result<evaluate::Summary> ValidateFold(const ValidateOptions& o);

struct CrossValReport {
  std::vector<int> folds;
  evaluate::Summary raw, postprocessed;
  std::string decision_path;  // EXP/postprocessing.json
};

struct CrossValOptions {
  std::string experiment_dir;
  int threads = 0;
  // false (the spec's inference.postprocessing): the decision written keeps
  // every component (both rules off), whatever cross-validation shows; its
  // report still says what each rule would have done.
  bool postprocessing = true;
  ProgressSink* progress = nullptr;
};

// Pools the folds that have been validated, decides postprocessing on them
// (nnU-Net's rule, see postprocess.h) and writes the summaries and the decision.
Result<CrossValReport> CrossValidate(const CrossValOptions& o);

}  // namespace nephron::infer
