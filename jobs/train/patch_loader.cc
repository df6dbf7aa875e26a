#include "jobs/train/patch_loader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "jobs/data/npy.h"

namespace nephron::train {

Result<std::shared_ptr<MappedNpy>> MappedNpy::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return NotFound(path + ": cannot open");
  struct stat st {};
  ::fstat(fd, &st);
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < 10) {
    ::close(fd);
    return DataLoss(path + ": too short for a .npy file");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return Internal(path + ": mmap failed");
  std::shared_ptr<MappedNpy> m(new MappedNpy());
  m->map_ = map;
  m->map_size_ = size;
  const char* p = static_cast<const char*>(map);
  ASSIGN_OR_RETURN(data::NpyHeader h, data::ParseNpyHeader(p, size, path));
  m->dtype_ = h.dtype;
  m->shape_ = h.shape;
  m->data_ = p + h.data_offset;
  return m;
}

MappedNpy::~MappedNpy() {
  if (map_) ::munmap(map_, map_size_);
}

Result<CaseStore> CaseStore::Open(const std::string& dir, const std::vector<std::string>& ids, int num_classes) {
  CaseStore store;
  for (const auto& id : ids) {
    TrainingCase c;
    c.id = id;
    const std::string base = dir + "/" + id;
    ASSIGN_OR_RETURN(c.image, MappedNpy::Open(base + ".npy"));
    ASSIGN_OR_RETURN(c.seg, MappedNpy::Open(base + "_seg.npy"));
    if (c.image->dtype() != "<f4" || c.image->shape().size() != 4)
      return InvalidArgument(base + ".npy: expected float32 [1, z, y, x]");
    if (c.seg->dtype() != "|i1" || c.seg->shape() != c.image->shape())
      return InvalidArgument(base + "_seg.npy: expected int8 with the image's shape");
    c.shape = {c.image->shape()[1], c.image->shape()[2], c.image->shape()[3]};
    ASSIGN_OR_RETURN(data::NpyArray locs, data::ReadNpy(base + "_locations.npy"));
    if (locs.dtype != "<i4" || locs.shape.size() != 2 || locs.shape[1] != 4)
      return InvalidArgument(base + "_locations.npy: expected int32 [N, 4]");
    c.locations.resize(static_cast<size_t>(num_classes));
    const int32_t* l = locs.As<int32_t>();
    for (int64_t i = 0; i < locs.shape[0]; ++i) {
      const int32_t cls = l[4 * i];
      if (cls <= 0 || cls >= num_classes) return InvalidArgument(base + "_locations.npy: class " + std::to_string(cls) + " out of range");
      c.locations[static_cast<size_t>(cls)].push_back({l[4 * i + 1], l[4 * i + 2], l[4 * i + 3]});
    }
    store.cases_.push_back(std::move(c));
  }
  if (store.cases_.empty()) return InvalidArgument(dir + ": no cases to train on");
  return store;
}

bool ForcedForeground(int j, int b, double oversample) {
  return !(j < static_cast<int>(std::nearbyint(b * (1.0 - oversample))));
}

PatchBatch PatchSampler::Sample(int batch, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  auto uniform_int = [&](int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  PatchBatch out;
  out.batch = batch;
  out.patch = patch_;
  const int64_t pv = data::NumVoxels(patch_);
  out.image.assign(static_cast<size_t>(batch * pv), 0.0f);
  out.seg.assign(static_cast<size_t>(batch * pv), -1);
  const auto& cases = store_->cases();
  for (int j = 0; j < batch; ++j) {
    const int ci = static_cast<int>(uniform_int(0, static_cast<int64_t>(cases.size()) - 1));
    const TrainingCase& c = cases[static_cast<size_t>(ci)];
    const bool force = ForcedForeground(j, batch, oversample_);
    std::array<int64_t, 3> lo{}, lbs{}, ubs{};
    for (int a = 0; a < 3; ++a) {
      const int64_t need = std::max<int64_t>({0, patch_[a] - final_[a], patch_[a] - c.shape[a]});
      lbs[a] = -(need / 2);
      ubs[a] = c.shape[a] + need / 2 + need % 2 - patch_[a];
    }
    bool placed = false;
    if (force) {
      std::vector<int> eligible;
      for (size_t k = 1; k < c.locations.size(); ++k)
        if (!c.locations[k].empty()) eligible.push_back(static_cast<int>(k));
      if (!eligible.empty()) {
        const int cls = eligible[static_cast<size_t>(uniform_int(0, static_cast<int64_t>(eligible.size()) - 1))];
        const auto& locs = c.locations[static_cast<size_t>(cls)];
        const auto& v = locs[static_cast<size_t>(uniform_int(0, static_cast<int64_t>(locs.size()) - 1))];
        // nnU-Net clamps only from below and pads past the upper edge; clamping
        // both ways keeps the voxel inside and the patch within the image.
        for (int a = 0; a < 3; ++a) lo[a] = std::min(ubs[a], std::max(lbs[a], static_cast<int64_t>(v[a]) - patch_[a] / 2));
        placed = true;
      }
    }
    if (!placed)
      for (int a = 0; a < 3; ++a) lo[a] = uniform_int(lbs[a], ubs[a]);
    out.case_index.push_back(ci);
    out.forced_foreground.push_back(force);
    out.lower.push_back(lo);
    // Copy the overlap of [lo, lo + patch) with the case; the rest stays padding.
    float* dimg = out.image.data() + j * pv;
    int8_t* dseg = out.seg.data() + j * pv;
    const float* simg = c.Image();
    const int8_t* sseg = c.Seg();
    const int64_t a0 = std::max<int64_t>(0, lo[0]), a1 = std::min(c.shape[0], lo[0] + patch_[0]);
    const int64_t b0 = std::max<int64_t>(0, lo[1]), b1 = std::min(c.shape[1], lo[1] + patch_[1]);
    const int64_t c0 = std::max<int64_t>(0, lo[2]), c1 = std::min(c.shape[2], lo[2] + patch_[2]);
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t src = (a * c.shape[1] + b) * c.shape[2] + c0;
        const int64_t dst = ((a - lo[0]) * patch_[1] + (b - lo[1])) * patch_[2] + (c0 - lo[2]);
        if (c1 > c0) {
          std::memcpy(dimg + dst, simg + src, static_cast<size_t>(c1 - c0) * sizeof(float));
          std::memcpy(dseg + dst, sseg + src, static_cast<size_t>(c1 - c0));
        }
      }
  }
  return out;
}

}  // namespace nephron::train
