// The state names are part of the SQLite schema and the HTTP API: changing
// one is a schema migration, not a rename.
#include "coordinator/store.h"

namespace nephron::coord {

const char* ExperimentStateName(ExperimentState s) {
  switch (s) {
    case ExperimentState::kRunning: return "running";
    case ExperimentState::kSucceeded: return "succeeded";
    case ExperimentState::kFailed: return "failed";
    case ExperimentState::kCancelled: return "cancelled";
  }
  return "unknown";
}

const char* TaskStateName(TaskState s) {
  switch (s) {
    case TaskState::kPending: return "pending";
    case TaskState::kRunning: return "running";
    case TaskState::kSucceeded: return "succeeded";
    case TaskState::kFailed: return "failed";
    case TaskState::kCancelled: return "cancelled";
  }
  return "unknown";
}

bool ParseTaskState(const std::string& name, TaskState* out) {
  for (TaskState s : {TaskState::kPending, TaskState::kRunning, TaskState::kSucceeded, TaskState::kFailed,
                      TaskState::kCancelled}) {
    if (name == TaskStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

bool ParseExperimentState(const std::string& name, ExperimentState* out) {
  for (ExperimentState s : {ExperimentState::kRunning, ExperimentState::kSucceeded, ExperimentState::kFailed,
                            ExperimentState::kCancelled}) {
    if (name == ExperimentStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

}  // namespace nephron::coord
