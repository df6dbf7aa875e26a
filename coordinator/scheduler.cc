#include "coordinator/scheduler.h"

#include <algorithm>

namespace nephron::coord {

bool Fits(const TaskRecord& t, const WorkerView& w) {
  const bool cuda = w.device.rfind("cuda", 0) == 0;
  if (t.device_kind == "cuda" && !cuda) return false;
  if (t.device_kind == "cpu" && cuda) return false;
  if (t.memory_mb > 0 && w.memory_mb > 0 && w.memory_mb < t.memory_mb) return false;
  return true;
}

bool IsReady(const TaskRecord& t, const std::map<int64_t, TaskState>& dep_state,
             const std::vector<int64_t>& running_experiments, int64_t now_ms) {
  if (t.state != TaskState::kPending) return false;
  if (std::find(running_experiments.begin(), running_experiments.end(), t.experiment_id) == running_experiments.end())
    return false;
  if (now_ms < t.not_before_ms) return false;
  for (int64_t d : t.deps) {
    auto it = dep_state.find(d);
    if (it == dep_state.end() || it->second != TaskState::kSucceeded) return false;
  }
  return true;
}

std::vector<Dispatch> PlanDispatch(const std::vector<TaskRecord>& tasks, const std::map<int64_t, TaskState>& dep_state,
                                   const std::vector<int64_t>& running_experiments,
                                   const std::vector<WorkerView>& workers, int64_t now_ms) {
  std::vector<const TaskRecord*> ready;
  for (const auto& t : tasks)
    if (IsReady(t, dep_state, running_experiments, now_ms)) ready.push_back(&t);
  std::sort(ready.begin(), ready.end(), [](const TaskRecord* a, const TaskRecord* b) {
    return a->experiment_id != b->experiment_id ? a->experiment_id < b->experiment_id : a->id < b->id;
  });
  std::vector<bool> taken(workers.size(), false);
  std::vector<Dispatch> out;
  for (const TaskRecord* t : ready) {
    for (size_t i = 0; i < workers.size(); ++i) {
      const WorkerView& w = workers[i];
      if (taken[i] || w.busy || w.draining || !Fits(*t, w)) continue;
      taken[i] = true;
      out.push_back({t->id, t->attempt, w.name});
      break;
    }
  }
  return out;
}

bool WorkerExpired(int64_t last_heartbeat_ms, int64_t now_ms, const SchedulerConfig& c) {
  return now_ms - last_heartbeat_ms > c.heartbeat_ms * c.liveness;
}

int64_t BackoffMs(int attempt, const RetryPolicy& p) {
  int64_t d = p.backoff_ms;
  for (int i = 1; i < attempt && d < p.backoff_cap_ms; ++i) d *= 2;
  return std::min(d, p.backoff_cap_ms);
}

FailureDecision OnFailure(int attempt, bool permanent, const RetryPolicy& p, int64_t now_ms) {
  FailureDecision d;
  if (permanent || attempt >= p.max_attempts) return d;
  d.retry = true;
  d.not_before_ms = now_ms + BackoffMs(attempt, p);
  return d;
}

}  // namespace nephron::coord
