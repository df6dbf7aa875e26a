// MemoryStore: the Store contract over std containers behind one mutex. Ids
// and sequence numbers start at 1 and are never reused, like SQLite's
// AUTOINCREMENT, so tests see the same numbers from both backends. Nothing is
// durable; it exists for tests and the scheduler load test.
#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "coordinator/store.h"
#include "coordinator/store_checks.h"

namespace nephron::coord {
namespace {

Status TaskNotFound(int64_t id) { return NotFound("task " + std::to_string(id) + " does not exist"); }
Status ExperimentNotFound(int64_t id) { return NotFound("experiment " + std::to_string(id) + " does not exist"); }

// The records with seq > after_seq, at most `limit` (<= 0: none), oldest first.
template <typename Rec>
std::vector<Rec> Page(const std::vector<Rec>& all, int64_t after_seq, int limit) {
  auto it = std::upper_bound(all.begin(), all.end(), after_seq,
                             [](int64_t seq, const Rec& r) { return seq < r.seq; });
  std::vector<Rec> out;
  for (; it != all.end() && static_cast<int>(out.size()) < limit; ++it) out.push_back(*it);
  return out;
}

class MemoryStore : public Store {
 public:
  Result<int64_t> CreateExperiment(const ExperimentRecord& exp, const std::vector<TaskRecord>& tasks) override {
    RETURN_IF_ERROR(ValidateTaskGraph(tasks));
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t id = next_experiment_id_++;
    ExperimentRecord e = exp;
    e.id = id;
    experiments_[id] = e;
    const int64_t first_task = next_task_id_;
    next_task_id_ += static_cast<int64_t>(tasks.size());
    for (size_t i = 0; i < tasks.size(); ++i) {
      TaskRecord t = tasks[i];
      t.id = first_task + static_cast<int64_t>(i);
      t.experiment_id = id;
      for (int64_t& dep : t.deps) dep += first_task;
      tasks_[t.id] = std::move(t);
    }
    return id;
  }

  Result<std::vector<ExperimentRecord>> ListExperiments() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ExperimentRecord> out;
    for (auto it = experiments_.rbegin(); it != experiments_.rend(); ++it) out.push_back(it->second);
    return out;
  }

  Result<ExperimentRecord> GetExperiment(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = experiments_.find(id);
    if (it == experiments_.end()) return ExperimentNotFound(id);
    return it->second;
  }

  Status SetExperimentState(int64_t id, ExperimentState state, const std::string& error, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = experiments_.find(id);
    if (it == experiments_.end()) return ExperimentNotFound(id);
    it->second.state = state;
    it->second.error = error;
    it->second.finished_ms = state == ExperimentState::kRunning ? 0 : now_ms;
    return Status::Ok();
  }

  Status SetExperimentDir(int64_t id, const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = experiments_.find(id);
    if (it == experiments_.end()) return ExperimentNotFound(id);
    it->second.dir = dir;
    return Status::Ok();
  }

  Status SetResults(int64_t id, const std::string& results_json) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = experiments_.find(id);
    if (it == experiments_.end()) return ExperimentNotFound(id);
    it->second.results_json = results_json;
    return Status::Ok();
  }

  Result<std::vector<TaskRecord>> ListTasks(int64_t experiment_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<TaskRecord> out;
    for (const auto& [id, t] : tasks_)
      if (t.experiment_id == experiment_id) out.push_back(t);
    return out;
  }

  Result<std::vector<TaskRecord>> ActiveTasks() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<TaskRecord> out;
    for (const auto& [id, t] : tasks_)
      if (!IsTerminal(t.state)) out.push_back(t);
    return out;
  }

  Result<TaskRecord> GetTask(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return TaskNotFound(id);
    return it->second;
  }

  Result<bool> ClaimTask(int64_t id, int expected_attempt, const std::string& worker, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return TaskNotFound(id);
    TaskRecord& t = it->second;
    if (t.state != TaskState::kPending || t.attempt != expected_attempt) return false;
    t.state = TaskState::kRunning;
    t.attempt += 1;
    t.worker = worker;
    t.started_ms = now_ms;
    t.finished_ms = 0;
    t.progress = 0;
    t.progress_message.clear();
    return true;
  }

  Result<bool> FinishTask(int64_t id, int attempt, TaskState state, const std::string& error, bool permanent,
                          int64_t now_ms) override {
    RETURN_IF_ERROR(ValidateFinishState(id, state));
    std::lock_guard<std::mutex> lock(mu_);
    TaskRecord* t = nullptr;
    ASSIGN_OR_RETURN(t, RunningAttempt(id, attempt));
    if (t == nullptr) return false;
    t->state = state;
    t->error = error;
    t->permanent_error = permanent;
    t->finished_ms = now_ms;
    return true;
  }

  Result<bool> RequeueTask(int64_t id, int attempt, int64_t not_before_ms, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    TaskRecord* t = nullptr;
    ASSIGN_OR_RETURN(t, RunningAttempt(id, attempt));
    if (t == nullptr) return false;
    t->state = TaskState::kPending;
    t->not_before_ms = not_before_ms;
    t->error = error;
    return true;
  }

  Result<bool> RetryTask(int64_t id, int64_t /*now_ms*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return TaskNotFound(id);
    TaskRecord& t = it->second;
    if (t.state != TaskState::kFailed && t.state != TaskState::kCancelled) return false;
    t.state = TaskState::kPending;
    t.error.clear();
    t.permanent_error = false;
    t.not_before_ms = 0;
    t.finished_ms = 0;
    t.progress = 0;
    t.progress_message.clear();
    auto eit = experiments_.find(t.experiment_id);
    if (eit != experiments_.end()) {
      eit->second.state = ExperimentState::kRunning;
      eit->second.error.clear();
      eit->second.finished_ms = 0;
    }
    return true;
  }

  Result<std::vector<TaskRecord>> CancelExperiment(int64_t id, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto eit = experiments_.find(id);
    if (eit == experiments_.end()) return ExperimentNotFound(id);
    std::vector<TaskRecord> was_running;
    for (auto& [tid, t] : tasks_) {
      if (t.experiment_id != id || IsTerminal(t.state)) continue;
      const bool running = t.state == TaskState::kRunning;
      t.state = TaskState::kCancelled;
      t.finished_ms = now_ms;
      if (running) was_running.push_back(t);
    }
    // A finished experiment keeps its outcome; see the SQLite backend.
    if (eit->second.state == ExperimentState::kRunning) {
      eit->second.state = ExperimentState::kCancelled;
      eit->second.finished_ms = now_ms;
    }
    return was_running;
  }

  Result<bool> SetProgress(int64_t id, int attempt, double fraction, const std::string& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    TaskRecord* t = nullptr;
    ASSIGN_OR_RETURN(t, RunningAttempt(id, attempt));
    if (t == nullptr) return false;
    t->progress = fraction;
    t->progress_message = message;
    return true;
  }

  Status AddMetric(const MetricRecord& m) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto tit = tasks_.find(m.task_id);
    if (tit == tasks_.end()) return TaskNotFound(m.task_id);
    MetricRecord row = m;
    row.experiment_id = tit->second.experiment_id;
    auto [it, inserted] = metrics_.try_emplace({m.task_id, m.epoch}, row);
    if (!inserted && row.attempt > it->second.attempt) it->second = std::move(row);
    return Status::Ok();
  }

  Result<std::vector<MetricRecord>> Metrics(int64_t experiment_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<MetricRecord> out;
    for (const auto& [key, m] : metrics_)
      if (m.experiment_id == experiment_id) out.push_back(m);
    return out;
  }

  Status AppendLogs(int64_t task_id, int attempt, const std::vector<std::string>& lines, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (tasks_.count(task_id) == 0) return TaskNotFound(task_id);
    std::vector<LogRecord>& logs = logs_[task_id];
    for (const std::string& line : lines) logs.push_back(LogRecord{next_log_seq_++, task_id, attempt, now_ms, line});
    return Status::Ok();
  }

  Result<std::vector<LogRecord>> Logs(int64_t task_id, int64_t after_seq, int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = logs_.find(task_id);
    if (it == logs_.end()) return std::vector<LogRecord>{};
    return Page(it->second, after_seq, limit);
  }

  Status AddEvent(int64_t experiment_id, int64_t task_id, const std::string& text, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (experiments_.count(experiment_id) == 0) return ExperimentNotFound(experiment_id);
    events_[experiment_id].push_back(EventRecord{next_event_seq_++, experiment_id, task_id, now_ms, text});
    return Status::Ok();
  }

  Result<std::vector<EventRecord>> Events(int64_t experiment_id, int64_t after_seq, int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = events_.find(experiment_id);
    if (it == events_.end()) return std::vector<EventRecord>{};
    return Page(it->second, after_seq, limit);
  }

  Status AddArtifacts(int64_t task_id, int attempt, const std::vector<ArtifactRecord>& artifacts) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto t = tasks_.find(task_id);
    if (t == tasks_.end()) return NotFound("task " + std::to_string(task_id) + " does not exist");
    for (ArtifactRecord a : artifacts) {
      a.experiment_id = t->second.experiment_id;
      a.task_id = task_id;
      a.attempt = attempt;
      artifacts_[a.experiment_id][a.path] = a;
    }
    return Status::Ok();
  }

  Result<std::vector<ArtifactRecord>> Artifacts(int64_t experiment_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ArtifactRecord> out;
    auto it = artifacts_.find(experiment_id);
    if (it != artifacts_.end())
      for (const auto& [path, a] : it->second) out.push_back(a);
    return out;
  }

  Status UpsertWorker(const WorkerRecord& w) override {
    std::lock_guard<std::mutex> lock(mu_);
    workers_[w.name] = w;
    return Status::Ok();
  }

  Result<std::vector<WorkerRecord>> ListWorkers() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<WorkerRecord> out;
    for (const auto& [name, w] : workers_) out.push_back(w);
    return out;
  }

  Result<WorkerRecord> GetWorker(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = workers_.find(name);
    if (it == workers_.end()) return NotFound("worker '" + name + "' is not registered");
    return it->second;
  }

 private:
  // The task if it is running `attempt`; nullptr if stale; NotFound if absent.
  // Requires mu_.
  Result<TaskRecord*> RunningAttempt(int64_t id, int attempt) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return TaskNotFound(id);
    TaskRecord* t = &it->second;
    if (t->state != TaskState::kRunning || t->attempt != attempt) return static_cast<TaskRecord*>(nullptr);
    return t;
  }

  std::mutex mu_;
  int64_t next_experiment_id_ = 1;
  int64_t next_task_id_ = 1;
  int64_t next_log_seq_ = 1;
  int64_t next_event_seq_ = 1;
  std::map<int64_t, ExperimentRecord> experiments_;
  std::map<int64_t, TaskRecord> tasks_;
  std::map<std::pair<int64_t, int>, MetricRecord> metrics_;  // (task, epoch)
  std::map<int64_t, std::vector<LogRecord>> logs_;           // task -> by seq
  std::map<int64_t, std::vector<EventRecord>> events_;       // experiment -> by seq
  std::map<std::string, WorkerRecord> workers_;
  std::map<int64_t, std::map<std::string, ArtifactRecord>> artifacts_;  // experiment -> path -> artifact
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace nephron::coord
