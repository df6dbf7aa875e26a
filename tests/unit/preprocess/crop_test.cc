#include "jobs/preprocess/crop.h"

#include <gtest/gtest.h>

namespace nephron::preprocess {
namespace {

TEST(CropTest, HolesAreFilledAndBorderBackgroundStays) {
  // A hollow 5x5x5 shell inside a 9x10x11 volume of zeros.
  data::Volume<float> img({9, 10, 11}, 0.0f);
  for (int a = 2; a <= 6; ++a)
    for (int b = 3; b <= 7; ++b)
      for (int c = 1; c <= 5; ++c)
        if (a == 2 || a == 6 || b == 3 || b == 7 || c == 1 || c == 5) img.at(a, b, c) = -1000.0f;
  const auto mask = NonzeroMask(img);
  EXPECT_EQ(mask[img.Index(4, 5, 3)], 1);  // the hole inside the shell
  EXPECT_EQ(mask[img.Index(0, 0, 0)], 0);
  EXPECT_EQ(mask[img.Index(4, 5, 8)], 0);  // outside, connected to the border
  const BBox box = MaskBoundingBox(mask, img.shape);
  EXPECT_EQ(box.lo, (std::array<int64_t, 3>{2, 3, 1}));
  EXPECT_EQ(box.hi, (std::array<int64_t, 3>{7, 8, 6}));
  EXPECT_EQ(box.Shape(), (data::Shape3{5, 5, 5}));
}

TEST(CropTest, OpenCavityTouchingTheBorderIsNotAHole) {
  data::Volume<float> img({5, 5, 5}, 1.0f);
  for (int c = 0; c < 5; ++c) img.at(2, 2, c) = 0.0f;  // a tunnel through the volume
  const auto mask = NonzeroMask(img);
  EXPECT_EQ(mask[img.Index(2, 2, 2)], 0);
}

TEST(CropTest, EmptyMaskKeepsTheWholeVolume) {
  std::vector<uint8_t> mask(4 * 5 * 6, 0);
  const BBox box = MaskBoundingBox(mask, {4, 5, 6});
  EXPECT_EQ(box.Shape(), (data::Shape3{4, 5, 6}));
}

}  // namespace
}  // namespace nephron::preprocess
