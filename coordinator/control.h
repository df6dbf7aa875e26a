// What clients may change, as the coordinator's event loop offers it to the
// HTTP API. Reads go straight to the Store; every state change goes through
// here so that the loop can tell the workers (cancel a running task, stop
// dispatching to a draining worker). Thread-safe; each call returns once the
// change is durable.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace nephron::coord {

class Control {
 public:
  virtual ~Control() = default;
  // Validates the spec (InvalidArgument listing every problem, with field
  // paths, and nothing stored), expands it into the task graph and stores it.
  // `source` names the spec in messages (its file name).
  virtual Result<int64_t> Submit(const std::string& spec_yaml, const std::string& source) = 0;
  // NotFound for an unknown id; OK (no change) if already finished.
  virtual Status Cancel(int64_t experiment_id) = 0;
  // A failed or cancelled task runs again (its attempt count continues).
  // NotFound; FailedPrecondition if the task is pending, running or succeeded.
  virtual Status Retry(int64_t task_id) = 0;
  // The worker finishes its current task and gets no more. NotFound.
  virtual Status Drain(const std::string& worker) = 0;
};

}  // namespace nephron::coord
