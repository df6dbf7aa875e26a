// The experiment planner: from a data set fingerprint to a plan (target
// spacing, axis transpose, patch size, network topology, batch size,
// normalisation and resampling settings).
//
// Two rule sets, chosen by plan.planner:
//  * "v2" — nnU-Net v2's ExperimentPlanner (PlainConvUNet feature-map
//    estimate against 560e6 per 8 GB, initial patch of 256^3 voxels);
//  * "v1" — nnU-Net v1's ExperimentPlanner3D_v21 (Generic_UNet's approximate
//    VRAM formula against 520e6 * 32/30, initial patch of 512 mm), which the
//    BDCI 2022 team ran.
// Pure functions: no I/O, deterministic.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/spec.h"
#include "common/status.h"
#include "jobs/data/volume.h"
#include "jobs/preprocess/fingerprint.h"

namespace nephron::preprocess {

using Int3 = std::array<int, 3>;

struct Topology {
  Int3 num_pool_per_axis{0, 0, 0};
  std::vector<Int3> strides;       // per stage; stage 0 is {1,1,1}
  std::vector<Int3> kernel_sizes;  // per stage
  std::array<double, 3> patch_size{};  // padded to must_be_divisible_by
  Int3 must_be_divisible_by{1, 1, 1};
};

// nnU-Net v2 network_topology.get_pool_and_conv_props.
Topology PoolAndConvPropsV2(const data::Vec3& spacing, const std::array<double, 3>& patch, int min_feature_map_size,
                            int max_numpool);
// nnU-Net v1 experiment_planning.common_utils.get_pool_and_conv_props.
Topology PoolAndConvPropsV1(const data::Vec3& spacing, const std::array<double, 3>& patch, int min_feature_map_size,
                            int max_numpool);

std::vector<int> FeaturesPerStage(int n_stages, int base, int max);

// dynamic_network_architectures PlainConvUNet.compute_conv_feature_map_size
// (no deep supervision, as the v2 planner instantiates it).
int64_t PlainConvUNetFeatureMapSize(const Int3& patch, const std::vector<Int3>& strides,
                                    const std::vector<int>& features, int n_conv_encoder, int n_conv_decoder,
                                    int num_classes);
// nnU-Net v1 Generic_UNet.compute_approx_vram_consumption.
int64_t GenericUNetApproxVram(const Int3& patch, const Int3& num_pool_per_axis, int base_features, int max_features,
                              int num_modalities, int num_classes, const std::vector<Int3>& pool_kernel_sizes,
                              int conv_per_stage);

// Median rule with the anisotropy exception (v1 and v2 agree).
data::Vec3 TargetSpacingFromFingerprint(const DatasetFingerprint& f, double anisotropy_threshold);

struct Plan {
  std::string preset;
  std::string planner;
  bool reorient = true;
  Int3 transpose_forward{0, 1, 2};
  Int3 transpose_backward{0, 1, 2};
  data::Vec3 spacing{};                 // target spacing, transposed order
  data::Vec3 median_spacing{};          // data set median, transposed order
  std::array<double, 3> median_shape{}; // after resampling, transposed order
  Int3 patch_size{};
  int batch_size = 2;
  std::vector<int> features_per_stage;
  std::vector<Int3> strides;
  std::vector<Int3> kernel_sizes;
  int n_conv_per_stage = 2;
  std::string downsampling = "conv";
  bool batch_dice = true;
  bool do_dummy_2d_data_aug = false;
  int num_classes = 3;
  IntensityStats intensity;
  std::string image_interpolation = "bspline3";
  std::string label_interpolation = "onehot_linear";
  bool normalize_before_resample = true;
  double anisotropy_threshold = 3;
  int64_t vram_estimate = 0;
  double vram_reference = 0;

  int n_stages() const { return static_cast<int>(strides.size()); }
};

Result<Plan> MakePlan(const DatasetFingerprint& fingerprint, const JobSpec& spec, int num_classes);

// plans.json in nnU-Net v2's layout (configurations.3d_fullres.*), with the
// extra Nephron settings under "nephron".
Json PlanToJson(const Plan& p, const std::string& dataset_name);
Result<Plan> PlanFromJson(const Json& j, const std::string& source);

}  // namespace nephron::preprocess
