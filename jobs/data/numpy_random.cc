#include "jobs/data/numpy_random.h"

namespace nephron::data {

NumpyRandomState::NumpyRandomState(uint32_t seed) {
  // init_genrand, as numpy's mt19937_seed does for an integer seed.
  mt_[0] = seed;
  for (int i = 1; i < 624; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  index_ = 624;
}

uint32_t NumpyRandomState::NextUint32() {
  if (index_ >= 624) {
    for (int i = 0; i < 624; ++i) {
      const uint32_t y = (mt_[i] & 0x80000000u) | (mt_[(i + 1) % 624] & 0x7fffffffu);
      mt_[i] = mt_[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint64_t NumpyRandomState::NextUint64() {
  const uint64_t hi = NextUint32();
  return (hi << 32) | NextUint32();
}

uint64_t NumpyRandomState::Interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t value;
  if (max <= 0xffffffffULL) {
    while ((value = (NextUint32() & mask)) > max) {
    }
  } else {
    while ((value = (NextUint64() & mask)) > max) {
    }
  }
  return value;
}

int64_t NumpyRandomState::RandInt(int64_t n) {
  // randint(0, n) -> bounded masked draw of rng = n - 1, 32-bit path for small ranges.
  return static_cast<int64_t>(Interval(static_cast<uint64_t>(n - 1)));
}

double NumpyRandomState::Uniform() {
  const uint32_t a = NextUint32() >> 5, b = NextUint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

}  // namespace nephron::data
