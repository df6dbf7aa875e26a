// ParallelFor: split [0, n) into contiguous chunks over `threads` std::threads
// (the calling thread takes one). Blocking; fn must be safe to call
// concurrently for disjoint ranges. threads <= 0 means all cores.
#pragma once

#include <cstdint>
#include <functional>

namespace nephron::preprocess {

int ResolveThreads(int threads);
void ParallelFor(int64_t n, int threads, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace nephron::preprocess
