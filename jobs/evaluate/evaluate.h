// `nephron evaluate`: scores a folder of predicted label maps against ground
// truth with the KiTS19 metrics, writes the summary (JSON + CSV) and one
// preview PNG per case.
//
// Predictions: every <id>.nii.gz or <id>.nii directly in pred_dir (other
// files and subfolders are ignored). Ground truth, found automatically:
//   * KiTS19: gt_dir/case_XXXXX/segmentation.nii.gz (+ imaging.nii.gz),
//     via data::DiscoverDataset (training cases);
//   * nnU-Net raw: gt_dir/labelsTr/<id>.nii.gz (+ imagesTr/<id>_0000.nii.gz);
//   * flat: gt_dir/<id>.nii.gz label maps (previews on black).
// A prediction without ground truth is an error, unless the ground-truth
// folder is a data set that has that case unlabelled (a test case: skipped
// with a warning); ground-truth cases without a prediction (e.g. the training
// cases when the folder is the whole raw data set) are skipped with a warning
// (through the progress sink, else stderr); only predicted cases are scored. All headers are checked before anything is read in full, so a
// geometry mismatch writes nothing. Thread-safe for distinct output paths.
#pragma once

#include <string>
#include <vector>

#include "common/progress.h"
#include "common/status.h"
#include "jobs/evaluate/metrics.h"

namespace nephron::evaluate {

struct EvaluateOptions {
  std::string pred_dir, gt_dir;
  std::string out;           // summary path (.json or .csv); "" = <pred_dir>/evaluation.json
  std::string previews_dir;  // "" = <pred_dir>/previews
  bool previews = true;
  int threads = 0;  // cases in parallel, one case in memory per thread; 0 = cores, at most 2
  ProgressSink* progress = nullptr;  // optional; reports "evaluate" per case, polled for cancel
};

// Where the summary and previews go for `o` (defaults filled in).
std::string SummaryPath(const EvaluateOptions& o);
std::string PreviewsDir(const EvaluateOptions& o);

// One matched case: the prediction, its ground truth and the image (may be
// empty when the layout has none).
struct EvalCase {
  std::string id, pred, gt, image;
};

// Matches predictions to ground truth as described above. `unmatched_gt`
// (optional) receives ids of ground-truth cases without a prediction,
// `unlabelled_pred` (optional) the predicted ids that the ground-truth data
// set has without a label. NotFound when no prediction can be scored.
Result<std::vector<EvalCase>> MatchCases(const std::string& pred_dir, const std::string& gt_dir,
                                         std::vector<std::string>* unmatched_gt,
                                         std::vector<std::string>* unlabelled_pred = nullptr);

Result<Summary> EvaluateFolders(const EvaluateOptions& o);

}  // namespace nephron::evaluate
