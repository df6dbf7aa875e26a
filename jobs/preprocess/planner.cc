#include "jobs/preprocess/planner.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace nephron::preprocess {

namespace {

std::array<double, 3> PadShape(const std::array<double, 3>& s, const Int3& d) {
  std::array<double, 3> out;
  for (int i = 0; i < 3; ++i) out[i] = std::ceil(s[i] / d[i]) * d[i];
  return out;
}

Int3 DivisibleBy(const Int3& num_pool) { return {1 << num_pool[0], 1 << num_pool[1], 1 << num_pool[2]}; }

Int3 ToInt3(const std::array<double, 3>& a) {
  return {static_cast<int>(std::llround(a[0])), static_cast<int>(std::llround(a[1])), static_cast<int>(std::llround(a[2]))};
}

// numpy.percentile(..., 50) per axis (the median, mean of the middle two).
template <typename T>
std::array<double, 3> MedianPerAxis(const std::vector<std::array<T, 3>>& v) {
  std::array<double, 3> out{};
  for (int a = 0; a < 3; ++a) {
    std::vector<double> col;
    for (const auto& x : v) col.push_back(static_cast<double>(x[a]));
    std::sort(col.begin(), col.end());
    const size_t n = col.size();
    out[a] = n == 0 ? 0 : (n % 2 ? col[n / 2] : 0.5 * (col[n / 2 - 1] + col[n / 2]));
  }
  return out;
}

double Percentile(std::vector<double> col, double q) {
  std::sort(col.begin(), col.end());
  const double pos = q / 100.0 * static_cast<double>(col.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, col.size() - 1);
  return col[lo] + (pos - static_cast<double>(lo)) * (col[hi] - col[lo]);
}

int ArgMax(const data::Vec3& v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

int64_t Prod(const Int3& a) { return static_cast<int64_t>(a[0]) * a[1] * a[2]; }

}  // namespace

Topology PoolAndConvPropsV2(const data::Vec3& spacing, const std::array<double, 3>& patch, int min_fm, int max_numpool) {
  Topology t;
  data::Vec3 cur_sp = spacing;
  std::array<double, 3> cur_size = patch;
  t.strides.push_back({1, 1, 1});
  Int3 kernel{1, 1, 1};
  while (true) {
    std::vector<int> valid;
    for (int i = 0; i < 3; ++i)
      if (cur_size[i] >= 2 * min_fm) valid.push_back(i);
    if (valid.empty()) break;
    double min_sp = 1e300;
    for (int i : valid) min_sp = std::min(min_sp, cur_sp[i]);
    std::vector<int> v2;
    for (int i : valid)
      if (cur_sp[i] / min_sp < 2 && t.num_pool_per_axis[i] < max_numpool) v2.push_back(i);
    valid = v2;
    if (valid.size() == 1 && !(cur_size[valid[0]] >= 3 * min_fm)) break;
    if (valid.empty()) break;
    const double global_min = *std::min_element(cur_sp.begin(), cur_sp.end());
    for (int d = 0; d < 3; ++d)
      if (kernel[d] != 3 && cur_sp[d] / global_min < 2) kernel[d] = 3;
    Int3 pool{1, 1, 1};
    for (int v : valid) {
      pool[v] = 2;
      t.num_pool_per_axis[v] += 1;
      cur_sp[v] *= 2;
      cur_size[v] = std::ceil(cur_size[v] / 2);
    }
    t.strides.push_back(pool);
    t.kernel_sizes.push_back(kernel);
  }
  t.must_be_divisible_by = DivisibleBy(t.num_pool_per_axis);
  t.patch_size = PadShape(patch, t.must_be_divisible_by);
  t.kernel_sizes.push_back({3, 3, 3});
  return t;
}

Topology PoolAndConvPropsV1(const data::Vec3& spacing, const std::array<double, 3>& patch, int min_fm, int max_numpool) {
  Topology t;
  data::Vec3 cur_sp = spacing;
  std::array<double, 3> cur_size = patch;
  t.strides.push_back({1, 1, 1});
  while (true) {
    const double min_sp = *std::min_element(cur_sp.begin(), cur_sp.end());
    std::vector<int> valid;
    for (int i = 0; i < 3; ++i)
      if (cur_sp[i] / min_sp < 2) valid.push_back(i);
    // The largest group of axes whose spacings are within a factor 2 of each other get 3-wide kernels.
    std::vector<int> axes;
    for (int a = 0; a < 3; ++a) {
      std::vector<int> partners;
      for (int i = 0; i < 3; ++i)
        if (cur_sp[i] / cur_sp[a] < 2 && cur_sp[a] / cur_sp[i] < 2) partners.push_back(i);
      if (partners.size() > axes.size()) axes = partners;
    }
    Int3 kernel{1, 1, 1};
    for (int i : axes) kernel[i] = 3;
    std::vector<int> v2;
    for (int i : valid)
      if (cur_size[i] >= 2 * min_fm && t.num_pool_per_axis[i] < max_numpool) v2.push_back(i);
    if (v2.empty()) break;
    Int3 pool{1, 1, 1};
    for (int v : v2) {
      pool[v] = 2;
      t.num_pool_per_axis[v] += 1;
      cur_sp[v] *= 2;
      cur_size[v] = std::ceil(cur_size[v] / 2);
    }
    t.strides.push_back(pool);
    t.kernel_sizes.push_back(kernel);
  }
  t.must_be_divisible_by = DivisibleBy(t.num_pool_per_axis);
  t.patch_size = PadShape(patch, t.must_be_divisible_by);
  t.kernel_sizes.push_back({3, 3, 3});
  return t;
}

std::vector<int> FeaturesPerStage(int n_stages, int base, int max) {
  std::vector<int> f;
  for (int i = 0; i < n_stages; ++i) f.push_back(static_cast<int>(std::min<int64_t>(max, static_cast<int64_t>(base) << i)));
  return f;
}

int64_t PlainConvUNetFeatureMapSize(const Int3& patch, const std::vector<Int3>& strides, const std::vector<int>& features,
                                    int n_conv_encoder, int n_conv_decoder, int num_classes) {
  const size_t n = strides.size();
  std::vector<Int3> sizes;  // size after each encoder stage's stride
  Int3 s = patch;
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    for (int a = 0; a < 3; ++a) s[a] /= strides[i][a];
    sizes.push_back(s);
    total += static_cast<int64_t>(n_conv_encoder) * features[i] * Prod(s);
  }
  for (size_t d = 0; d + 1 < n; ++d) {
    const size_t level = n - 2 - d;
    const int64_t vox = Prod(sizes[level]);
    total += static_cast<int64_t>(n_conv_decoder) * features[level] * vox;  // conv blocks
    total += static_cast<int64_t>(features[level]) * vox;                   // transposed conv
    if (d + 2 == n) total += static_cast<int64_t>(num_classes) * vox;       // segmentation head
  }
  return total;
}

int64_t GenericUNetApproxVram(const Int3& patch, const Int3& num_pool_per_axis, int base, int max_features,
                              int num_modalities, int num_classes, const std::vector<Int3>& pool_kernel_sizes,
                              int conv_per_stage) {
  (void)num_pool_per_axis;
  Int3 map = patch;
  const int64_t npool = static_cast<int64_t>(pool_kernel_sizes.size());
  int64_t tmp = (conv_per_stage * 2 + 1) * Prod(map) * base + num_modalities * Prod(map) + num_classes * Prod(map);
  int64_t feat = base;
  for (int64_t p = 0; p < npool; ++p) {
    for (int a = 0; a < 3; ++a) map[a] /= pool_kernel_sizes[static_cast<size_t>(p)][a];
    feat = std::min<int64_t>(feat * 2, max_features);
    const int64_t blocks = p < npool - 1 ? conv_per_stage * 2 + 1 : conv_per_stage;
    tmp += blocks * Prod(map) * feat;
  }
  return tmp;
}

data::Vec3 TargetSpacingFromFingerprint(const DatasetFingerprint& f, double thr) {
  std::vector<data::Vec3> sp = f.spacings;
  data::Vec3 target = MedianPerAxis(sp);
  const std::array<double, 3> target_size = MedianPerAxis(f.shapes_after_crop);
  const int worst = ArgMax(target);
  double max_other_sp = 0, min_other_size = 1e300;
  for (int i = 0; i < 3; ++i)
    if (i != worst) {
      max_other_sp = std::max(max_other_sp, target[i]);
      min_other_size = std::min(min_other_size, target_size[i]);
    }
  const bool aniso_spacing = target[worst] > thr * max_other_sp;
  const bool aniso_voxels = target_size[worst] * thr < min_other_size;
  if (aniso_spacing && aniso_voxels) {
    std::vector<double> col;
    for (const auto& s : sp) col.push_back(s[worst]);
    double t = Percentile(col, 10);
    if (t < max_other_sp) t = std::max(max_other_sp, t) + 1e-5;
    target[worst] = t;
  }
  return target;
}

namespace {

// v2 ExperimentPlanner.get_plans_for_configuration.
void PlanV2(Plan* p, const PlanSpec& s, double n_voxels_dataset) {
  const data::Vec3& sp = p->spacing;
  std::array<double, 3> tmp{1 / sp[0], 1 / sp[1], 1 / sp[2]};
  const double scale = std::cbrt(256.0 * 256.0 * 256.0 / (tmp[0] * tmp[1] * tmp[2]));
  std::array<double, 3> initial;
  for (int i = 0; i < 3; ++i) initial[i] = std::min<double>(std::nearbyint(tmp[i] * scale), p->median_shape[i]);
  const int maxpool = 999999;
  Topology t = PoolAndConvPropsV2(sp, initial, s.featuremap_min_edge, maxpool);
  auto estimate = [&](const Topology& tt) {
    const auto feats = FeaturesPerStage(static_cast<int>(tt.strides.size()), 32, s.max_features);
    return PlainConvUNetFeatureMapSize(ToInt3(tt.patch_size), tt.strides, feats, s.conv_per_stage, s.conv_per_stage,
                                       p->num_classes);
  };
  const double reference = 560000000.0 * (s.gpu_memory_gb / 8.0);
  int64_t est = estimate(t);
  while (static_cast<double>(est) > reference) {
    int axis = 0;
    double worst = -1;
    for (int i = 0; i < 3; ++i) {
      const double r = t.patch_size[i] / p->median_shape[i];
      if (r >= worst) worst = r, axis = i;  // argsort()[-1]: the last of equal maxima
    }
    std::array<double, 3> patch = t.patch_size;
    std::array<double, 3> probe = patch;
    probe[axis] -= t.must_be_divisible_by[axis];
    const Topology tp = PoolAndConvPropsV2(sp, probe, s.featuremap_min_edge, maxpool);
    patch[axis] -= tp.must_be_divisible_by[axis];
    t = PoolAndConvPropsV2(sp, patch, s.featuremap_min_edge, maxpool);
    est = estimate(t);
  }
  const Int3 patch = ToInt3(t.patch_size);
  int64_t bs = std::nearbyint(reference / static_cast<double>(est) * 2);
  const int64_t bs5 = std::nearbyint(n_voxels_dataset * s.max_dataset_covered / static_cast<double>(Prod(patch)));
  bs = std::max<int64_t>(std::min(bs, bs5), s.min_batch_size);
  p->patch_size = patch;
  p->batch_size = static_cast<int>(bs);
  p->strides = t.strides;
  p->kernel_sizes = t.kernel_sizes;
  p->vram_estimate = est;
  p->vram_reference = reference;
}

// v1 ExperimentPlanner3D_v21.get_properties_for_stage.
void PlanV1(Plan* p, const PlanSpec& s, int64_t num_cases) {
  const data::Vec3& sp = p->spacing;
  Int3 median{};
  for (int i = 0; i < 3; ++i) median[i] = static_cast<int>(std::nearbyint(p->median_shape[i]));
  const double dataset_voxels = static_cast<double>(Prod(median)) * static_cast<double>(num_cases);
  std::array<double, 3> ps{1 / sp[0], 1 / sp[1], 1 / sp[2]};
  const double mean = (ps[0] + ps[1] + ps[2]) / 3;
  for (auto& v : ps) v /= mean;
  const double mn = *std::min_element(ps.begin(), ps.end());
  std::array<double, 3> initial;
  for (int i = 0; i < 3; ++i) initial[i] = std::min<double>(std::nearbyint(ps[i] * (1 / mn) * 512), median[i]);
  const int maxpool = 999;
  Topology t = PoolAndConvPropsV1(sp, initial, s.featuremap_min_edge, maxpool);
  auto vram = [&](const Topology& tt) {
    std::vector<Int3> pools(tt.strides.begin() + 1, tt.strides.end());
    return GenericUNetApproxVram(ToInt3(tt.patch_size), tt.num_pool_per_axis, s.base_features, s.max_features, 1,
                                 p->num_classes, pools, s.conv_per_stage);
  };
  const double ref = 520000000.0 * s.base_features / 30.0 * (s.gpu_memory_gb / 8.0);
  int64_t here = vram(t);
  while (static_cast<double>(here) > ref) {
    int axis = 0;
    double worst = -1;
    for (int i = 0; i < 3; ++i) {
      const double r = t.patch_size[i] / median[i];
      if (r >= worst) worst = r, axis = i;
    }
    std::array<double, 3> probe = t.patch_size;
    probe[axis] -= t.must_be_divisible_by[axis];
    const Topology tp = PoolAndConvPropsV1(sp, probe, s.featuremap_min_edge, maxpool);
    std::array<double, 3> patch = t.patch_size;
    patch[axis] -= tp.must_be_divisible_by[axis];
    t = PoolAndConvPropsV1(sp, patch, s.featuremap_min_edge, maxpool);
    here = vram(t);
  }
  const Int3 patch = ToInt3(t.patch_size);
  int64_t bs = static_cast<int64_t>(std::floor(std::max(ref / static_cast<double>(here), 1.0) * 2));
  int64_t max_bs = std::nearbyint(s.max_dataset_covered * dataset_voxels / static_cast<double>(Prod(patch)));
  max_bs = std::max<int64_t>(max_bs, s.min_batch_size);
  bs = std::max<int64_t>(1, std::min(bs, max_bs));
  p->patch_size = patch;
  p->batch_size = static_cast<int>(bs);
  p->strides = t.strides;
  p->kernel_sizes = t.kernel_sizes;
  p->vram_estimate = here;
  p->vram_reference = ref;
  const int max_patch = *std::max_element(patch.begin(), patch.end());
  p->do_dummy_2d_data_aug = static_cast<double>(max_patch) / patch[0] > s.anisotropy_threshold;
}

}  // namespace

Result<Plan> MakePlan(const DatasetFingerprint& f, const JobSpec& spec, int num_classes) {
  const PlanSpec& s = spec.plan;
  if (f.spacings.empty()) return FailedPrecondition("cannot plan: the fingerprint holds no cases");
  Plan p;
  p.preset = spec.preset;
  p.planner = s.planner;
  p.reorient = s.reorient;
  p.num_classes = num_classes;
  p.intensity = f.intensity;
  p.downsampling = s.downsampling;
  p.n_conv_per_stage = s.conv_per_stage;
  p.image_interpolation = spec.preprocess.image_interpolation;
  p.label_interpolation = spec.preprocess.label_interpolation;
  p.normalize_before_resample = spec.preprocess.normalize_before_resample;
  p.anisotropy_threshold = s.anisotropy_threshold;

  const data::Vec3 median_sp = MedianPerAxis(f.spacings);
  data::Vec3 target = s.target_spacing ? median_sp : TargetSpacingFromFingerprint(f, s.anisotropy_threshold);
  // Transpose: the coarsest axis (of the target, or of the data when the
  // target is fixed) goes first.
  if (!s.suppress_transpose) {
    const int mx = ArgMax(target);
    p.transpose_forward = {mx, mx == 0 ? 1 : 0, mx == 2 ? 1 : 2};
  }
  for (int i = 0; i < 3; ++i) p.transpose_backward[p.transpose_forward[i]] = i;
  if (s.target_spacing)
    for (int i = 0; i < 3; ++i) target[p.transpose_forward[i]] = (*s.target_spacing)[i];

  std::vector<std::array<double, 3>> new_shapes;
  for (size_t c = 0; c < f.spacings.size(); ++c) {
    std::array<double, 3> ns;
    for (int a = 0; a < 3; ++a) {
      const double v = f.spacings[c][a] / target[a] * static_cast<double>(f.shapes_after_crop[c][a]);
      ns[a] = s.planner == "v2" ? std::nearbyint(v) : v;  // v2 rounds per case, v1 after the median
    }
    new_shapes.push_back(ns);
  }
  const std::array<double, 3> median_shape = MedianPerAxis(new_shapes);
  for (int i = 0; i < 3; ++i) {
    const int a = p.transpose_forward[i];
    p.spacing[i] = target[a];
    p.median_spacing[i] = median_sp[a];
    p.median_shape[i] = median_shape[a];
  }
  const int64_t n = static_cast<int64_t>(f.spacings.size());
  if (s.planner == "v2") {
    PlanV2(&p, s, p.median_shape[0] * p.median_shape[1] * p.median_shape[2] * static_cast<double>(n));
  } else {
    PlanV1(&p, s, n);
  }
  if (s.patch_size) {
    // A user-chosen patch: derive the topology the same way from it.
    std::array<double, 3> ps{static_cast<double>((*s.patch_size)[0]), static_cast<double>((*s.patch_size)[1]),
                             static_cast<double>((*s.patch_size)[2])};
    const Topology t = s.planner == "v2" ? PoolAndConvPropsV2(p.spacing, ps, s.featuremap_min_edge, 999999)
                                         : PoolAndConvPropsV1(p.spacing, ps, s.featuremap_min_edge, 999);
    p.patch_size = ToInt3(t.patch_size);
    p.strides = t.strides;
    p.kernel_sizes = t.kernel_sizes;
  }
  if (s.batch_size) p.batch_size = *s.batch_size;
  p.features_per_stage = FeaturesPerStage(p.n_stages(), s.base_features, s.max_features);
  return p;
}

namespace {
Json Arr3List(const std::vector<Int3>& v) {
  Json j = Json::array();
  for (const auto& x : v) j.push_back(Json(x));
  return j;
}
}  // namespace

Json PlanToJson(const Plan& p, const std::string& dataset_name) {
  const bool nearest_labels = p.label_interpolation == "nearest";
  Json arch = {
      {"network_class_name", "dynamic_network_architectures.architectures.unet.PlainConvUNet"},
      {"arch_kwargs",
       {{"n_stages", p.n_stages()},
        {"features_per_stage", p.features_per_stage},
        {"conv_op", "torch.nn.modules.conv.Conv3d"},
        {"kernel_sizes", Arr3List(p.kernel_sizes)},
        {"strides", Arr3List(p.strides)},
        {"n_conv_per_stage", std::vector<int>(static_cast<size_t>(p.n_stages()), p.n_conv_per_stage)},
        {"n_conv_per_stage_decoder", std::vector<int>(static_cast<size_t>(p.n_stages() - 1), p.n_conv_per_stage)},
        {"conv_bias", true},
        {"norm_op", "torch.nn.modules.instancenorm.InstanceNorm3d"},
        {"norm_op_kwargs", {{"eps", 1e-05}, {"affine", true}}},
        {"dropout_op", nullptr},
        {"dropout_op_kwargs", nullptr},
        {"nonlin", "torch.nn.LeakyReLU"},
        {"nonlin_kwargs", {{"inplace", true}}}}},
      {"_kw_requires_import", {"conv_op", "norm_op", "dropout_op", "nonlin"}}};
  Json cfg = {
      {"data_identifier", "nnUNetPlans_3d_fullres"},
      {"preprocessor_name", "DefaultPreprocessor"},
      {"batch_size", p.batch_size},
      {"patch_size", Json(p.patch_size)},
      {"median_image_size_in_voxels", Json(p.median_shape)},
      {"spacing", Json(p.spacing)},
      {"normalization_schemes", {"CTNormalization"}},
      {"use_mask_for_norm", {false}},
      {"resampling_fn_data", "resample_data_or_seg_to_shape"},
      {"resampling_fn_seg", "resample_data_or_seg_to_shape"},
      {"resampling_fn_data_kwargs",
       {{"is_seg", false}, {"order", p.image_interpolation == "bspline3" ? 3 : 1}, {"order_z", 0}, {"force_separate_z", nullptr}}},
      {"resampling_fn_seg_kwargs",
       {{"is_seg", true}, {"order", nearest_labels ? 0 : 1}, {"order_z", 0}, {"force_separate_z", nullptr}}},
      {"resampling_fn_probabilities", "resample_data_or_seg_to_shape"},
      {"resampling_fn_probabilities_kwargs",
       {{"is_seg", false}, {"order", 1}, {"order_z", 0}, {"force_separate_z", nullptr}}},
      {"architecture", arch},
      {"batch_dice", p.batch_dice}};
  return Json{
      {"dataset_name", dataset_name},
      {"plans_name", "nnUNetPlans"},
      {"original_median_spacing_after_transp", Json(p.median_spacing)},
      {"original_median_shape_after_transp", Json(p.median_shape)},
      {"image_reader_writer", "ITK (Nephron)"},
      {"transpose_forward", Json(p.transpose_forward)},
      {"transpose_backward", Json(p.transpose_backward)},
      {"configurations", {{"3d_fullres", cfg}}},
      {"experiment_planner_used", p.planner == "v2" ? "ExperimentPlanner (nnU-Net v2 rules)"
                                                     : "ExperimentPlanner3D_v21 (nnU-Net v1 rules)"},
      {"label_manager", "LabelManager"},
      {"foreground_intensity_properties_per_channel", {{"0", IntensityStatsToJson(p.intensity)}}},
      {"nephron",
       {{"preset", p.preset},
        {"planner", p.planner},
        {"reorient", p.reorient},
        {"downsampling", p.downsampling},
        {"num_classes", p.num_classes},
        {"image_interpolation", p.image_interpolation},
        {"label_interpolation", p.label_interpolation},
        {"normalize_before_resample", p.normalize_before_resample},
        {"anisotropy_threshold", p.anisotropy_threshold},
        {"do_dummy_2d_data_aug", p.do_dummy_2d_data_aug},
        {"vram_estimate", p.vram_estimate},
        {"vram_reference", p.vram_reference}}}};
}

Result<Plan> PlanFromJson(const Json& j, const std::string& source) {
  Plan p;
  try {
    const Json& c = j.at("configurations").at("3d_fullres");
    const Json& a = c.at("architecture").at("arch_kwargs");
    const Json& n = j.at("nephron");
    const Json& s = j.at("foreground_intensity_properties_per_channel").at("0");
    auto i3 = [](const Json& x) { return Int3{x.at(0).get<int>(), x.at(1).get<int>(), x.at(2).get<int>()}; };
    auto d3 = [](const Json& x) { return data::Vec3{x.at(0).get<double>(), x.at(1).get<double>(), x.at(2).get<double>()}; };
    p.transpose_forward = i3(j.at("transpose_forward"));
    p.transpose_backward = i3(j.at("transpose_backward"));
    p.median_spacing = d3(j.at("original_median_spacing_after_transp"));
    p.spacing = d3(c.at("spacing"));
    p.median_shape = d3(c.at("median_image_size_in_voxels"));
    p.patch_size = i3(c.at("patch_size"));
    p.batch_size = c.at("batch_size").get<int>();
    p.batch_dice = c.at("batch_dice").get<bool>();
    p.features_per_stage = a.at("features_per_stage").get<std::vector<int>>();
    for (const auto& x : a.at("strides")) p.strides.push_back(i3(x));
    for (const auto& x : a.at("kernel_sizes")) p.kernel_sizes.push_back(i3(x));
    p.n_conv_per_stage = a.at("n_conv_per_stage").at(0).get<int>();
    p.intensity = IntensityStatsFromJson(s);
    p.preset = n.at("preset").get<std::string>();
    p.planner = n.at("planner").get<std::string>();
    p.reorient = n.at("reorient").get<bool>();
    p.downsampling = n.at("downsampling").get<std::string>();
    p.num_classes = n.at("num_classes").get<int>();
    p.image_interpolation = n.at("image_interpolation").get<std::string>();
    p.label_interpolation = n.at("label_interpolation").get<std::string>();
    p.normalize_before_resample = n.at("normalize_before_resample").get<bool>();
    p.anisotropy_threshold = n.at("anisotropy_threshold").get<double>();
    p.do_dummy_2d_data_aug = n.value("do_dummy_2d_data_aug", false);
    p.vram_estimate = n.value("vram_estimate", int64_t{0});
    p.vram_reference = n.value("vram_reference", 0.0);
  } catch (const Json::exception& e) {
    return InvalidArgument(source + ": malformed plan: " + e.what());
  }
  if (p.strides.size() != p.kernel_sizes.size() || p.strides.size() != p.features_per_stage.size() || p.strides.empty())
    return InvalidArgument(source + ": malformed plan: strides, kernel_sizes and features_per_stage differ in length");
  std::array<bool, 3> seen{};
  for (int a : p.transpose_forward) {
    if (a < 0 || a > 2 || seen[a]) return InvalidArgument(source + ": field transpose_forward is not a permutation of 0,1,2");
    seen[a] = true;
  }
  return p;
}

}  // namespace nephron::preprocess
