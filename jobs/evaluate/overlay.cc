#include "jobs/evaluate/overlay.h"

#include <algorithm>
#include <cmath>

#include "jobs/data/orientation.h"
#include "jobs/evaluate/png.h"

namespace nephron::evaluate {

namespace {

// Foreground voxel count per index of array axis `axis`.
std::vector<int64_t> AreaPerIndex(const data::Volume<uint8_t>& v, int axis) {
  std::vector<int64_t> area(static_cast<size_t>(v.shape[static_cast<size_t>(axis)]), 0);
  size_t i = 0;
  for (int64_t a = 0; a < v.shape[0]; ++a)
    for (int64_t b = 0; b < v.shape[1]; ++b)
      for (int64_t c = 0; c < v.shape[2]; ++c, ++i)
        if (v.data[i] > 0) ++area[static_cast<size_t>(axis == 0 ? a : (axis == 1 ? b : c))];
  return area;
}

// Index of the largest positive entry, or -1 when all are zero.
int64_t ArgMaxPositive(const std::vector<int64_t>& area) {
  int64_t best = -1, best_area = 0;
  for (size_t i = 0; i < area.size(); ++i)
    if (area[i] > best_area) best_area = area[i], best = static_cast<int64_t>(i);
  return best;
}

// Picks the canonical slice from per-input-index areas along the input axis
// that becomes canonical axis 0 (flipped when `flip`).
int64_t ChooseSlice(std::vector<int64_t> gt_area, std::vector<int64_t> pred_area, bool flip) {
  if (flip) {
    std::reverse(gt_area.begin(), gt_area.end());
    std::reverse(pred_area.begin(), pred_area.end());
  }
  int64_t s = ArgMaxPositive(gt_area);
  if (s < 0) s = ArgMaxPositive(pred_area);
  if (s < 0) s = static_cast<int64_t>(gt_area.size()) / 2;
  return s;
}

// Canonical slice `slice` of `in` (reoriented by `r`) as a 1 x n1 x n2 volume.
template <typename T>
data::Volume<T> CanonicalSlice(const data::Volume<T>& in, const data::Reorientation& r, int64_t slice) {
  const data::Shape3 cs = data::ReorientedShape(in.shape, r);
  data::Volume<T> out(data::Shape3{1, cs[1], cs[2]});
  int64_t idx[3];
  auto at = [&](int m, int64_t k) { idx[r.perm[m]] = r.flip[m] ? cs[static_cast<size_t>(m)] - 1 - k : k; };
  at(0, slice);
  size_t o = 0;
  for (int64_t b = 0; b < cs[1]; ++b) {
    at(1, b);
    for (int64_t c = 0; c < cs[2]; ++c) {
      at(2, c);
      out.data[o++] = in.at(idx[0], idx[1], idx[2]);
    }
  }
  return out;
}

uint8_t Grey(float hu) {
  const double t = std::clamp((static_cast<double>(hu) + 160.0) / 400.0, 0.0, 1.0);
  return static_cast<uint8_t>(std::lround(t * 255.0));
}

// Draws one panel: grey CT (or black) plus, when `labels` is set, the overlay.
void DrawPanel(const data::Volume<float>* image, const data::Volume<uint8_t>* labels, int64_t slice,
               int64_t rows, int64_t cols, int x0, RgbImage* img) {
  static const uint8_t kColor[3][3] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}};
  for (int64_t b = 0; b < rows; ++b)
    for (int64_t c = 0; c < cols; ++c) {
      const uint8_t g = image ? Grey(image->at(slice, b, c)) : 0;
      uint8_t* px = &img->rgb[(static_cast<size_t>(b) * static_cast<size_t>(img->width) +
                               static_cast<size_t>(x0 + c)) * 3];
      px[0] = px[1] = px[2] = g;
      if (!labels) continue;
      const int l = labels->at(slice, b, c);
      if (l < 1 || l > 2) continue;
      // Outline: a 4-neighbour with another label, or the panel border.
      const bool edge = b == 0 || c == 0 || b == rows - 1 || c == cols - 1 || labels->at(slice, b - 1, c) != l ||
                        labels->at(slice, b + 1, c) != l || labels->at(slice, b, c - 1) != l ||
                        labels->at(slice, b, c + 1) != l;
      for (int k = 0; k < 3; ++k) {
        const double v = edge ? kColor[l][k] : (1.0 - kOverlayAlpha) * g + kOverlayAlpha * kColor[l][k];
        px[k] = static_cast<uint8_t>(std::lround(v));
      }
    }
}

}  // namespace

int64_t PreviewSlice(const data::Volume<uint8_t>& pred_canonical, const data::Volume<uint8_t>& gt_canonical) {
  return ChooseSlice(AreaPerIndex(gt_canonical, 0), AreaPerIndex(pred_canonical, 0), false);
}

RgbImage RenderPreview(const data::Volume<float>* image_canonical, const data::Volume<uint8_t>& pred_canonical,
                       const data::Volume<uint8_t>& gt_canonical, int64_t slice) {
  const int64_t rows = gt_canonical.shape[1], cols = gt_canonical.shape[2];
  RgbImage img;
  img.width = static_cast<int>(3 * cols + 2 * kPanelGap);
  img.height = static_cast<int>(rows);
  img.rgb.assign(static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3, 24);  // dark gaps
  DrawPanel(image_canonical, nullptr, slice, rows, cols, 0, &img);
  DrawPanel(image_canonical, &gt_canonical, slice, rows, cols, static_cast<int>(cols + kPanelGap), &img);
  DrawPanel(image_canonical, &pred_canonical, slice, rows, cols, static_cast<int>(2 * (cols + kPanelGap)), &img);
  return img;
}

Status WritePreview(const data::Volume<float>* image, const data::Volume<uint8_t>& pred,
                    const data::Volume<uint8_t>& gt, const std::string& png_path) {
  const data::Reorientation rg = data::CanonicalReorientation(gt.geometry);
  const data::Reorientation rp = data::CanonicalReorientation(pred.geometry);
  const data::Shape3 cs = data::ReorientedShape(gt.shape, rg);
  if (data::ReorientedShape(pred.shape, rp) != cs)
    return InvalidArgument(png_path + ": prediction and ground truth differ in shape");
  data::Reorientation ri;
  if (image) {
    ri = data::CanonicalReorientation(image->geometry);
    if (data::ReorientedShape(image->shape, ri) != cs)
      return InvalidArgument(png_path + ": image and ground truth differ in shape");
  }
  // Areas along the input axes that become canonical axis 0; pred and gt may
  // be stored differently, so each is brought to canonical order on its own.
  std::vector<int64_t> pred_area = AreaPerIndex(pred, rp.perm[0]);
  if (rp.flip[0] != rg.flip[0]) std::reverse(pred_area.begin(), pred_area.end());
  const int64_t slice = ChooseSlice(AreaPerIndex(gt, rg.perm[0]), std::move(pred_area), rg.flip[0]);
  const data::Volume<uint8_t> gs = CanonicalSlice(gt, rg, slice), ps = CanonicalSlice(pred, rp, slice);
  data::Volume<float> is;
  if (image) is = CanonicalSlice(*image, ri, slice);
  const RgbImage img = RenderPreview(image ? &is : nullptr, ps, gs, 0);
  return WritePngRgb(png_path, img.width, img.height, img.rgb);
}

}  // namespace nephron::evaluate
