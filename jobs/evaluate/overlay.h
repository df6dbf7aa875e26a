// Preview images for evaluation: one axial slice of a case rendered as three
// panels side by side, [CT | ground truth overlay | prediction overlay],
// separated by kPanelGap dark pixels.
//
// Volumes are shown in canonical orientation (data::CanonicalReorientation:
// array axis 0 runs inferior -> superior, axis 1 anterior -> posterior, axis 2
// right -> left), so a panel has shape[1] rows and shape[2] columns, anterior
// at the top and the patient's right on the left (radiological view).
// In-plane spacing is ignored (one pixel per voxel). CT is windowed to
// [-160, 240] HU in grey; kidney (label 1) is red and tumour (label 2) green
// at alpha 0.45, each with a fully opaque 1-pixel outline. Pure functions,
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/data/volume.h"

namespace nephron::evaluate {

constexpr int kPanelGap = 4;
constexpr double kOverlayAlpha = 0.45;

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // rows top to bottom, 3 bytes per pixel
};

// The axial slice (index along canonical axis 0) with the largest ground-truth
// foreground area (labels > 0); if the ground truth is empty, the largest
// predicted area; if both are empty, the middle slice. Ties go to the lowest
// index. Both volumes must be canonical and of the same shape.
int64_t PreviewSlice(const data::Volume<uint8_t>& pred_canonical, const data::Volume<uint8_t>& gt_canonical);

// Renders slice `slice` of canonical volumes; `image_canonical` may be null
// (black background). Width 3 * shape[2] + 2 * kPanelGap, height shape[1].
RgbImage RenderPreview(const data::Volume<float>* image_canonical, const data::Volume<uint8_t>& pred_canonical,
                       const data::Volume<uint8_t>& gt_canonical, int64_t slice);

// Brings the volumes (in any storage orientation) to canonical order, picks
// the slice with PreviewSlice, renders it and writes a PNG atomically. Only
// the chosen slice is reoriented, so memory stays near the input size.
// InvalidArgument when the canonical shapes of the volumes differ.
Status WritePreview(const data::Volume<float>* image, const data::Volume<uint8_t>& pred,
                    const data::Volume<uint8_t>& gt, const std::string& png_path);

}  // namespace nephron::evaluate
