// Export: from class probabilities in network space back to a label map in
// the input file's exact geometry. Undoes preprocessing step by step:
// resample each class's probabilities to the cropped shape (linear; nearest
// along a coarse axis, as nnU-Net's export does), argmax, reorient the
// cropped block back to file array order, paste it into a zero volume of the
// original shape at the crop box, and attach the original geometry.
//
// Memory: the full-size output plus two float volumes of the cropped shape
// (one class at a time is resampled, with a running maximum). Thread-safe.
// LibTorch-free.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "jobs/data/volume.h"
#include "jobs/preprocess/planner.h"
#include "jobs/preprocess/preprocessor.h"

namespace nephron::infer {

// `probs`: `num_classes` C-order volumes of shape props.shape_after_resample,
// one after the other. Returns labels 0..num_classes-1 in file array order.
Result<data::Volume<uint8_t>> ExportSegmentation(const float* probs, int num_classes,
                                                 const preprocess::CaseProperties& props,
                                                 const preprocess::Plan& plan, int threads);

// The last two steps alone: a label block in network order (shape
// props.shape_after_crop) reoriented back and pasted into the original volume.
Result<data::Volume<uint8_t>> PasteIntoOriginal(const data::Volume<uint8_t>& network_block,
                                                const preprocess::CaseProperties& props);

}  // namespace nephron::infer
