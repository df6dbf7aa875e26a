// The experiment's results (results.json), assembled by the coordinator from
// the files its tasks wrote in the experiment folder:
//   fold_K/validation/summary.json        per-fold cross-validation Dice
//   crossval/summary_postprocessed.json   pooled CV (summary.json without postprocessing)
//   predictions/evaluation.json           per-case test Dice of the ensemble
// Shape: {"experiment_id","name","state","dir","folds":[{"fold","kidney_dice","tumor_dice","composite","cases"}],
//         "cv":{...}|null,"cases":[{"id","kidney_dice","tumor_dice","composite"}],
//         "kidney_dice","tumor_dice","composite" (test means; null without labelled test cases),
//         "predictions_dir","previews_dir"}
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/store.h"

namespace nephron::coord {

Result<std::string> BuildResults(const ExperimentRecord& exp, const std::vector<int>& folds, bool postprocessing);

}  // namespace nephron::coord
