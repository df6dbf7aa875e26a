#include "jobs/preprocess/fingerprint.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "common/fs_util.h"
#include "jobs/data/nifti_io.h"
#include "jobs/data/npy.h"
#include "jobs/data/numpy_random.h"
#include "jobs/data/orientation.h"
#include "jobs/preprocess/crop.h"

namespace nephron::preprocess {

double PercentileSorted(const std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double f = pos - static_cast<double>(lo);
  return static_cast<double>(v[lo]) + f * (static_cast<double>(v[hi]) - static_cast<double>(v[lo]));
}

Json IntensityStatsToJson(const IntensityStats& s) {
  return {{"mean", s.mean},
          {"median", s.median},
          {"std", s.std},
          {"min", s.min},
          {"max", s.max},
          {"percentile_00_5", s.percentile_00_5},
          {"percentile_99_5", s.percentile_99_5}};
}

IntensityStats IntensityStatsFromJson(const Json& p) {
  IntensityStats s;
  s.mean = p.at("mean").get<double>();
  s.median = p.at("median").get<double>();
  s.std = p.at("std").get<double>();
  s.min = p.at("min").get<double>();
  s.max = p.at("max").get<double>();
  s.percentile_00_5 = p.at("percentile_00_5").get<double>();
  s.percentile_99_5 = p.at("percentile_99_5").get<double>();
  return s;
}

IntensityStats ComputeIntensityStats(std::vector<float> v) {
  IntensityStats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (float x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  double ss = 0;
  for (float x : v) ss += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(ss / static_cast<double>(v.size()));
  s.min = v.front();
  s.max = v.back();
  s.median = PercentileSorted(v, 50);
  s.percentile_00_5 = PercentileSorted(v, 0.5);
  s.percentile_99_5 = PercentileSorted(v, 99.5);
  return s;
}

Status CheckGeometryMatch(const data::Geometry& gi, const data::Shape3& si, const data::Geometry& gl,
                          const data::Shape3& sl, const std::string& id, const std::string& ip,
                          const std::string& lp) {
  auto fail = [&](const std::string& field, const std::string& detail) {
    return InvalidArgument("case " + id + ": image/label geometry mismatch in " + field + " (" + detail +
                           "); image " + ip + ", label " + lp);
  };
  auto vec = [](const auto& a, size_t n) {
    std::ostringstream ss;
    ss << "(";
    for (size_t i = 0; i < n; ++i) ss << (i ? ", " : "") << a[i];
    ss << ")";
    return ss.str();
  };
  if (si != sl) return fail("shape", "image " + vec(si, 3) + " vs label " + vec(sl, 3));
  for (int i = 0; i < 3; ++i)
    if (std::fabs(gi.spacing[i] - gl.spacing[i]) > 1e-3 * std::max(1.0, std::fabs(gi.spacing[i])))
      return fail("spacing", "image " + vec(gi.spacing, 3) + " vs label " + vec(gl.spacing, 3));
  for (int i = 0; i < 3; ++i)
    if (std::fabs(gi.origin[i] - gl.origin[i]) > 1e-2 * std::max(1.0, *std::min_element(gi.spacing.begin(), gi.spacing.end())))
      return fail("origin", "image " + vec(gi.origin, 3) + " vs label " + vec(gl.origin, 3));
  for (int i = 0; i < 9; ++i)
    if (std::fabs(gi.direction[i] - gl.direction[i]) > 1e-4)
      return fail("direction", "image " + vec(gi.direction, 9) + " vs label " + vec(gl.direction, 9));
  return Status::Ok();
}

Result<CaseFingerprint> FingerprintCase(const data::CaseFiles& c, const FingerprintSpec& spec, bool reorient,
                                        int64_t num_cases, int max_label) {
  if (c.label.empty()) return InvalidArgument("case " + c.id + ": has no label file; fingerprints need training cases");
  auto img = data::ReadImage(c.image);
  if (!img.ok()) return img.status().WithContext("case " + c.id);
  auto lab = data::ReadLabels(c.label, max_label);
  if (!lab.ok()) return lab.status().WithContext("case " + c.id);
  RETURN_IF_ERROR(CheckGeometryMatch(img->geometry, img->shape, lab->geometry, lab->shape, c.id, c.image, c.label));

  CaseFingerprint f;
  f.id = c.id;
  f.direction = img->geometry.direction;
  // Cropping commutes with permuting/flipping axes, so compute in file order
  // and only permute the reported shapes and spacing.
  std::vector<uint8_t> mask = NonzeroMask(*img);
  const BBox box = MaskBoundingBox(mask, img->shape);
  mask.clear();
  mask.shrink_to_fit();
  data::Reorientation r;
  if (reorient) r = data::CanonicalReorientation(img->geometry);
  const data::Vec3 sp = img->geometry.ArraySpacing();
  const data::Shape3 cs = box.Shape();
  for (int m = 0; m < 3; ++m) {
    f.spacing[m] = sp[r.perm[m]];
    f.shape_before_crop[m] = img->shape[r.perm[m]];
    f.shape_after_crop[m] = cs[r.perm[m]];
  }
  f.relative_size_after_cropping =
      static_cast<double>(data::NumVoxels(cs)) / static_cast<double>(data::NumVoxels(img->shape));

  // Foreground voxels in file order (the order does not depend on sharding).
  std::vector<float> fg;
  for (size_t i = 0; i < lab->data.size(); ++i)
    if (lab->data[i] > 0) fg.push_back(img->data[i]);
  f.num_foreground_voxels = static_cast<int64_t>(fg.size());
  if (!fg.empty()) {
    const int64_t n = std::max<int64_t>(1, spec.foreground_samples_total / std::max<int64_t>(1, num_cases));
    data::NumpyRandomState rs(spec.seed);
    f.samples.resize(static_cast<size_t>(n));
    for (auto& s : f.samples) s = fg[static_cast<size_t>(rs.RandInt(static_cast<int64_t>(fg.size())))];
  }
  return f;
}

namespace {
template <typename T, size_t N>
bool ToArr(const Json& j, std::array<T, N>* out) {
  if (!j.is_array() || j.size() != N) return false;
  for (size_t i = 0; i < N; ++i) {
    if (!j[i].is_number()) return false;
    (*out)[i] = j[i].get<T>();
  }
  return true;
}
}  // namespace

Status WriteCaseFingerprint(const std::string& dir, const CaseFingerprint& f) {
  RETURN_IF_ERROR(MakeDirs(dir));
  RETURN_IF_ERROR(data::WriteNpy<float>(dir + "/" + f.id + "_samples.npy", {static_cast<int64_t>(f.samples.size())},
                                        f.samples.data()));
  Json j = {{"id", f.id},
            {"spacing", Json(f.spacing)},
            {"shape_before_crop", Json(f.shape_before_crop)},
            {"shape_after_crop", Json(f.shape_after_crop)},
            {"direction", Json(f.direction)},
            {"relative_size_after_cropping", f.relative_size_after_cropping},
            {"num_foreground_voxels", f.num_foreground_voxels},
            {"num_samples", f.samples.size()}};
  // The JSON is written last: its presence means the case is complete.
  return WriteJsonFile(dir + "/" + f.id + ".json", j);
}

Result<CaseFingerprint> ReadCaseFingerprint(const std::string& dir, const std::string& id) {
  const std::string path = dir + "/" + id + ".json";
  if (!FileExists(path)) return NotFound(path + ": no fingerprint for case " + id);
  ASSIGN_OR_RETURN(Json j, ReadJsonFile(path));
  CaseFingerprint f;
  try {
    f.id = j.at("id").get<std::string>();
    if (!ToArr(j.at("spacing"), &f.spacing) || !ToArr(j.at("shape_before_crop"), &f.shape_before_crop) ||
        !ToArr(j.at("shape_after_crop"), &f.shape_after_crop) || !ToArr(j.at("direction"), &f.direction))
      return InvalidArgument(path + ": malformed spacing/shape/direction field");
    f.relative_size_after_cropping = j.at("relative_size_after_cropping").get<double>();
    f.num_foreground_voxels = j.at("num_foreground_voxels").get<int64_t>();
  } catch (const Json::exception& e) {
    return InvalidArgument(path + ": " + e.what());
  }
  ASSIGN_OR_RETURN(data::NpyArray a, data::ReadNpy(dir + "/" + id + "_samples.npy"));
  if (a.dtype != "<f4") return InvalidArgument(dir + "/" + id + "_samples.npy: expected float32 samples");
  f.samples.assign(a.As<float>(), a.As<float>() + a.NumElements());
  return f;
}

DatasetFingerprint MergeFingerprints(std::vector<CaseFingerprint> cases) {
  std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  DatasetFingerprint d;
  std::vector<float> pooled;
  std::vector<double> rel;
  for (const auto& c : cases) {
    d.case_ids.push_back(c.id);
    d.spacings.push_back(c.spacing);
    d.shapes_after_crop.push_back(c.shape_after_crop);
    pooled.insert(pooled.end(), c.samples.begin(), c.samples.end());
    rel.push_back(c.relative_size_after_cropping);
  }
  d.num_samples = static_cast<int64_t>(pooled.size());
  d.intensity = ComputeIntensityStats(std::move(pooled));
  if (!rel.empty()) {
    std::sort(rel.begin(), rel.end());
    const size_t n = rel.size();
    d.median_relative_size_after_cropping = n % 2 ? rel[n / 2] : 0.5 * (rel[n / 2 - 1] + rel[n / 2]);
  }
  return d;
}

Json FingerprintToJson(const DatasetFingerprint& f) {
  Json spacings = Json::array(), shapes = Json::array();
  for (const auto& s : f.spacings) spacings.push_back(Json(s));
  for (const auto& s : f.shapes_after_crop) shapes.push_back(Json(s));
  return Json{{"case_identifiers", f.case_ids},
              {"spacings", spacings},
              {"shapes_after_crop", shapes},
              {"foreground_intensity_properties_per_channel", {{"0", IntensityStatsToJson(f.intensity)}}},
              {"median_relative_size_after_cropping", f.median_relative_size_after_cropping},
              {"num_foreground_samples", f.num_samples}};
}

Result<DatasetFingerprint> FingerprintFromJson(const Json& j, const std::string& source) {
  DatasetFingerprint f;
  try {
    f.case_ids = j.at("case_identifiers").get<std::vector<std::string>>();
    for (const auto& s : j.at("spacings")) {
      data::Vec3 v{};
      if (!ToArr(s, &v)) return InvalidArgument(source + ": field spacings: expected lists of 3 numbers");
      f.spacings.push_back(v);
    }
    for (const auto& s : j.at("shapes_after_crop")) {
      data::Shape3 v{};
      if (!ToArr(s, &v)) return InvalidArgument(source + ": field shapes_after_crop: expected lists of 3 integers");
      f.shapes_after_crop.push_back(v);
    }
    f.intensity = IntensityStatsFromJson(j.at("foreground_intensity_properties_per_channel").at("0"));
    f.median_relative_size_after_cropping = j.at("median_relative_size_after_cropping").get<double>();
    f.num_samples = j.value("num_foreground_samples", int64_t{0});
  } catch (const Json::exception& e) {
    return InvalidArgument(source + ": " + e.what());
  }
  if (f.spacings.size() != f.case_ids.size() || f.shapes_after_crop.size() != f.case_ids.size())
    return InvalidArgument(source + ": spacings/shapes_after_crop/case_identifiers have different lengths");
  return f;
}

}  // namespace nephron::preprocess
