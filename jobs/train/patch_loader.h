// Training patches from preprocessed cases (no LibTorch here).
//
// CaseStore memory-maps each case's <id>.npy / <id>_seg.npy (so hundreds of
// KiTS cases cost page cache, not heap) and keeps its sampled foreground
// locations. PatchSampler cuts patches with nnU-Net's rule: in a batch of
// size b, samples with index j >= round(b * (1 - oversample)) are forced to
// contain foreground (a class present in the case is picked uniformly, then
// one of its stored locations becomes the patch centre, the patch shifted
// back inside the image where needed); the others are
// uniformly placed, allowed to extend past the image by half the difference
// between patch and image. Outside the image, the image is 0 and the labels
// are -1 (ignored). Thread-safe for concurrent Sample() calls.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/data/volume.h"

namespace nephron::train {

// A read-only memory-mapped .npy array.
class MappedNpy {
 public:
  static Result<std::shared_ptr<MappedNpy>> Open(const std::string& path);
  ~MappedNpy();
  MappedNpy(const MappedNpy&) = delete;
  MappedNpy& operator=(const MappedNpy&) = delete;

  const std::string& dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  const void* data() const { return data_; }

 private:
  MappedNpy() = default;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const void* data_ = nullptr;
  std::string dtype_;
  std::vector<int64_t> shape_;
};

struct TrainingCase {
  std::string id;
  data::Shape3 shape{};
  std::shared_ptr<MappedNpy> image;  // float32 [1, a, b, c]
  std::shared_ptr<MappedNpy> seg;    // int8 [1, a, b, c]
  // Stored foreground locations per class (index = class), (a, b, c).
  std::vector<std::vector<std::array<int32_t, 3>>> locations;

  const float* Image() const { return static_cast<const float*>(image->data()); }
  const int8_t* Seg() const { return static_cast<const int8_t*>(seg->data()); }
};

class CaseStore {
 public:
  // Opens <dir>/<id>.npy, <id>_seg.npy and <id>_locations.npy for each id.
  static Result<CaseStore> Open(const std::string& dir, const std::vector<std::string>& ids, int num_classes);
  const std::vector<TrainingCase>& cases() const { return cases_; }

 private:
  std::vector<TrainingCase> cases_;
};

struct PatchBatch {
  int batch = 0;
  data::Shape3 patch{};
  std::vector<float> image;   // [batch, patch...]
  std::vector<int8_t> seg;    // [batch, patch...]
  std::vector<int> case_index;
  std::vector<bool> forced_foreground;
  std::vector<std::array<int64_t, 3>> lower;  // patch origin in case voxels (may be negative)
};

// nnU-Net's rule: is sample j of a batch of b forced to contain foreground?
bool ForcedForeground(int j, int b, double oversample);

class PatchSampler {
 public:
  // `patch` is the size cut; `final_patch` (default: the same) the size the
  // network sees after augmentation crops the cut's centre. As in nnU-Net's
  // data loader (need_to_pad >= patch - final_patch), a cut may reach past
  // the case by half that margin on each side, so that the final patch
  // covers every voxel of the case, borders included; without it, training
  // never sees a band of (patch - final_patch) / 2 voxels along the borders.
  PatchSampler(const CaseStore* store, data::Shape3 patch, double oversample = 0.33,
               std::optional<data::Shape3> final_patch = std::nullopt)
      : store_(store), patch_(patch), final_(final_patch.value_or(patch)), oversample_(oversample) {}
  // Deterministic for a seed.
  PatchBatch Sample(int batch, uint64_t seed) const;

 private:
  const CaseStore* store_;
  data::Shape3 patch_;
  data::Shape3 final_;
  double oversample_;
};

}  // namespace nephron::train
