// What `nephron local` prints while an experiment runs, computed from
// successive GET /api/experiments/{id} answers: one line per task state
// change ("[12:01:03] train fold 0: running on local-1 (attempt 1)") and, at
// most every `progress_every_ms`, one line per running task with its progress
// message. Pure: JSON and a time in, text out (tests feed it snapshots).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/json_util.h"

namespace nephron::client {

class ExperimentMonitor {
 public:
  explicit ExperimentMonitor(int64_t progress_every_ms = 10'000) : progress_every_ms_(progress_every_ms) {}

  // The lines to print for this snapshot (each ends with a newline).
  std::string Update(const Json& experiment, int64_t now_ms);

 private:
  struct Seen {
    std::string state;
    int64_t attempt = 0;
  };
  int64_t progress_every_ms_;
  int64_t last_progress_ms_ = -1;
  std::map<int64_t, Seen> seen_;  // by task id
};

}  // namespace nephron::client
