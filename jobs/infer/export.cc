#include "jobs/infer/export.h"

#include <algorithm>
#include <vector>

#include "jobs/data/orientation.h"
#include "jobs/preprocess/resample.h"

namespace nephron::infer {

namespace {

std::string ShapeText(const data::Shape3& s) {
  return std::to_string(s[0]) + " x " + std::to_string(s[1]) + " x " + std::to_string(s[2]);
}

}  // namespace

Result<data::Volume<uint8_t>> PasteIntoOriginal(const data::Volume<uint8_t>& block,
                                                const preprocess::CaseProperties& p) {
  if (block.shape != p.shape_after_crop)
    return InvalidArgument("case " + p.id + ": export block is " + ShapeText(block.shape) + ", expected " +
                           ShapeText(p.shape_after_crop));
  const data::Volume<uint8_t> file_block = data::ApplyReorientation(block, data::InverseReorientation(p.to_network));
  const data::Shape3 crop = p.crop.Shape();
  if (file_block.shape != crop)
    return Internal("case " + p.id + ": reoriented block " + ShapeText(file_block.shape) + " does not fit the crop box " +
                    ShapeText(crop));
  data::Volume<uint8_t> out(p.original_shape, 0);
  out.geometry = p.original_geometry;
  for (int64_t a = 0; a < crop[0]; ++a)
    for (int64_t b = 0; b < crop[1]; ++b) {
      const uint8_t* src = &file_block.data[file_block.Index(a, b, 0)];
      std::copy(src, src + crop[2], &out.data[out.Index(a + p.crop.lo[0], b + p.crop.lo[1], p.crop.lo[2])]);
    }
  return out;
}

Result<data::Volume<uint8_t>> ExportSegmentation(const float* probs, int num_classes,
                                                 const preprocess::CaseProperties& p, const preprocess::Plan& plan,
                                                 int threads) {
  if (num_classes < 1 || num_classes > 255) return InvalidArgument("export: bad number of classes");
  const int64_t n_in = data::NumVoxels(p.shape_after_resample), n_out = data::NumVoxels(p.shape_after_crop);
  const bool same = p.shape_after_resample == p.shape_after_crop;
  // nnU-Net decides the separate axis from the current (target) spacing first, then the original one.
  const int sep = preprocess::SeparateZAxis(p.spacing, p.spacing_after_crop, plan.anisotropy_threshold);
  const auto kernels = preprocess::AxisKernels(preprocess::Interp::kLinear, sep);
  data::Volume<uint8_t> labels(p.shape_after_crop, 0);
  std::vector<float> best(static_cast<size_t>(n_out), 0.0f);
  for (int k = 0; k < num_classes; ++k) {
    const float* src = probs + static_cast<size_t>(k) * static_cast<size_t>(n_in);
    std::vector<float> ch(src, src + n_in);
    if (!same) ch = preprocess::ResampleImage(std::move(ch), p.shape_after_resample, p.shape_after_crop, kernels, threads);
    // np.argmax: the first maximum wins.
    for (size_t i = 0; i < ch.size(); ++i)
      if (k == 0 || ch[i] > best[i]) {
        best[i] = ch[i];
        labels.data[i] = static_cast<uint8_t>(k);
      }
  }
  return PasteIntoOriginal(labels, p);
}

}  // namespace nephron::infer
