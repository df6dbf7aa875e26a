// The scheduler: pure policy, no I/O and no clock reads (time is passed in),
// so that every rule is unit-tested with a fake clock.
//
// - Readiness: a pending task is ready when its experiment is running, every
//   dependency succeeded and its retry back-off has passed.
// - Dispatch order: older experiments first, then graph order (task id),
//   each to the first idle, non-draining worker whose capabilities fit.
// - Liveness: a worker silent for heartbeat_ms x liveness is lost; its task
//   goes back to the queue lost_grace_ms later unless the worker comes back
//   and reports it is still running it (then it is adopted).
// - Failures: permanent ones fail the task at once; others are retried with
//   exponential back-off (base x 2^(attempt-1), capped) until max_attempts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "coordinator/store.h"

namespace nephron::coord {

struct SchedulerConfig {
  int64_t heartbeat_ms = 1000;
  int liveness = 4;
  int64_t lost_grace_ms = 2000;
};

struct RetryPolicy {
  int max_attempts = 3;
  int64_t backoff_ms = 2000;
  int64_t backoff_cap_ms = 120000;
};

struct WorkerView {
  std::string name;
  std::string device;          // "cpu" or "cuda:N"
  int64_t memory_mb = 0;
  bool busy = false;
  bool draining = false;
  int64_t last_heartbeat_ms = 0;
};

struct Dispatch {
  int64_t task_id = 0;
  int expected_attempt = 0;    // the attempt the claim must see
  std::string worker;
};

struct FailureDecision {
  bool retry = false;          // true: back to pending at not_before_ms
  int64_t not_before_ms = 0;
};

// Whether `w` may run `t` (device kind and memory).
bool Fits(const TaskRecord& t, const WorkerView& w);

// `dep_state` holds the state of every task that some pending task depends
// on; `running_experiments` the ids of experiments in state running.
bool IsReady(const TaskRecord& t, const std::map<int64_t, TaskState>& dep_state,
             const std::vector<int64_t>& running_experiments, int64_t now_ms);

// Matches ready tasks to idle workers. `tasks` may hold anything (non-ready
// ones are skipped); the result assigns each worker at most one task.
std::vector<Dispatch> PlanDispatch(const std::vector<TaskRecord>& tasks, const std::map<int64_t, TaskState>& dep_state,
                                   const std::vector<int64_t>& running_experiments,
                                   const std::vector<WorkerView>& workers, int64_t now_ms);

bool WorkerExpired(int64_t last_heartbeat_ms, int64_t now_ms, const SchedulerConfig& c);
// When a task of a worker that was declared lost at `lost_at_ms` goes back.
inline int64_t RequeueAt(int64_t lost_at_ms, const SchedulerConfig& c) { return lost_at_ms + c.lost_grace_ms; }
// A live worker whose heartbeats have not confirmed an Assign this long after
// it was sent did not get it (heartbeats name the newest Assign received).
inline int64_t AssignLostAfterMs(const SchedulerConfig& c) {
  return std::max<int64_t>(30000, 2 * c.heartbeat_ms * c.liveness);
}

int64_t BackoffMs(int attempt, const RetryPolicy& p);
// After attempt `attempt` (1-based) failed.
FailureDecision OnFailure(int attempt, bool permanent, const RetryPolicy& p, int64_t now_ms);

}  // namespace nephron::coord
