#include "jobs/preprocess/preprocessor.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/fs_util.h"
#include "jobs/data/nifti_io.h"
#include "jobs/data/npy.h"
#include "jobs/data/numpy_random.h"
#include "jobs/preprocess/fingerprint.h"
#include "jobs/preprocess/resample.h"
#include "jobs/preprocess/thread_pool.h"

namespace nephron::preprocess {

using Clock = std::chrono::steady_clock;

void NormalizeCt(std::vector<float>* v, const IntensityStats& s, int threads) {
  const float lo = static_cast<float>(s.percentile_00_5), hi = static_cast<float>(s.percentile_99_5);
  const float mean = static_cast<float>(s.mean), inv = static_cast<float>(1.0 / std::max(s.std, 1e-8));
  float* d = v->data();
  ParallelFor(static_cast<int64_t>(v->size()), threads, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) d[i] = (std::min(std::max(d[i], lo), hi) - mean) * inv;
  });
}

std::vector<std::array<int32_t, 4>> SampleClassLocations(const std::vector<int8_t>& seg, const data::Shape3& s,
                                                         int num_classes, int n_max, double min_coverage,
                                                         uint32_t seed) {
  std::vector<std::array<int32_t, 4>> out;
  data::NumpyRandomState rs(seed);
  for (int cls = 1; cls < num_classes; ++cls) {
    std::vector<int64_t> all;
    for (size_t i = 0; i < seg.size(); ++i)
      if (seg[i] == cls) all.push_back(static_cast<int64_t>(i));
    if (all.empty()) continue;
    const int64_t n = static_cast<int64_t>(all.size());
    int64_t target = std::min<int64_t>(n_max, n);
    target = std::max<int64_t>(target, static_cast<int64_t>(std::ceil(static_cast<double>(n) * min_coverage)));
    // choice(n, target, replace=False) == permutation(n)[:target]
    std::vector<int64_t> perm(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
    rs.Shuffle(&perm);
    for (int64_t k = 0; k < target; ++k) {
      const int64_t i = all[static_cast<size_t>(perm[static_cast<size_t>(k)])];
      out.push_back({cls, static_cast<int32_t>(i / (s[1] * s[2])), static_cast<int32_t>((i / s[2]) % s[1]),
                     static_cast<int32_t>(i % s[2])});
    }
  }
  return out;
}

data::Reorientation NetworkReorientation(const data::Geometry& g, const Plan& plan) {
  data::Reorientation r;
  if (plan.reorient) r = data::CanonicalReorientation(g);
  data::Reorientation out;
  for (int m = 0; m < 3; ++m) {
    out.perm[m] = r.perm[plan.transpose_forward[m]];
    out.flip[m] = r.flip[plan.transpose_forward[m]];
  }
  return out;
}

namespace {

// Cuts `box` out of `in` and reorients it in one pass.
template <typename In, typename Out, typename F>
std::vector<Out> CutReoriented(const data::Volume<In>& in, const BBox& box, const data::Reorientation& r,
                               data::Shape3* out_shape, int threads, F convert) {
  const data::Shape3 sub = box.Shape();
  const data::Shape3 os = data::ReorientedShape(sub, r);
  *out_shape = os;
  std::vector<Out> out(static_cast<size_t>(data::NumVoxels(os)));
  const int64_t stride[3] = {in.shape[1] * in.shape[2], in.shape[2], 1};
  int64_t step[3], start = box.lo[0] * stride[0] + box.lo[1] * stride[1] + box.lo[2];
  for (int m = 0; m < 3; ++m) {
    const int64_t st = stride[r.perm[m]];
    step[m] = r.flip[m] ? -st : st;
    if (r.flip[m]) start += (os[m] - 1) * st;
  }
  ParallelFor(os[0], threads, [&](int64_t b0, int64_t e0) {
    for (int64_t a = b0; a < e0; ++a) {
      size_t o = static_cast<size_t>(a * os[1] * os[2]);
      for (int64_t b = 0; b < os[1]; ++b) {
        int64_t i = start + a * step[0] + b * step[1];
        for (int64_t c = 0; c < os[2]; ++c, i += step[2]) out[o++] = convert(in.data[static_cast<size_t>(i)], i);
      }
    }
  });
  return out;
}

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

Result<PreprocessedCase> PreprocessCase(const data::CaseFiles& c, const Plan& plan, const PreprocessSpec& spec,
                                        int threads) {
  PreprocessedCase pc;
  CaseProperties& p = pc.props;
  p.id = c.id;
  p.image_path = c.image;
  p.label_path = c.label;

  auto t = Clock::now();
  auto img = data::ReadImage(c.image);
  if (!img.ok()) return img.status().WithContext("case " + c.id);
  data::Volume<uint8_t> lab;
  const bool has_labels = !c.label.empty();
  if (has_labels) {
    auto l = data::ReadLabels(c.label, plan.num_classes - 1);
    if (!l.ok()) return l.status().WithContext("case " + c.id);
    lab = std::move(l).value();
    RETURN_IF_ERROR(CheckGeometryMatch(img->geometry, img->shape, lab.geometry, lab.shape, c.id, c.image, c.label));
  }
  p.seconds.push_back({"read", Since(t)});

  t = Clock::now();
  p.original_shape = img->shape;
  p.original_geometry = img->geometry;
  std::vector<uint8_t> mask = NonzeroMask(*img);
  p.crop = MaskBoundingBox(mask, img->shape);
  p.to_network = NetworkReorientation(img->geometry, plan);
  const data::Vec3 file_spacing = img->geometry.ArraySpacing();
  for (int m = 0; m < 3; ++m) p.spacing_after_crop[m] = file_spacing[p.to_network.perm[m]];
  pc.image = CutReoriented<float, float>(*img, p.crop, p.to_network, &p.shape_after_crop, threads,
                                         [](float v, int64_t) { return v; });
  img = data::Volume<float>();  // release the full-size image
  if (has_labels) {
    data::Shape3 s;
    pc.seg = CutReoriented<uint8_t, int8_t>(lab, p.crop, p.to_network, &s, threads, [&](uint8_t v, int64_t i) {
      return static_cast<int8_t>(v == 0 && !mask[static_cast<size_t>(i)] ? -1 : v);
    });
    lab = data::Volume<uint8_t>();
  }
  std::vector<uint8_t>().swap(mask);
  p.seconds.push_back({"crop", Since(t)});

  double norm_seconds = 0;
  if (plan.normalize_before_resample) {
    t = Clock::now();
    NormalizeCt(&pc.image, plan.intensity, threads);
    norm_seconds += Since(t);
  }

  t = Clock::now();
  p.spacing = plan.spacing;
  p.shape_after_resample = ComputeNewShape(p.shape_after_crop, p.spacing_after_crop, plan.spacing);
  const int sep = SeparateZAxis(p.spacing_after_crop, plan.spacing, plan.anisotropy_threshold);
  const Interp img_kernel = plan.image_interpolation == "linear" ? Interp::kLinear : Interp::kBSpline3;
  pc.image = ResampleImage(std::move(pc.image), p.shape_after_crop, p.shape_after_resample, AxisKernels(img_kernel, sep),
                           threads);
  p.seconds.push_back({"resample_image", Since(t)});
  t = Clock::now();
  if (has_labels) {
    const Interp lab_kernel = plan.label_interpolation == "nearest" ? Interp::kNearest : Interp::kLinear;
    pc.seg = ResampleLabels(pc.seg, p.shape_after_crop, p.shape_after_resample, AxisKernels(lab_kernel, sep), threads);
  }
  p.seconds.push_back({"resample_labels", Since(t)});

  if (!plan.normalize_before_resample) {
    t = Clock::now();
    NormalizeCt(&pc.image, plan.intensity, threads);
    norm_seconds += Since(t);
  }
  p.seconds.push_back({"normalize", norm_seconds});

  t = Clock::now();
  if (has_labels) {
    pc.locations = SampleClassLocations(pc.seg, p.shape_after_resample, plan.num_classes,
                                        spec.foreground_locations_per_class, spec.min_location_coverage, spec.seed);
    for (const auto& l : pc.locations) p.num_locations[static_cast<size_t>(l[0])]++;
  }
  p.seconds.push_back({"locations", Since(t)});
  return pc;
}

Json PropertiesToJson(const CaseProperties& p) {
  Json sec = Json::object();
  for (const auto& [k, v] : p.seconds) sec[k] = v;
  Json locs = Json::object();
  for (size_t i = 1; i < p.num_locations.size(); ++i)
    if (p.num_locations[i]) locs[std::to_string(i)] = p.num_locations[i];
  return Json{{"id", p.id},
              {"image", p.image_path},
              {"label", p.label_path},
              {"original_shape", p.original_shape},
              {"original_geometry",
               {{"spacing", p.original_geometry.spacing},
                {"origin", p.original_geometry.origin},
                {"direction", p.original_geometry.direction}}},
              {"bbox_used_for_cropping",
               {{p.crop.lo[0], p.crop.hi[0]}, {p.crop.lo[1], p.crop.hi[1]}, {p.crop.lo[2], p.crop.hi[2]}}},
              {"to_network", {{"perm", p.to_network.perm}, {"flip", p.to_network.flip}}},
              {"shape_after_cropping", p.shape_after_crop},
              {"spacing_after_cropping", p.spacing_after_crop},
              {"shape_after_resampling", p.shape_after_resample},
              {"spacing", p.spacing},
              {"class_locations", locs},
              {"seconds", sec}};
}

Result<CaseProperties> PropertiesFromJson(const Json& j, const std::string& source) {
  CaseProperties p;
  try {
    p.id = j.at("id").get<std::string>();
    p.image_path = j.at("image").get<std::string>();
    p.label_path = j.at("label").get<std::string>();
    p.original_shape = j.at("original_shape").get<data::Shape3>();
    p.original_geometry.spacing = j.at("original_geometry").at("spacing").get<data::Vec3>();
    p.original_geometry.origin = j.at("original_geometry").at("origin").get<data::Vec3>();
    p.original_geometry.direction = j.at("original_geometry").at("direction").get<std::array<double, 9>>();
    const Json& b = j.at("bbox_used_for_cropping");
    for (int i = 0; i < 3; ++i) {
      p.crop.lo[i] = b.at(i).at(0).get<int64_t>();
      p.crop.hi[i] = b.at(i).at(1).get<int64_t>();
    }
    p.to_network.perm = j.at("to_network").at("perm").get<std::array<int, 3>>();
    p.to_network.flip = j.at("to_network").at("flip").get<std::array<bool, 3>>();
    p.shape_after_crop = j.at("shape_after_cropping").get<data::Shape3>();
    p.spacing_after_crop = j.at("spacing_after_cropping").get<data::Vec3>();
    p.shape_after_resample = j.at("shape_after_resampling").get<data::Shape3>();
    p.spacing = j.at("spacing").get<data::Vec3>();
    for (const auto& [k, v] : j.at("class_locations").items()) {
      const int cls = std::stoi(k);
      if (cls > 0 && cls < 4) p.num_locations[static_cast<size_t>(cls)] = v.get<int64_t>();
    }
    for (const auto& [k, v] : j.at("seconds").items()) p.seconds.push_back({k, v.get<double>()});
  } catch (const std::exception& e) {
    return InvalidArgument(source + ": malformed case properties: " + e.what());
  }
  return p;
}

Status WritePreprocessedCase(const std::string& dir, const PreprocessedCase& pc, const std::string& plan_id) {
  RETURN_IF_ERROR(MakeDirs(dir));
  const auto& s = pc.props.shape_after_resample;
  const std::vector<int64_t> shape4{1, s[0], s[1], s[2]};
  const std::string base = dir + "/" + pc.props.id;
  RETURN_IF_ERROR(data::WriteNpy<float>(base + ".npy", shape4, pc.image.data()));
  if (!pc.seg.empty()) RETURN_IF_ERROR(data::WriteNpy<int8_t>(base + "_seg.npy", shape4, pc.seg.data()));
  RETURN_IF_ERROR(data::WriteNpy<int32_t>(base + "_locations.npy", {static_cast<int64_t>(pc.locations.size()), 4},
                                          reinterpret_cast<const int32_t*>(pc.locations.data())));
  Json j = PropertiesToJson(pc.props);
  j["plan_id"] = plan_id;
  return WriteJsonFile(base + ".json", j);
}

}  // namespace nephron::preprocess
