// A Store that forwards every call to another and publishes each successful
// change to a ChangeFeed (for the web UI's server-sent events). Wrapping the
// store, rather than sprinkling notifications over the coordinator, means no
// write can be missed: the event loop, the HTTP API and tests all go through it.
#pragma once

#include <map>
#include <mutex>

#include "coordinator/change_feed.h"
#include "coordinator/store.h"

namespace nephron::coord {

class ObservedStore : public Store {
 public:
  // `inner` and `feed` must outlive this object.
  ObservedStore(Store* inner, ChangeFeed* feed) : inner_(inner), feed_(feed) {}

  Result<int64_t> CreateExperiment(const ExperimentRecord& exp, const std::vector<TaskRecord>& tasks) override;
  Result<std::vector<ExperimentRecord>> ListExperiments() override { return inner_->ListExperiments(); }
  Result<ExperimentRecord> GetExperiment(int64_t id) override { return inner_->GetExperiment(id); }
  Status SetExperimentState(int64_t id, ExperimentState state, const std::string& error, int64_t now_ms) override;
  Status SetExperimentDir(int64_t id, const std::string& dir) override;
  Status SetResults(int64_t id, const std::string& results_json) override;

  Result<std::vector<TaskRecord>> ListTasks(int64_t experiment_id) override { return inner_->ListTasks(experiment_id); }
  Result<std::vector<TaskRecord>> ActiveTasks() override { return inner_->ActiveTasks(); }
  Result<TaskRecord> GetTask(int64_t id) override { return inner_->GetTask(id); }
  Result<bool> ClaimTask(int64_t id, int expected_attempt, const std::string& worker, int64_t now_ms) override;
  Result<bool> FinishTask(int64_t id, int attempt, TaskState state, const std::string& error, bool permanent,
                          int64_t now_ms) override;
  Result<bool> RequeueTask(int64_t id, int attempt, int64_t not_before_ms, const std::string& error) override;
  Result<bool> RetryTask(int64_t id, int64_t now_ms) override;
  Result<std::vector<TaskRecord>> CancelExperiment(int64_t id, int64_t now_ms) override;
  Result<bool> SetProgress(int64_t id, int attempt, double fraction, const std::string& message) override;

  Status AddMetric(const MetricRecord& m) override;
  Result<std::vector<MetricRecord>> Metrics(int64_t experiment_id) override { return inner_->Metrics(experiment_id); }
  Status AppendLogs(int64_t task_id, int attempt, const std::vector<std::string>& lines, int64_t now_ms) override;
  Result<std::vector<LogRecord>> Logs(int64_t task_id, int64_t after_seq, int limit) override {
    return inner_->Logs(task_id, after_seq, limit);
  }
  Status AddEvent(int64_t experiment_id, int64_t task_id, const std::string& text, int64_t now_ms) override;
  Result<std::vector<EventRecord>> Events(int64_t experiment_id, int64_t after_seq, int limit) override {
    return inner_->Events(experiment_id, after_seq, limit);
  }
  Status AddArtifacts(int64_t task_id, int attempt, const std::vector<ArtifactRecord>& artifacts) override;
  Result<std::vector<ArtifactRecord>> Artifacts(int64_t experiment_id) override {
    return inner_->Artifacts(experiment_id);
  }
  Status UpsertWorker(const WorkerRecord& w) override;
  Result<std::vector<WorkerRecord>> ListWorkers() override { return inner_->ListWorkers(); }
  Result<WorkerRecord> GetWorker(const std::string& name) override { return inner_->GetWorker(name); }

 private:
  void Publish(const char* kind, int64_t experiment_id, int64_t task_id, const std::string& worker = "");
  // Publishes a change of `task` with its experiment (looked up once, then cached).
  void PublishTask(const char* kind, int64_t task_id);
  // Publishes the task-level change when `r` holds true.
  Result<bool> Changed(const char* kind, int64_t task_id, Result<bool> r);

  Store* inner_;
  ChangeFeed* feed_;
  std::mutex mu_;
  std::map<int64_t, int64_t> experiment_of_;  // task -> experiment
};

}  // namespace nephron::coord
