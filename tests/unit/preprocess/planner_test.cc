#include "jobs/preprocess/planner.h"

#include <gtest/gtest.h>

namespace nephron::preprocess {
namespace {

// A fingerprint of n identical cases.
DatasetFingerprint Uniform(int n, data::Vec3 spacing, data::Shape3 shape) {
  DatasetFingerprint f;
  for (int i = 0; i < n; ++i) {
    f.case_ids.push_back("case_" + std::to_string(i));
    f.spacings.push_back(spacing);
    f.shapes_after_crop.push_back(shape);
  }
  f.intensity.mean = 94.85;
  f.intensity.std = 71.60;
  f.intensity.percentile_00_5 = -77.5;
  f.intensity.percentile_99_5 = 287.5;
  return f;
}

const std::vector<Int3> kBdciStrides = {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 2, 2}};

// REFERENCE.md: the BDCI team's nnU-Net v1 planner, on data at 3.22 x 1.62 x
// 1.62 mm with median shape 128 x 247 x 247, chose patch 96 x 160 x 160,
// batch 2, six stages, pooling [2,2,2] x4 then [1,2,2].
TEST(PlannerTest, Bdci2022PresetReproducesTheTeamsPlan) {
  JobSpec spec = *PresetSpec("bdci2022");
  auto p = MakePlan(Uniform(210, {3.22, 1.62, 1.62}, {128, 247, 247}), spec, 3);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->patch_size, (Int3{96, 160, 160}));
  EXPECT_EQ(p->batch_size, 2);
  EXPECT_EQ(p->n_stages(), 6);
  EXPECT_EQ(p->strides, kBdciStrides);
  EXPECT_EQ(p->features_per_stage, (std::vector<int>{32, 64, 128, 256, 320, 320}));
  for (const auto& k : p->kernel_sizes) EXPECT_EQ(k, (Int3{3, 3, 3}));
  EXPECT_EQ(p->spacing, (data::Vec3{3.22, 1.62, 1.62}));
  EXPECT_EQ(p->downsampling, "maxpool");
  EXPECT_EQ(p->planner, "v1");
  EXPECT_LE(p->vram_estimate, p->vram_reference);
}

// nnU-Net v2's rules on the same input, worked by hand:
//  * initial patch: 1/spacing scaled to 256^3 voxels = (162, 322, 322), clipped to the median (128, 247, 247);
//  * topology: all axes within 2x of the finest spacing, so [2,2,2] x5 then [1,2,2]; padded to (128, 256, 256);
//  * the PlainConvUNet feature-map sum exceeds 560e6, so the axis with the largest patch/median ratio shrinks
//    by its divisor: (128,256,224) (128,224,224) (112,224,224) (112,224,192) (112,192,192) (96,192,192)
//    (96,192,160) (96,160,160), where the sum is 530,668,800 (below) <= 560e6;
//  * batch = round(560e6 / 530,668,800 * 2) = 2, under the 5 % cap.
// Feature-map sum for (96,160,160), features 32..320, sizes per stage S0..S5 =
// 2457600, 307200, 38400, 4800, 600, 150 voxels:
//   encoder 2 * (32*2457600 + 64*307200 + 128*38400 + 256*4800 + 320*600 + 320*150) = 209,376,000
//   decoder 3 * (320*600 + 256*4800 + 128*38400 + 64*307200 + 32*2457600) + 3*2457600 = 321,292,800
TEST(PlannerTest, NnunetPresetOnTheBdciFingerprint) {
  JobSpec spec = *PresetSpec("nnunet");
  auto p = MakePlan(Uniform(210, {3.22, 1.62, 1.62}, {128, 247, 247}), spec, 3);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->patch_size, (Int3{96, 160, 160}));
  EXPECT_EQ(p->batch_size, 2);
  EXPECT_EQ(p->strides, kBdciStrides);
  EXPECT_EQ(p->vram_estimate, 530668800);
  EXPECT_EQ(p->downsampling, "conv");
  EXPECT_EQ(PlainConvUNetFeatureMapSize({96, 160, 160}, kBdciStrides, FeaturesPerStage(6, 32, 320), 2, 2, 3),
            209376000 + 321292800);
}

TEST(PlannerTest, TopologyBeforeShrinking) {
  const Topology t = PoolAndConvPropsV2({3.22, 1.62, 1.62}, {128, 247, 247}, 4, 999999);
  EXPECT_EQ(t.num_pool_per_axis, (Int3{5, 6, 6}));
  EXPECT_EQ(t.patch_size, (std::array<double, 3>{128, 256, 256}));
  EXPECT_EQ(t.strides.back(), (Int3{1, 2, 2}));
  // A coarse axis (5 mm vs 0.8) is not pooled until the others catch up, and its kernel stays 1.
  const Topology a = PoolAndConvPropsV2({5.0, 0.8, 0.8}, {40, 256, 256}, 4, 999999);
  EXPECT_EQ(a.strides[1], (Int3{1, 2, 2}));
  EXPECT_EQ(a.kernel_sizes[0], (Int3{1, 3, 3}));
  const Topology b = PoolAndConvPropsV1({5.0, 0.8, 0.8}, {40, 256, 256}, 4, 999);
  EXPECT_EQ(b.strides[1], (Int3{1, 2, 2}));
  EXPECT_EQ(b.kernel_sizes[0], (Int3{1, 3, 3}));
}

TEST(PlannerTest, GenericUNetVramByHand) {
  // 5*512*32 + 512 + 3*512 = 83968 at full size; then 2 * 64 voxels * 64 features at the last stage.
  EXPECT_EQ(GenericUNetApproxVram({8, 8, 8}, {1, 1, 1}, 32, 320, 1, 3, {{2, 2, 2}}, 2), 83968 + 8192);
}

TEST(PlannerTest, AnisotropicDataUsesTheTenthPercentileForTheCoarseAxis) {
  DatasetFingerprint f;
  const double z[5] = {5, 5, 5, 2.5, 5};
  for (int i = 0; i < 5; ++i) {
    f.case_ids.push_back(std::to_string(i));
    f.spacings.push_back({z[i], 0.8, 0.8});
    f.shapes_after_crop.push_back({40, 512, 512});
  }
  const data::Vec3 t = TargetSpacingFromFingerprint(f, 3);
  EXPECT_NEAR(t[0], 3.5, 1e-12);  // percentile 10 of {2.5, 5, 5, 5, 5}
  EXPECT_DOUBLE_EQ(t[1], 0.8);
  // Not enough slices to be "anisotropic voxels": the median stays.
  for (auto& s : f.shapes_after_crop) s[0] = 400;
  EXPECT_DOUBLE_EQ(TargetSpacingFromFingerprint(f, 3)[0], 5.0);
}

TEST(PlannerTest, CoarsestAxisIsTransposedFirst) {
  JobSpec spec = *PresetSpec("nnunet");
  auto p = MakePlan(Uniform(4, {0.8, 0.7, 3.0}, {300, 280, 60}), spec, 3);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->transpose_forward, (Int3{2, 0, 1}));
  EXPECT_EQ(p->transpose_backward, (Int3{1, 2, 0}));
  EXPECT_DOUBLE_EQ(p->spacing[0], 3.0);
  EXPECT_DOUBLE_EQ(p->median_shape[0], 60);

  // A fixed target is given coarsest axis first and follows the same transpose.
  JobSpec b = *PresetSpec("bdci2022");
  auto q = MakePlan(Uniform(4, {0.8, 0.7, 3.0}, {300, 280, 60}), b, 3);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->transpose_forward, (Int3{2, 0, 1}));
  EXPECT_EQ(q->spacing, (data::Vec3{3.22, 1.62, 1.62}));
  EXPECT_NEAR(q->median_shape[0], 60 * 3.0 / 3.22, 1e-9);
}

TEST(PlannerTest, UserPatchAndBatchOverrides) {
  JobSpec spec = *PresetSpec("nnunet");
  spec.plan.patch_size = std::array<int, 3>{22, 40, 40};
  spec.plan.batch_size = 3;
  auto p = MakePlan(Uniform(4, {1, 1, 1}, {64, 64, 64}), spec, 3);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->patch_size, (Int3{24, 40, 40}));  // padded to a multiple of 2^pools
  EXPECT_EQ(p->batch_size, 3);
  EXPECT_EQ(static_cast<size_t>(p->n_stages()), p->features_per_stage.size());
}

TEST(PlannerTest, JsonRoundTripKeepsEverything) {
  auto p = MakePlan(Uniform(10, {3.22, 1.62, 1.62}, {128, 247, 247}), *PresetSpec("bdci2022"), 3);
  ASSERT_TRUE(p.ok());
  const Json j = PlanToJson(*p, "kits");
  EXPECT_EQ(j["configurations"]["3d_fullres"]["patch_size"], Json::parse("[96, 160, 160]"));
  EXPECT_EQ(j["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]["n_stages"], 6);
  auto back = PlanFromJson(j, "plans.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->patch_size, p->patch_size);
  EXPECT_EQ(back->strides, p->strides);
  EXPECT_EQ(back->kernel_sizes, p->kernel_sizes);
  EXPECT_DOUBLE_EQ(back->intensity.percentile_99_5, 287.5);
  EXPECT_EQ(back->label_interpolation, "nearest");

  Json broken = j;
  broken["transpose_forward"] = Json::parse("[0, 0, 1]");
  auto bad = PlanFromJson(broken, "plans.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("transpose_forward"), std::string::npos);
  Json missing = j;
  missing["configurations"]["3d_fullres"].erase("patch_size");
  EXPECT_FALSE(PlanFromJson(missing, "plans.json").ok());
}

TEST(PlannerTest, EmptyFingerprintIsRefused) {
  EXPECT_FALSE(MakePlan(DatasetFingerprint{}, *PresetSpec("nnunet"), 3).ok());
}

}  // namespace
}  // namespace nephron::preprocess
