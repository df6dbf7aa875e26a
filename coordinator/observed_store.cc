#include "coordinator/observed_store.h"

namespace nephron::coord {

void ObservedStore::Publish(const char* kind, int64_t experiment_id, int64_t task_id, const std::string& worker) {
  Change c;
  c.kind = kind;
  c.experiment_id = experiment_id;
  c.task_id = task_id;
  c.worker = worker;
  feed_->Publish(std::move(c));
}

void ObservedStore::PublishTask(const char* kind, int64_t task_id) {
  int64_t exp = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = experiment_of_.find(task_id);
    if (it != experiment_of_.end()) exp = it->second;
  }
  if (exp == 0) {
    auto t = inner_->GetTask(task_id);
    if (t.ok()) {
      exp = t->experiment_id;
      std::lock_guard<std::mutex> lock(mu_);
      experiment_of_[task_id] = exp;
    }
  }
  Publish(kind, exp, task_id);
}

Result<bool> ObservedStore::Changed(const char* kind, int64_t task_id, Result<bool> r) {
  if (r.ok() && *r) PublishTask(kind, task_id);
  return r;
}

Result<int64_t> ObservedStore::CreateExperiment(const ExperimentRecord& exp, const std::vector<TaskRecord>& tasks) {
  auto r = inner_->CreateExperiment(exp, tasks);
  if (r.ok()) Publish("experiment", *r, 0);
  return r;
}

Status ObservedStore::SetExperimentState(int64_t id, ExperimentState state, const std::string& error,
                                         int64_t now_ms) {
  Status s = inner_->SetExperimentState(id, state, error, now_ms);
  if (s.ok()) Publish("experiment", id, 0);
  return s;
}

Status ObservedStore::SetExperimentDir(int64_t id, const std::string& dir) {
  Status s = inner_->SetExperimentDir(id, dir);
  if (s.ok()) Publish("experiment", id, 0);
  return s;
}

Status ObservedStore::SetResults(int64_t id, const std::string& results_json) {
  Status s = inner_->SetResults(id, results_json);
  if (s.ok()) Publish("experiment", id, 0);
  return s;
}

Result<bool> ObservedStore::ClaimTask(int64_t id, int expected_attempt, const std::string& worker, int64_t now_ms) {
  return Changed("task", id, inner_->ClaimTask(id, expected_attempt, worker, now_ms));
}

Result<bool> ObservedStore::FinishTask(int64_t id, int attempt, TaskState state, const std::string& error,
                                       bool permanent, int64_t now_ms) {
  return Changed("task", id, inner_->FinishTask(id, attempt, state, error, permanent, now_ms));
}

Result<bool> ObservedStore::RequeueTask(int64_t id, int attempt, int64_t not_before_ms, const std::string& error) {
  return Changed("task", id, inner_->RequeueTask(id, attempt, not_before_ms, error));
}

Result<bool> ObservedStore::RetryTask(int64_t id, int64_t now_ms) {
  return Changed("task", id, inner_->RetryTask(id, now_ms));
}

Result<std::vector<TaskRecord>> ObservedStore::CancelExperiment(int64_t id, int64_t now_ms) {
  auto r = inner_->CancelExperiment(id, now_ms);
  if (r.ok()) Publish("experiment", id, 0);
  return r;
}

Result<bool> ObservedStore::SetProgress(int64_t id, int attempt, double fraction, const std::string& message) {
  return Changed("task", id, inner_->SetProgress(id, attempt, fraction, message));
}

Status ObservedStore::AddMetric(const MetricRecord& m) {
  Status s = inner_->AddMetric(m);
  if (s.ok()) Publish("metric", m.experiment_id, m.task_id);
  return s;
}

Status ObservedStore::AppendLogs(int64_t task_id, int attempt, const std::vector<std::string>& lines,
                                 int64_t now_ms) {
  Status s = inner_->AppendLogs(task_id, attempt, lines, now_ms);
  if (s.ok() && !lines.empty()) PublishTask("log", task_id);
  return s;
}

Status ObservedStore::AddEvent(int64_t experiment_id, int64_t task_id, const std::string& text, int64_t now_ms) {
  Status s = inner_->AddEvent(experiment_id, task_id, text, now_ms);
  if (s.ok()) Publish("event", experiment_id, task_id);
  return s;
}

Status ObservedStore::AddArtifacts(int64_t task_id, int attempt, const std::vector<ArtifactRecord>& artifacts) {
  Status s = inner_->AddArtifacts(task_id, attempt, artifacts);
  if (s.ok() && !artifacts.empty()) PublishTask("artifact", task_id);
  return s;
}

Status ObservedStore::UpsertWorker(const WorkerRecord& w) {
  Status s = inner_->UpsertWorker(w);
  if (s.ok()) Publish("worker", 0, w.task, w.name);
  return s;
}

}  // namespace nephron::coord
