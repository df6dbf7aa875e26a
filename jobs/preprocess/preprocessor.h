// Preprocessing of one case, exactly as training and inference see it:
// read -> check geometry -> crop to non-zero (label outside the body mask
// becomes -1) -> reorient + transpose into network axis order -> CT
// normalisation and resampling to the plan's spacing (order per plan) ->
// sampled foreground locations per class.
//
// Memory: about two float copies of the case plus its labels at the peak
// (the crop is cut and reoriented in one pass; resampling shrinks the
// strongest-reduced axis first and works in place where it can).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/spec.h"
#include "common/status.h"
#include "jobs/data/dataset.h"
#include "jobs/data/orientation.h"
#include "jobs/data/volume.h"
#include "jobs/preprocess/crop.h"
#include "jobs/preprocess/planner.h"

namespace nephron::preprocess {

// Everything needed to undo the preprocessing at export time.
struct CaseProperties {
  std::string id;
  std::string image_path, label_path;
  data::Shape3 original_shape{};       // file array order
  data::Geometry original_geometry;    // as in the file (ITK order)
  BBox crop;                           // file array order
  data::Reorientation to_network;      // cropped file-order block -> network order
  data::Shape3 shape_after_crop{};     // network order
  data::Vec3 spacing_after_crop{};     // network order
  data::Shape3 shape_after_resample{};
  data::Vec3 spacing{};                // target spacing, network order
  std::array<int64_t, 4> num_locations{};  // per class (index 1.. used)
  // Seconds per step: read, crop, normalize, resample_image, resample_labels, locations, write.
  std::vector<std::pair<std::string, double>> seconds;
};

struct PreprocessedCase {
  CaseProperties props;
  std::vector<float> image;   // network order, shape props.shape_after_resample
  std::vector<int8_t> seg;    // empty for a test case; -1 = outside the body mask
  std::vector<std::array<int32_t, 4>> locations;  // (class, a, b, c), network order
};

// CT normalisation: clip to [p0.5, p99.5], then (x - mean) / max(std, 1e-8).
void NormalizeCt(std::vector<float>* v, const IntensityStats& s, int threads);

// nnU-Net's foreground location sampling (RandomState(seed), per class:
// min(n_max, n) locations, at least ceil(n * min_coverage), without replacement).
std::vector<std::array<int32_t, 4>> SampleClassLocations(const std::vector<int8_t>& seg, const data::Shape3& shape,
                                                         int num_classes, int n_max, double min_coverage,
                                                         uint32_t seed);

// The reorientation from file array order to network order: canonical
// reorientation (if the plan asks for it) followed by the plan's transpose.
data::Reorientation NetworkReorientation(const data::Geometry& g, const Plan& plan);

Result<PreprocessedCase> PreprocessCase(const data::CaseFiles& c, const Plan& plan, const PreprocessSpec& spec,
                                        int threads);

// <dir>/<id>.npy (float32 [1, a, b, c]), <id>_seg.npy (int8 [1, a, b, c]),
// <id>_locations.npy (int32 [N, 4]), and <id>.json written last.
Status WritePreprocessedCase(const std::string& dir, const PreprocessedCase& pc, const std::string& plan_id);

Json PropertiesToJson(const CaseProperties& p);
Result<CaseProperties> PropertiesFromJson(const Json& j, const std::string& source);

}  // namespace nephron::preprocess
