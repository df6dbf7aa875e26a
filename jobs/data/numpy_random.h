// A bit-exact re-implementation of the parts of numpy's legacy RandomState
// that nnU-Net's decisions depend on: MT19937 seeded with an integer,
// `shuffle` (used by scikit-learn's KFold, hence by splits_final.json) and
// `randint`/`choice` over [0, n) (foreground sampling). Matching them keeps our
// splits identical to nnU-Net's for the same case ids and seed.
// Not thread-safe: one instance per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace nephron::data {

class NumpyRandomState {
 public:
  explicit NumpyRandomState(uint32_t seed);

  uint32_t NextUint32();
  uint64_t NextUint64();
  // numpy's random_interval: uniform in [0, max] by masked rejection.
  uint64_t Interval(uint64_t max);
  // Uniform integer in [0, n) as RandomState.randint(0, n) draws it (n >= 1).
  int64_t RandInt(int64_t n);
  // Uniform double in [0, 1) with 53 random bits (random_sample).
  double Uniform();
  // RandomState.shuffle of a 1-D sequence, in place.
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i-- > 1;) {
      const size_t j = static_cast<size_t>(Interval(i));
      std::swap((*v)[i], (*v)[j]);
    }
  }

 private:
  uint32_t mt_[624];
  int index_;
};

}  // namespace nephron::data
