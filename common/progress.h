// How an engine reports progress and learns that it should stop. The worker
// forwards reports to the coordinator; the CLI prints them. Implementations
// must be thread-safe: engines may report from worker threads.
#pragma once

#include <cstdint>
#include <string>

namespace nephron {

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // `done` of `total` units of `stage` are finished; `message` is one line.
  virtual void Report(const std::string& stage, int64_t done, int64_t total, const std::string& message) = 0;
  // Engines poll this between units of work and stop with Cancelled.
  virtual bool Cancelled() const { return false; }
};

}  // namespace nephron
