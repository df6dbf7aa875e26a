// nnU-Net's postprocessing (v1): keep only the largest connected component of
// the foreground and/or of single classes, when cross-validation shows that it
// helps. LibTorch-free; linked into nephron_evaluate.
//
// Connectivity is 6 (face neighbours), as scipy.ndimage.label's default that
// nnU-Net uses. Labelling is a two-pass union-find scan: O(n), no recursion,
// one int32 per voxel plus one per provisional label.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"
#include "jobs/data/volume.h"

namespace nephron::infer {

// Labels the 6-connected components of mask != 0: 0 for background, 1..N for
// components numbered in raster order of their first voxel. `num_components`
// (optional) receives N.
std::vector<int32_t> LabelComponents(const std::vector<uint8_t>& mask, const data::Shape3& shape,
                                     int* num_components);

// Treats voxels whose label is in `classes` as one foreground mask and sets
// those outside its largest component (ties: the first in raster order) to 0.
void KeepLargestComponent(std::vector<uint8_t>* labels, const data::Shape3& shape, const std::vector<int>& classes);

struct PostprocessingDecision {
  bool largest_foreground = false;     // keep the largest component of all foreground (labels > 0)
  std::vector<int> largest_per_class;  // classes for which only the largest component is kept
  Json report = Json::object();        // mean Dice per variant and class, number of cases
};

// Applies the all-foreground step first (when accepted), then the per-class
// steps in the order listed.
void ApplyPostprocessing(const PostprocessingDecision& d, std::vector<uint8_t>* labels, const data::Shape3& shape);

// Decides postprocessing from (prediction, ground truth) pairs, streaming:
// AddCase keeps only per-class Dice sums, never the volumes. For each case it
// scores (labels 1..K-1, empty vs empty = 1) the raw prediction, the
// all-foreground largest component, and for every class c the class-c
// largest component on top of raw and on top of the all-foreground variant.
// Decide (nnU-Net v1): the all-foreground step is accepted when the mean over
// classes of the mean-over-cases Dice improves and no class's mean Dice gets
// worse; then, on top of the chosen base, the class-c step is accepted when
// class c's mean Dice strictly improves. AddCase is thread-safe.
class PostprocessingDecider {
 public:
  explicit PostprocessingDecider(int num_classes);

  // pred and gt: label volumes of `shape` (C order).
  void AddCase(const std::string& id, const std::vector<uint8_t>& pred, const std::vector<uint8_t>& gt,
               const data::Shape3& shape);
  PostprocessingDecision Decide() const;

 private:
  int num_classes_;
  mutable std::mutex mu_;
  int64_t num_cases_ = 0;
  // Sums over cases, indexed by class - 1.
  std::vector<double> raw_, fg_, raw_then_class_, fg_then_class_;
};

// {"largest_foreground": bool, "largest_per_class": [int], "report": {...}}.
Json DecisionToJson(const PostprocessingDecision& d);
// InvalidArgument naming `source` and the field when a key is missing or of
// the wrong type, or a class is not positive.
Result<PostprocessingDecision> DecisionFromJson(const Json& j, const std::string& source);

}  // namespace nephron::infer
