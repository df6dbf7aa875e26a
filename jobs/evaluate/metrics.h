// KiTS19 segmentation metrics and their summary files.
//
// KiTS19 rules: kidney Dice compares (pred > 0) with (gt > 0), i.e. the tumour
// counts as kidney; tumour Dice compares (pred == 2) with (gt == 2); when both
// masks are empty the Dice is 1. The composite score is the mean of the two.
// Everything here is a pure function of its inputs and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"
#include "jobs/data/volume.h"

namespace nephron::evaluate {

// Dice of the masks {lo <= v <= hi} of `pred` and `gt` (n voxels each).
// Kidney: lo 1, hi 255; tumour: 2, 2; label c: c, c. Empty vs empty is 1.
double Dice(const uint8_t* pred, const uint8_t* gt, size_t n, int lo, int hi);

struct CaseMetrics {
  std::string id;
  double kidney_dice = 0, tumor_dice = 0, composite = 0;
  int64_t kidney_voxels_gt = 0, tumor_voxels_gt = 0, kidney_voxels_pred = 0, tumor_voxels_pred = 0;
};

// KiTS19 metrics of one case. The sizes must match (the caller checks).
CaseMetrics KitsMetrics(const std::string& id, const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt);

// Dice of each label 1..num_classes-1 (element 0 is label 1).
std::vector<double> PerLabelDice(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt, int num_classes);

struct Summary {
  std::vector<CaseMetrics> cases;
  double kidney_dice = 0, tumor_dice = 0, composite = 0;  // means over cases; 0 without cases
};

Summary Summarize(std::vector<CaseMetrics> cases);

// {"cases": [{id, kidney_dice, tumor_dice, composite, *_voxels_*}],
//  "mean": {kidney_dice, tumor_dice, composite},
//  "kidney_dice", "tumor_dice", "composite", "num_cases"}.
Json SummaryToJson(const Summary& s);
// Header "case,kidney_dice,tumor_dice,composite", one row per case, then a
// "mean" row; 6 decimals.
std::string SummaryToCsv(const Summary& s);
// `path` must end in .json or .csv; both <stem>.json and <stem>.csv are
// written, each atomically. The parent folder is created.
Status WriteSummary(const Summary& s, const std::string& path);

// OK when two images share shape, spacing, origin (relative tolerance 1e-4)
// and direction (absolute tolerance 1e-4). Otherwise FailedPrecondition naming
// both files, the field and both values.
Status CheckSameGeometry(const data::Geometry& a, const data::Shape3& sa, const data::Geometry& b,
                         const data::Shape3& sb, const std::string& pred_path, const std::string& gt_path);

}  // namespace nephron::evaluate
