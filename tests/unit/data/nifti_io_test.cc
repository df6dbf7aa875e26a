#include "jobs/data/nifti_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/fakes/raw_nifti.h"

namespace nephron::data {
namespace {

namespace fs = std::filesystem;

class NiftiIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("nifti_io_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A 5 x 6 x 7 (array order) volume with an oblique direction.
  static Volume<int16_t> Oblique() {
    Volume<int16_t> v({5, 6, 7});
    for (size_t i = 0; i < v.data.size(); ++i) v.data[i] = static_cast<int16_t>(i * 3 - 50);
    const double a = 0.3, c = std::cos(a), s = std::sin(a);
    // Rotation about z, then the axes permuted so that index axis 0 runs along z (slice-first).
    v.geometry.direction = {0, c, -s, 0, s, c, 1, 0, 0};
    v.geometry.spacing = {2.5, 0.7, 0.8};
    v.geometry.origin = {-12.25, 33.5, 101.0};
    return v;
  }

  fs::path dir_;
};

TEST_F(NiftiIoTest, ObliqueGeometryRoundTrips) {
  const Volume<int16_t> v = Oblique();
  ASSERT_TRUE(WriteImage(v, Path("a.nii.gz")).ok());
  auto r = ReadImage(Path("a.nii.gz"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->shape, v.shape);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(r->geometry.spacing[i], v.geometry.spacing[i], 1e-6);
    EXPECT_NEAR(r->geometry.origin[i], v.geometry.origin[i], 1e-4);
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(r->geometry.direction[i], v.geometry.direction[i], 1e-6);
  for (size_t i = 0; i < v.data.size(); ++i) ASSERT_EQ(r->data[i], v.data[i]);

  // What ITK reads back is reproduced bit for bit on a second round trip.
  Volume<float> once = std::move(r).value();
  ASSERT_TRUE(WriteImage(once, Path("b.nii")).ok());
  auto twice = ReadImage(Path("b.nii"));
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->geometry.spacing, once.geometry.spacing);
  EXPECT_EQ(twice->geometry.origin, once.geometry.origin);
  EXPECT_EQ(twice->geometry.direction, once.geometry.direction);
}

TEST_F(NiftiIoTest, HeaderMatchesData) {
  ASSERT_TRUE(WriteImage(Oblique(), Path("h.nii.gz")).ok());
  auto h = ReadHeader(Path("h.nii.gz"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->shape, (Shape3{5, 6, 7}));
  EXPECT_EQ(h->component_type, "short");
  EXPECT_NEAR(h->geometry.direction[6], 1.0, 1e-6);  // index axis 0 along z
}

TEST_F(NiftiIoTest, ScalingSlopeAndInterceptAreApplied) {
  testing::RawNifti n;
  n.dims = {3, 2, 2};
  n.pixdim = {1.5f, 1.5f, 4.0f};
  n.slope = 2.0f;
  n.inter = -1024.0f;
  for (int i = 0; i < 12; ++i) n.data.push_back(static_cast<int16_t>(100 * i));
  testing::WriteRawNifti(Path("scaled.nii"), n);
  auto r = ReadImage(Path("scaled.nii"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->shape, (Shape3{2, 2, 3}));
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(r->data[i], 2.0f * 100 * i - 1024.0f) << i;
  EXPECT_FLOAT_EQ(static_cast<float>(r->geometry.spacing[2]), 4.0f);
  // Identity qform in RAS is ITK's LPS with x and y negated.
  EXPECT_DOUBLE_EQ(r->geometry.direction[0], -1.0);
  EXPECT_DOUBLE_EQ(r->geometry.direction[4], -1.0);
  EXPECT_DOUBLE_EQ(r->geometry.direction[8], 1.0);
}

TEST_F(NiftiIoTest, TruncatedFilesAreDataLossNamingTheFile) {
  testing::RawNifti n;
  n.dims = {4, 4, 4};
  n.data.assign(64, 7);
  n.truncate_payload_to = 40;
  testing::WriteRawNifti(Path("trunc.nii"), n);
  auto r = ReadImage(Path("trunc.nii"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("trunc.nii"), std::string::npos) << r.status().message();

  // A gzip file cut in half.
  Volume<int16_t> big({20, 30, 40});
  for (size_t i = 0; i < big.data.size(); ++i) big.data[i] = static_cast<int16_t>((i * 7919) % 2000);
  ASSERT_TRUE(WriteImage(big, Path("cut.nii.gz")).ok());
  fs::resize_file(Path("cut.nii.gz"), fs::file_size(Path("cut.nii.gz")) / 2);
  auto g = ReadImage(Path("cut.nii.gz"));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("cut.nii.gz"), std::string::npos) << g.status().message();
}

TEST_F(NiftiIoTest, NonVolumesAndNonNiftiAreRejected) {
  testing::RawNifti two_d;
  two_d.dims = {4, 4};
  two_d.data.assign(16, 1);
  testing::WriteRawNifti(Path("flat.nii"), two_d);
  auto a = ReadImage(Path("flat.nii"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("expected a 3-D image"), std::string::npos) << a.status().message();

  testing::RawNifti four_d;
  four_d.dims = {2, 2, 2, 3};
  four_d.pixdim = {1, 1, 1, 1};
  four_d.data.assign(24, 1);
  testing::WriteRawNifti(Path("time.nii"), four_d);
  auto b = ReadImage(Path("time.nii"));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("4 dimensions"), std::string::npos) << b.status().message();

  std::ofstream(Path("notes.nii.gz")) << "this is not an image";
  auto c = ReadImage(Path("notes.nii.gz"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("notes.nii.gz"), std::string::npos);

  auto d = ReadImage(Path("missing.nii.gz"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
}

TEST_F(NiftiIoTest, LabelsOutsideTheClassSetAreRejectedWithTheVoxel) {
  Volume<uint8_t> lab({3, 3, 3}, 0);
  lab.at(1, 2, 0) = 3;
  ASSERT_TRUE(WriteImage(lab, Path("seg.nii.gz")).ok());
  auto r = ReadLabels(Path("seg.nii.gz"), 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("seg.nii.gz: label value 3 at voxel (0, 2, 1)"), std::string::npos)
      << r.status().message();

  Volume<float> frac({2, 2, 2}, 1.0f);
  frac.data[5] = 1.5f;
  ASSERT_TRUE(WriteImage(frac, Path("frac.nii.gz")).ok());
  auto f = ReadLabels(Path("frac.nii.gz"), 2);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("label value 1.5"), std::string::npos);

  Volume<int16_t> ok16({2, 2, 2}, 2);
  ASSERT_TRUE(WriteImage(ok16, Path("ok16.nii.gz")).ok());
  auto o = ReadLabels(Path("ok16.nii.gz"), 2);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->data[7], 2);
}

}  // namespace
}  // namespace nephron::data
