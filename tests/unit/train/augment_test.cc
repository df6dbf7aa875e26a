#include "jobs/train/augment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

namespace nephron::train {
namespace {

using Size3 = std::array<int64_t, 3>;

constexpr double kPi = 3.14159265358979323846;

// Two threads: the CI machine's budget.
class AugmentTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(2); }
};

AugmentOptions Nothing(const Size3& patch) {
  AugmentOptions o;
  o.patch_size = patch;
  o.p_rotation = o.p_scaling = o.p_noise = o.p_blur = o.p_brightness = o.p_contrast = 0;
  o.p_low_res = o.p_gamma_inverted = o.p_gamma = o.p_mirror_per_axis = 0;
  return o;
}

AugmentOptions Everything(const Size3& patch) {
  AugmentOptions o;
  o.patch_size = patch;
  o.p_rotation = o.p_scaling = o.p_noise = o.p_blur = o.p_brightness = o.p_contrast = 1;
  o.p_blur_per_channel = o.p_low_res_per_channel = 1;
  o.p_low_res = o.p_gamma_inverted = o.p_gamma = 1;
  return o;
}

torch::Tensor Shape5(int64_t batch, const Size3& s) { return torch::zeros({batch, 1, s[0], s[1], s[2]}); }

std::set<int64_t> Labels(const torch::Tensor& seg) {
  const torch::Tensor u = std::get<0>(torch::_unique(seg.flatten().to(torch::kLong)));
  std::set<int64_t> out;
  for (int64_t i = 0; i < u.numel(); ++i) out.insert(u[i].item<int64_t>());
  return out;
}

// Image 100 inside a cube labelled 1 (its corner moved `shift` voxels off the
// centre along every axis, so flips and turns move it), 0 elsewhere; labels
// int8 as the patch loader delivers them.
struct CubeBatch {
  torch::Tensor image, seg;
};
CubeBatch Cube(int64_t batch, const Size3& in, int64_t side, int64_t shift = 0) {
  CubeBatch c{Shape5(batch, in), Shape5(batch, in).to(torch::kChar)};
  torch::Tensor img = c.image, lab = c.seg;
  for (int i = 0; i < 3; ++i) {
    const int64_t lo = (in[static_cast<size_t>(i)] - side) / 2 + shift;
    img = img.slice(i + 2, lo, lo + side);
    lab = lab.slice(i + 2, lo, lo + side);
  }
  img.fill_(100);
  lab.fill_(1);
  return c;
}

// Number of indices along each spatial axis where the mask has a voxel.
Size3 Extent(const torch::Tensor& mask) {
  Size3 e{};
  for (int i = 0; i < 3; ++i) {
    std::vector<int64_t> others;
    for (int j = 0; j < 5; ++j)
      if (j != i + 2) others.push_back(j);
    e[static_cast<size_t>(i)] = mask.sum(others).gt(0).sum().item<int64_t>();
  }
  return e;
}

TEST_F(AugmentTest, CenterCropUsesFloorHalfOffsets) {
  const torch::Tensor t = torch::arange(2 * 3 * 7 * 8 * 9).view({2, 3, 7, 8, 9});
  const torch::Tensor c = CenterCrop(t, {4, 5, 9});
  ASSERT_EQ(c.sizes(), (std::vector<int64_t>{2, 3, 4, 5, 9}));
  // offsets (7-4)/2 = 1, (8-5)/2 = 1, 0
  EXPECT_EQ(c[1][2][0][0][0].item<int64_t>(), t[1][2][1][1][0].item<int64_t>());
  EXPECT_EQ(c[0][0][3][4][8].item<int64_t>(), t[0][0][4][5][8].item<int64_t>());
}

TEST_F(AugmentTest, EnlargedPatchSizeCoversRotationAndScaling) {
  AugmentOptions o;
  o.patch_size = {64, 64, 64};
  const Size3 e = EnlargedPatchSize(o);
  for (int64_t v : e) EXPECT_GT(static_cast<double>(v), 64 / 0.7);
  // A cube turned 30 degrees about one axis alone already needs 64 (cos + sin) / 0.7.
  for (int64_t v : e) EXPECT_GE(static_cast<double>(v), 64 * (std::cos(kPi / 6) + std::sin(kPi / 6)) / 0.7);
  o.rotation_degrees = {0, 0};
  EXPECT_EQ(EnlargedPatchSize(o), (Size3{92, 92, 92}));  // ceil(64 / 0.7)
  o.patch_size = {1, 32, 48};
  o.rotation_degrees = {-30, 30};
  const Size3 flat = EnlargedPatchSize(o);
  EXPECT_EQ(flat[0], 1);
  EXPECT_GT(flat[1], 46);
  o.enabled = false;
  EXPECT_EQ(EnlargedPatchSize(o), o.patch_size);
}

TEST_F(AugmentTest, AllProbabilitiesZeroIsTheExactCentreCrop) {
  const Size3 in{21, 26, 30}, patch{16, 16, 16};  // odd and even margins
  const torch::Tensor image = torch::randn({2, 1, in[0], in[1], in[2]});
  const torch::Tensor seg = torch::randint(-1, 3, {2, 1, in[0], in[1], in[2]}, torch::kInt);
  const AugmentedBatch out = Augment(image, seg, Nothing(patch), 7);
  EXPECT_TRUE(torch::equal(out.image, CenterCrop(image, patch)));
  EXPECT_EQ(out.seg.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(out.seg, CenterCrop(seg, patch).to(torch::kLong)));
  AugmentOptions off = Everything(patch);
  off.enabled = false;
  const AugmentedBatch disabled = Augment(image, seg, off, 7);
  EXPECT_TRUE(torch::equal(disabled.image, CenterCrop(image, patch)));
  EXPECT_TRUE(torch::equal(disabled.seg, CenterCrop(seg, patch).to(torch::kLong)));
}

TEST_F(AugmentTest, ForcedUnitScalingIsTheCentreCrop) {
  const Size3 in{21, 26, 30}, patch{16, 16, 16};
  const torch::Tensor image = torch::rand({3, 1, in[0], in[1], in[2]});
  const torch::Tensor seg = torch::randint(-1, 3, {3, 1, in[0], in[1], in[2]}, torch::kLong);
  AugmentOptions o = Nothing(patch);
  o.p_rotation = o.p_scaling = 1;
  o.rotation_degrees = {0, 0};
  o.scaling = {1, 1};
  const AugmentedBatch out = Augment(image, seg, o, 3);
  EXPECT_LT((out.image - CenterCrop(image, patch)).abs().max().item<float>(), 1e-5);
  EXPECT_TRUE(torch::equal(out.seg, CenterCrop(seg, patch)));
}

// 90 degrees about every axis is a signed axis permutation, so the affine
// path must reproduce a permuted, flipped copy of the crop, also when the
// input is anisotropic with odd margins (a stretched "rotation" would not).
TEST_F(AugmentTest, RightAngleRotationIsAVoxelPermutationOfTheCrop) {
  const Size3 in{20, 27, 31}, patch{16, 16, 16};
  const torch::Tensor image = torch::rand({1, 1, in[0], in[1], in[2]});
  const torch::Tensor seg = torch::randint(-1, 3, {1, 1, in[0], in[1], in[2]}, torch::kLong);
  AugmentOptions o = Nothing(patch);
  o.p_rotation = 1;
  o.rotation_degrees = {90, 90};
  const AugmentedBatch out = Augment(image, seg, o, 1);
  const torch::Tensor crop = CenterCrop(image, patch), crop_seg = CenterCrop(seg, patch);
  std::vector<int64_t> perm{2, 3, 4};
  bool found = false;
  do {
    for (int flips = 0; flips < 8 && !found; ++flips) {
      std::vector<int64_t> axes;
      for (int a = 0; a < 3; ++a)
        if (flips & (1 << a)) axes.push_back(a + 2);
      torch::Tensor c = crop.permute({0, 1, perm[0], perm[1], perm[2]});
      torch::Tensor s = crop_seg.permute({0, 1, perm[0], perm[1], perm[2]});
      if (!axes.empty()) c = c.flip(axes), s = s.flip(axes);
      found = (out.image - c).abs().max().item<float>() < 1e-3 && torch::equal(out.seg, s);
    }
  } while (!found && std::next_permutation(perm.begin(), perm.end()));
  EXPECT_TRUE(found);
}

TEST_F(AugmentTest, LabelSetIsPreservedIncludingIgnore) {
  const Size3 patch{16, 16, 16};
  const Size3 in = EnlargedPatchSize(Everything(patch));
  // Blocks of 4^3 voxels so that every label survives nearest sampling.
  const torch::Tensor blocks = torch::randint(0, 3, {2, 1, in[0] / 4 + 1, in[1] / 4 + 1, in[2] / 4 + 1}, torch::kLong);
  torch::Tensor seg = blocks.repeat_interleave(4, 2).repeat_interleave(4, 3).repeat_interleave(4, 4);
  seg = seg.slice(2, 0, in[0]).slice(3, 0, in[1]).slice(4, 0, in[2]).contiguous();
  seg.slice(2, in[0] / 2 - 2, in[0] / 2 + 2).fill_(-1);  // ignore slab through the centre
  const torch::Tensor image = torch::randn({2, 1, in[0], in[1], in[2]});
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const AugmentedBatch out = Augment(image, seg, Everything(patch), seed);
    EXPECT_EQ(out.seg.scalar_type(), torch::kLong);
    EXPECT_EQ(out.image.sizes(), (std::vector<int64_t>{2, 1, 16, 16, 16}));
    EXPECT_EQ(out.seg.sizes(), out.image.sizes());
    EXPECT_TRUE(torch::isfinite(out.image).all().item<bool>());
    const std::set<int64_t> labels = Labels(out.seg);
    for (int64_t l : labels) EXPECT_TRUE(l >= -1 && l <= 2) << "label " << l;
    EXPECT_TRUE(labels.count(-1)) << "seed " << seed;
  }
}

// A 2-D patch (first axis 1) only turns in its plane: the cut stays one
// slice thick and a 12 x 12 square keeps its area, aligned with its labels.
TEST_F(AugmentTest, FlatPatchRotatesInItsPlane) {
  const Size3 patch{1, 24, 24};
  AugmentOptions o = Nothing(patch);
  o.p_rotation = 1;
  const Size3 in = EnlargedPatchSize(o);
  ASSERT_EQ(in[0], 1);
  CubeBatch c{Shape5(2, in), Shape5(2, in).to(torch::kChar)};
  const int64_t lo1 = (in[1] - 12) / 2, lo2 = (in[2] - 12) / 2;
  c.image.slice(3, lo1, lo1 + 12).slice(4, lo2, lo2 + 12).fill_(100);
  c.seg.slice(3, lo1, lo1 + 12).slice(4, lo2, lo2 + 12).fill_(1);
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const AugmentedBatch out = Augment(c.image, c.seg, o, seed);
    ASSERT_EQ(out.image.sizes(), (std::vector<int64_t>{2, 1, 1, 24, 24}));
    const torch::Tensor label = out.seg == 1, bright = out.image > 50;
    EXPECT_NEAR(label.sum().item<double>() / 2, 144, 15) << "seed " << seed;
    EXPECT_GE((label & bright).sum().item<double>() / label.sum().item<double>(), 0.95) << "seed " << seed;
  }
}

TEST_F(AugmentTest, ImageAndLabelsStayAligned) {
  const Size3 patch{24, 24, 24};
  AugmentOptions o = Nothing(patch);
  o.p_rotation = o.p_scaling = o.p_mirror_per_axis = 1;
  const Size3 in = EnlargedPatchSize(o);
  const CubeBatch c = Cube(4, in, 12, 3);
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const AugmentedBatch out = Augment(c.image, c.seg, o, seed);
    const torch::Tensor label = out.seg == 1, bright = out.image > 50;
    const double both = (label & bright).sum().item<double>();
    ASSERT_GT(label.sum().item<double>(), 0);
    EXPECT_GE(both / label.sum().item<double>(), 0.95) << "seed " << seed;
    EXPECT_GE(both / bright.sum().item<double>(), 0.95) << "seed " << seed;
    EXPECT_FALSE(torch::equal(out.image, CenterCrop(c.image, patch)));
  }
}

// The CPU's fused sampler computes the same map as affine_grid + grid_sample
// (the CUDA path): image within float rounding, labels equal except where a
// coordinate sits on a rounding tie.
TEST_F(AugmentTest, FusedCpuSamplerMatchesGridSample) {
  const Size3 patch{20, 24, 28};
  AugmentOptions o = Nothing(patch);
  o.p_rotation = o.p_scaling = 1;
  const Size3 in = EnlargedPatchSize(o);
  torch::manual_seed(3);
  const torch::Tensor image = torch::randn({3, 1, in[0], in[1], in[2]});
  const torch::Tensor seg = torch::randint(-1, 3, {3, 1, in[0], in[1], in[2]}, torch::kChar);
  for (uint64_t seed = 0; seed < 3; ++seed) {
    AugmentOptions ref = o;
    ref.cpu_grid_sample = true;
    const AugmentedBatch fused = Augment(image, seg, o, seed), grid = Augment(image, seg, ref, seed);
    EXPECT_LT((fused.image - grid.image).abs().max().item<double>(), 1e-4) << seed;
    EXPECT_GT((fused.seg == grid.seg).to(torch::kFloat).mean().item<double>(), 0.999) << seed;
  }
}

// Blur of an impulse: mass kept, the peak spread out symmetrically along
// every axis (checks the CPU's separable filter, including the last axis).
TEST_F(AugmentTest, BlurSpreadsAnImpulseSymmetrically) {
  const Size3 patch{15, 17, 19};
  AugmentOptions o = Nothing(patch);
  o.p_blur = o.p_blur_per_channel = 1;
  torch::Tensor image = Shape5(1, patch);
  image[0][0][7][8][9] = 1.0f;
  const AugmentedBatch out = Augment(image, Shape5(1, patch).to(torch::kChar), o, 5);
  const torch::Tensor v = out.image[0][0];
  EXPECT_NEAR(v.sum().item<double>(), 1.0, 1e-5);
  EXPECT_LT(v[7][8][9].item<double>(), 0.5);
  EXPECT_GT(v[7][8][9].item<double>(), v[7][8][10].item<double>());
  EXPECT_NEAR(v[7][8][8].item<double>(), v[7][8][10].item<double>(), 1e-7);
  EXPECT_NEAR(v[7][7][9].item<double>(), v[7][9][9].item<double>(), 1e-7);
  EXPECT_NEAR(v[6][8][9].item<double>(), v[8][8][9].item<double>(), 1e-7);
  EXPECT_GT(v[7][8][10].item<double>(), 0.0);
}

// The CPU's separable resize (simulate low resolution) equals F::interpolate.
TEST_F(AugmentTest, ResizeVolumeMatchesInterpolate) {
  namespace F = torch::nn::functional;
  torch::manual_seed(2);
  const torch::Tensor v = torch::randn({2, 1, 13, 17, 19});
  for (const Size3& size : {Size3{7, 9, 11}, Size3{20, 17, 30}, Size3{13, 5, 19}}) {
    const std::vector<int64_t> sz(size.begin(), size.end());
    const torch::Tensor lin = F::interpolate(
        v, F::InterpolateFuncOptions().size(sz).mode(torch::kTrilinear).align_corners(false));
    const torch::Tensor near = F::interpolate(v, F::InterpolateFuncOptions().size(sz).mode(torch::kNearest));
    EXPECT_LT((ResizeVolume(v, size, true) - lin).abs().max().item<double>(), 1e-5);
    EXPECT_TRUE(torch::equal(ResizeVolume(v, size, false), near));
  }
}

// A factor > 1 zooms in: a cube of side 10 spans 10 * factor output voxels
// along every axis, also for an anisotropic patch (which catches a mix-up of
// torch's (x, y, z) = (W, H, D) order or of per-axis normalisation).
TEST_F(AugmentTest, ScalingZoomsEveryAxisAlike) {
  const Size3 patch{16, 24, 32};
  AugmentOptions o = Nothing(patch);
  o.p_scaling = 1;
  const CubeBatch c = Cube(1, EnlargedPatchSize(o), 10);
  for (double factor : {1.4, 0.7}) {
    o.scaling = {factor, factor};
    const AugmentedBatch out = Augment(c.image, c.seg, o, 0);
    for (int64_t e : Extent(out.seg == 1)) EXPECT_NEAR(static_cast<double>(e), 10 * factor, 1.0) << "factor " << factor;
    for (int64_t e : Extent(out.image > 50)) EXPECT_NEAR(static_cast<double>(e), 10 * factor, 1.0) << "factor " << factor;
  }
}

TEST_F(AugmentTest, MirroringFiresHalfTheTimePerAxis) {
  const Size3 patch{4, 4, 4};
  AugmentOptions o = Nothing(patch);
  o.p_mirror_per_axis = 0.5;
  // Value encodes position, so the corner voxel tells which axes were flipped.
  const torch::Tensor ramp = torch::arange(64, torch::kFloat).view({1, 1, 4, 4, 4}).expand({400, 1, 4, 4, 4}).contiguous();
  const AugmentedBatch out = Augment(ramp, ramp.to(torch::kLong), o, 11);
  const torch::Tensor corner = out.image.select(4, 0).select(3, 0).select(2, 0).flatten().to(torch::kLong);
  const std::array<int64_t, 3> stride{16, 4, 1};
  for (size_t a = 0; a < 3; ++a) {
    const double flipped = (torch::div(corner, stride[a], "floor") % 4 == 3).to(torch::kDouble).mean().item<double>();
    EXPECT_NEAR(flipped, 0.5, 0.08) << "axis " << a;
  }
  EXPECT_TRUE(torch::equal(out.seg, out.image.to(torch::kLong)));  // labels flipped with the image
}

TEST_F(AugmentTest, NoiseFiresWithItsProbability) {
  const Size3 patch{4, 4, 4};
  AugmentOptions o = Nothing(patch);
  o.p_noise = 0.1;
  const torch::Tensor image = torch::zeros({400, 1, 4, 4, 4});
  const AugmentedBatch out = Augment(image, torch::zeros_like(image, torch::kLong), o, 5);
  const double changed = (out.image.abs().flatten(1).amax(1) > 0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(changed, 0.1, 0.05);
}

TEST_F(AugmentTest, SameSeedSameBatchOtherSeedOtherBatch) {
  const Size3 patch{16, 16, 16};
  AugmentOptions o = Everything(patch);
  o.p_rotation = o.p_scaling = o.p_blur = o.p_low_res = 0.5;
  const Size3 in = EnlargedPatchSize(o);
  torch::manual_seed(0);
  const torch::Tensor image = torch::randn({3, 1, in[0], in[1], in[2]});
  const torch::Tensor seg = torch::randint(-1, 3, {3, 1, in[0], in[1], in[2]}, torch::kLong);
  const AugmentedBatch a = Augment(image, seg, o, 42), b = Augment(image, seg, o, 42), c = Augment(image, seg, o, 43);
  EXPECT_TRUE(torch::equal(a.image, b.image));
  EXPECT_TRUE(torch::equal(a.seg, b.seg));
  EXPECT_FALSE(torch::equal(a.image, c.image));
}

// "Range preserved" as in batchgenerators: the result is clamped to the
// sample's original [min, max]; a stretch (factor > 1) ends exactly on it.
TEST_F(AugmentTest, ContrastStaysInsideEachSamplesRange) {
  const Size3 patch{16, 16, 16};
  AugmentOptions o = Nothing(patch);
  o.p_contrast = 1;
  torch::manual_seed(1);
  const torch::Tensor image = torch::randn({6, 1, 16, 16, 16}) * torch::arange(1, 7, torch::kFloat).view({6, 1, 1, 1, 1});
  const torch::Tensor seg = torch::zeros_like(image, torch::kLong);
  const AugmentedBatch out = Augment(image, seg, o, 9);
  const torch::Tensor in = image.flatten(1), res = out.image.flatten(1);
  EXPECT_TRUE((res.amin(1) >= in.amin(1) - 1e-5).all().item<bool>());
  EXPECT_TRUE((res.amax(1) <= in.amax(1) + 1e-5).all().item<bool>());
  const torch::Tensor on_bounds = ((res.amin(1) - in.amin(1)).abs() < 1e-5) & ((res.amax(1) - in.amax(1)).abs() < 1e-5);
  EXPECT_GT(on_bounds.sum().item<int64_t>(), 0);  // some samples were stretched and clamped
  EXPECT_LT(on_bounds.sum().item<int64_t>(), 6);  // and some compressed
  EXPECT_FALSE(torch::allclose(res, in));
}

TEST_F(AugmentTest, GammaRetainsMeanAndStd) {
  const Size3 patch{16, 16, 16};
  for (bool inverted : {false, true}) {
    AugmentOptions o = Nothing(patch);
    (inverted ? o.p_gamma_inverted : o.p_gamma) = 1;
    torch::manual_seed(2);
    const torch::Tensor image = torch::rand({4, 1, 16, 16, 16}).pow(2) * 3 + 1;
    const AugmentedBatch out = Augment(image, torch::zeros_like(image, torch::kLong), o, 4);
    const torch::Tensor in = image.flatten(1), res = out.image.flatten(1);
    EXPECT_TRUE(torch::allclose(res.mean(1), in.mean(1), 1e-4, 1e-4)) << "inverted " << inverted;
    EXPECT_TRUE(torch::allclose(res.std(1), in.std(1), 1e-3, 1e-4)) << "inverted " << inverted;
    EXPECT_FALSE(torch::allclose(res, in, 1e-3, 1e-3)) << "inverted " << inverted;
  }
}

TEST_F(AugmentTest, RunsOnDevice_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Size3 patch{24, 24, 24};
  const AugmentOptions o = Everything(patch);
  const Size3 in = EnlargedPatchSize(o);
  const CubeBatch c = Cube(2, in, 14);
  const torch::Device cuda(torch::kCUDA);
  const AugmentedBatch out = Augment(c.image.to(cuda), c.seg.to(cuda), o, 8);
  EXPECT_TRUE(out.image.is_cuda());
  EXPECT_TRUE(out.seg.is_cuda());
  EXPECT_EQ(out.seg.scalar_type(), torch::kLong);
  EXPECT_EQ(out.image.sizes(), (std::vector<int64_t>{2, 1, 24, 24, 24}));
  EXPECT_TRUE(torch::isfinite(out.image).all().item<bool>());
  for (int64_t l : Labels(out.seg.cpu())) EXPECT_TRUE(l == 0 || l == 1) << "label " << l;
  // The spatial path agrees with the CPU one (noise is device-random, so
  // compare the labels only, with everything but rotation/scaling off).
  AugmentOptions spatial = Nothing(patch);
  spatial.p_rotation = spatial.p_scaling = 1;
  const AugmentedBatch gpu = Augment(c.image.to(cuda), c.seg.to(cuda), spatial, 3);
  const AugmentedBatch cpu = Augment(c.image, c.seg, spatial, 3);
  EXPECT_LT((gpu.seg.cpu() != cpu.seg).sum().item<int64_t>(), 50);
  EXPECT_LT((gpu.image.cpu() - cpu.image).abs().max().item<float>(), 1e-2);
}

}  // namespace
}  // namespace nephron::train
