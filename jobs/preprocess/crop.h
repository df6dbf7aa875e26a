// Crop to non-zero, as nnU-Net does: the mask is every voxel != 0 with holes
// filled (background components that do not touch the border, 6-connected);
// the crop is the mask's bounding box; label voxels that are background and
// outside the mask become -1 (ignored by training).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "jobs/data/volume.h"

namespace nephron::preprocess {

struct BBox {
  std::array<int64_t, 3> lo{0, 0, 0};  // inclusive, array order
  std::array<int64_t, 3> hi{0, 0, 0};  // exclusive
  data::Shape3 Shape() const { return {hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]}; }
};

// 1 inside the filled non-zero mask, 0 outside.
std::vector<uint8_t> NonzeroMask(const data::Volume<float>& image);
// In-place 6-connected hole filling of a 0/1 mask.
void FillHoles(std::vector<uint8_t>* mask, const data::Shape3& shape);
// Bounding box of the mask; the whole volume when the mask is empty.
BBox MaskBoundingBox(const std::vector<uint8_t>& mask, const data::Shape3& shape);

}  // namespace nephron::preprocess
