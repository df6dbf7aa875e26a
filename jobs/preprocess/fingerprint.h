// Data set fingerprint (nnU-Net's DatasetFingerprintExtractor).
//
// Per case: spacing and shapes in canonical array order (after the optional
// reorientation), the crop's relative size, and foreground intensity samples
// (voxels with label > 0) drawn with replacement by a fresh seeded generator,
// so a case's fingerprint depends only on the case, the seed and the total
// number of cases — never on which shard computed it. Merging sorts cases
// by id, so shards merge to exactly the single-run result.
#pragma once

#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/spec.h"
#include "common/status.h"
#include "jobs/data/dataset.h"
#include "jobs/data/volume.h"

namespace nephron::preprocess {

struct IntensityStats {
  double mean = 0, median = 0, std = 0, min = 0, max = 0, percentile_00_5 = 0, percentile_99_5 = 0;
};

struct CaseFingerprint {
  std::string id;
  data::Vec3 spacing{};                // canonical array order
  data::Shape3 shape_before_crop{};    // canonical array order
  data::Shape3 shape_after_crop{};
  std::array<double, 9> direction{};   // as stored in the file (ITK order)
  double relative_size_after_cropping = 1;
  int64_t num_foreground_voxels = 0;
  std::vector<float> samples;          // foreground intensity samples
};

// Computes the statistics nnU-Net reports (numpy's mean, median, std, min, max
// and linearly interpolated percentiles). Empty input gives zeros.
IntensityStats ComputeIntensityStats(std::vector<float> values);
// nnU-Net's keys: mean, median, std, min, max, percentile_00_5, percentile_99_5.
Json IntensityStatsToJson(const IntensityStats& s);
// Throws Json::exception on a missing key (callers add the file name).
IntensityStats IntensityStatsFromJson(const Json& j);
// numpy.percentile (linear) of sorted values.
double PercentileSorted(const std::vector<float>& sorted, double q);

// Reads a training case and computes its fingerprint. Errors name the case
// and the file (unreadable, geometry mismatch, bad labels).
Result<CaseFingerprint> FingerprintCase(const data::CaseFiles& c, const FingerprintSpec& spec, bool reorient,
                                        int64_t num_cases, int max_label);

// Files: <dir>/<id>.json (everything but samples) and <dir>/<id>_samples.npy.
Status WriteCaseFingerprint(const std::string& dir, const CaseFingerprint& f);
Result<CaseFingerprint> ReadCaseFingerprint(const std::string& dir, const std::string& id);

struct DatasetFingerprint {
  std::vector<std::string> case_ids;  // sorted
  std::vector<data::Vec3> spacings;
  std::vector<data::Shape3> shapes_after_crop;
  IntensityStats intensity;
  double median_relative_size_after_cropping = 1;
  int64_t num_samples = 0;
};

DatasetFingerprint MergeFingerprints(std::vector<CaseFingerprint> cases);
// nnU-Net's dataset_fingerprint.json keys, plus "case_identifiers".
Json FingerprintToJson(const DatasetFingerprint& f);
Result<DatasetFingerprint> FingerprintFromJson(const Json& j, const std::string& source);

// Checks image/label geometry agreement (shape exact; spacing, origin and
// direction within tolerance). Returns InvalidArgument naming the field.
Status CheckGeometryMatch(const data::Geometry& img, const data::Shape3& img_shape, const data::Geometry& lab,
                          const data::Shape3& lab_shape, const std::string& case_id, const std::string& image_path,
                          const std::string& label_path);

}  // namespace nephron::preprocess
