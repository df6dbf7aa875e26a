// Synthetic KiTS-like CT phantoms (`nephron synth`).
//
// Each case is an abdomen cross-section extruded along the body axis: air
// outside, a body ellipse with a subcutaneous fat layer around soft tissue, a
// spine (cortical rim + cancellous core) posterior, two kidneys (~150-200 HU
// cortex, slightly darker medulla/sinus) left and right of the spine, and in
// some kidneys a tumour (hypodense, heterogeneous). Edges are blurred over
// about one voxel (partial volume) and Gaussian noise is added. Labels:
// 0 background, 1 kidney, 2 tumour (tumour overrides kidney).
//
// What varies by case (all from the seed): in-plane and slice spacing, number
// of slices, body size, kidney and tumour size and position, whether a tumour
// exists, and orientation: the direction cosines (axis order, flips, small
// oblique rotations), including the KiTS19 layout that stores slices along
// NIfTI axis 0 (array axis 2).
//
// Deterministic: the same (seed, case index, size) gives bit-identical output
// whatever the thread count. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "jobs/data/volume.h"

namespace nephron::data {

enum class SynthSize {
  kTiny,   // ~48-64 in-plane, 16-40 slices, 4.5-6.5 mm in-plane: fast tests
  kSmall,  // ~128 in-plane, 2.5-3 mm in-plane, 40-90 slices
  kKits,   // 512 x 512 in-plane at 0.6-0.9 mm, 0.5-5 mm slices (KiTS19-like)
};

Result<SynthSize> ParseSynthSize(const std::string& name);

struct PhantomCase {
  Volume<int16_t> image;   // HU
  Volume<uint8_t> labels;  // same shape and geometry as image
};

// Makes case `case_index` of the data set seeded with `seed`.
PhantomCase MakePhantom(uint64_t seed, int case_index, SynthSize size, int threads = 0);

// A phantom with a given array-order shape and spacing and identity direction
// (used by the benchmark to build exactly-KiTS-sized cases).
PhantomCase MakePhantomWithShape(uint64_t seed, const Shape3& shape, const Vec3& array_spacing,
                                 int threads = 0);

// Writes cases 0..num_cases-1 as <out>/case_XXXXX/{imaging,segmentation}.nii.gz.
// `on_case` (optional) is called after each case is written.
Status WriteSynthDataset(const std::string& out_dir, int num_cases, uint64_t seed, SynthSize size,
                         int threads = 0, const std::function<void(int, const std::string&)>& on_case = {});

}  // namespace nephron::data
