// The Coordinator's dispatch step and its Control methods (the HTTP API's
// way in). Split from coordinator.cc, which handles worker messages.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/fs_util.h"
#include "coordinator/coordinator.h"
#include "coordinator/graph.h"

namespace nephron::coord {

namespace {

std::string SafeDirName(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return s.empty() ? "experiment" : s.substr(0, 64);
}

}  // namespace

Result<JobSpec> Coordinator::SpecOf(const ExperimentRecord& e) {
  auto it = specs_.find(e.id);
  if (it != specs_.end()) return it->second;
  if (e.spec_yaml.empty()) return NotFound("experiment " + std::to_string(e.id) + " has no spec");
  ASSIGN_OR_RETURN(JobSpec s, ParseJobSpec(e.spec_yaml, "experiment " + std::to_string(e.id) + " spec"));
  specs_[e.id] = s;
  return s;
}

RetryPolicy Coordinator::PolicyOf(int64_t experiment_id) {
  RetryPolicy p;
  auto e = store_->GetExperiment(experiment_id);
  if (!e.ok()) return p;
  auto s = SpecOf(*e);
  if (!s.ok()) return p;
  p.max_attempts = s->retry.max_attempts;
  p.backoff_ms = static_cast<int64_t>(s->retry.backoff_seconds * 1000);
  p.backoff_cap_ms = static_cast<int64_t>(s->retry.backoff_cap_seconds * 1000);
  return p;
}

Result<proto::AssignMsg> Coordinator::BuildAssign(const TaskRecord& t, const ExperimentRecord& e) {
  proto::AssignMsg a;
  a.task = t.id;
  a.attempt = t.attempt + 1;
  a.kind = t.kind;
  a.experiment = e.id;
  a.fold = t.fold;
  a.shard = t.shard;
  a.num_shards = t.num_shards;
  a.noop_seconds = t.noop_seconds;
  if (t.kind == "noop") return a;
  ASSIGN_OR_RETURN(JobSpec spec, SpecOf(e));
  a.experiment_dir = e.dir;
  a.data_dir = spec.dataset.root;
  if (files_ && !a.data_dir.empty()) files_->AddReadOnlyRoot(a.data_dir);  // for workers that fetch their inputs
  a.threads = spec.resources.threads;
  a.checkpoint = spec.inference.checkpoint;
  a.spec_path = e.dir + "/spec.yaml";
  a.output_dir = e.dir + "/predictions";
  a.log_path = e.dir + "/logs/" + std::to_string(t.id) + "-" + SafeDirName(t.name) + ".log";
  // The spec file is written at submit; write it again if a crash lost it.
  if (!FileExists(a.spec_path)) {
    RETURN_IF_ERROR(MakeDirs(e.dir));
    RETURN_IF_ERROR(WriteFileAtomic(a.spec_path, e.spec_yaml));
  }
  RETURN_IF_ERROR(MakeDirs(e.dir + "/logs"));
  return a;
}

void Coordinator::DispatchReady() {
  std::vector<WorkerView> idle;
  for (const auto& [name, w] : workers_) {
    if (w.lost || w.rec.task || w.rec.draining || w.stopping_task) continue;
    idle.push_back({name, w.rec.device, w.rec.memory_mb, false, false, w.rec.last_heartbeat_ms});
  }
  if (idle.empty()) return;
  auto exps = store_->ListExperiments();
  auto active = store_->ActiveTasks();
  if (!exps.ok() || !active.ok()) {
    spdlog::error("dispatch: {}", (!exps.ok() ? exps.status() : active.status()).message());
    return;
  }
  std::vector<int64_t> running;
  std::map<int64_t, ExperimentRecord> by_id;
  for (const auto& e : *exps) {
    if (e.state != ExperimentState::kRunning) continue;
    running.push_back(e.id);
    by_id[e.id] = e;
  }
  // Dependency states: active tasks are not succeeded; anything else a pending
  // task depends on is looked up per experiment once.
  std::map<int64_t, TaskState> dep_state;
  std::set<int64_t> need_lookup;
  for (const auto& t : *active) dep_state[t.id] = t.state;
  for (const auto& t : *active)
    for (int64_t d : t.deps)
      if (!dep_state.count(d)) need_lookup.insert(t.experiment_id);
  for (int64_t exp : need_lookup) {
    auto all = store_->ListTasks(exp);
    if (all.ok())
      for (const auto& t : *all) dep_state[t.id] = t.state;
  }
  const int64_t now = Now();
  for (const Dispatch& d : PlanDispatch(*active, dep_state, running, idle, now)) {
    auto t = store_->GetTask(d.task_id);
    if (!t.ok()) continue;
    auto assign = BuildAssign(*t, by_id[t->experiment_id]);
    if (!assign.ok()) {
      (void)store_->ClaimTask(d.task_id, d.expected_attempt, d.worker, now);
      (void)store_->FinishTask(d.task_id, d.expected_attempt + 1, TaskState::kFailed, assign.status().message(), true, now);
      Event(t->experiment_id, t->id, t->name + ": cannot be started: " + assign.status().message());
      AfterTaskFinished(t->experiment_id, Outcome::kFailed);
      continue;
    }
    auto claimed = store_->ClaimTask(d.task_id, d.expected_attempt, d.worker, now);
    if (!claimed.ok() || !*claimed) continue;
    in_flight_[d.task_id] = InFlight{assign->attempt, d.worker, -1, 0};
    LiveWorker& w = workers_[d.worker];
    w.rec.task = d.task_id;
    w.rec.attempt = assign->attempt;
    w.rec.state = "busy";
    (void)store_->UpsertWorker(w.rec);
    w.assigned_ms = Now();
    Send(d.worker, proto::Encode(*assign));
    spdlog::info("task {} ({}) attempt {} -> {}", t->id, t->name, assign->attempt, d.worker);
  }
}

Result<int64_t> Coordinator::Submit(const std::string& spec_yaml, const std::string& source) {
  // Every problem at once: the spec's own, then the data root's.
  auto parsed = ParseJobSpec(spec_yaml, source);
  std::vector<std::string> problems;
  if (!parsed.ok()) {
    problems.push_back(parsed.status().message());
  } else {
    Status v = ValidateJobSpec(*parsed, source);
    if (!v.ok()) problems.push_back(v.message());
  }
  const std::string root = parsed.ok() ? parsed->dataset.root : DatasetRootOf(spec_yaml);
  if (root.empty()) {
    problems.push_back(source + ": dataset.root: required (the raw data set folder)");
  } else if (!std::filesystem::path(root).is_absolute()) {
    problems.push_back(source + ": dataset.root: must be an absolute path (`nephron submit` resolves it): " + root);
  } else if (!std::filesystem::is_directory(root)) {
    problems.push_back(source + ": dataset.root: no such folder on the coordinator: " + root);
  }
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "\n") + p;
    return InvalidArgument(all);
  }
  const JobSpec& spec = *parsed;
  ExperimentRecord e;
  e.name = spec.name;
  e.spec_yaml = spec_yaml;
  e.created_ms = Now();
  std::vector<TaskRecord> tasks = ExpandSpec(spec);
  for (auto& t : tasks) t.created_ms = e.created_ms;
  ASSIGN_OR_RETURN(int64_t id, store_->CreateExperiment(e, tasks));
  const std::string dir = std::filesystem::absolute(options_.data_root).lexically_normal().string() +
                          "/experiments/" + std::to_string(id) + "-" + SafeDirName(spec.name);
  RETURN_IF_ERROR(store_->SetExperimentDir(id, dir));
  RETURN_IF_ERROR(MakeDirs(dir));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/spec.yaml", spec_yaml));
  (void)store_->AddEvent(id, 0, "experiment " + spec.name + " submitted from " + source, Now());
  dirty_ = true;
  return id;
}

Result<int64_t> Coordinator::SubmitTasks(const std::string& name, std::vector<TaskRecord> tasks) {
  ExperimentRecord e;
  e.name = name;
  e.created_ms = Now();
  for (auto& t : tasks) t.created_ms = e.created_ms;
  ASSIGN_OR_RETURN(int64_t id, store_->CreateExperiment(e, tasks));
  dirty_ = true;
  return id;
}

Status Coordinator::Cancel(int64_t experiment_id) {
  ASSIGN_OR_RETURN(ExperimentRecord e, store_->GetExperiment(experiment_id));
  if (e.state != ExperimentState::kRunning) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<TaskRecord> running, store_->CancelExperiment(experiment_id, Now()));
  (void)store_->AddEvent(experiment_id, 0, "experiment cancelled", Now());
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& t : running) cancels_.push_back({t.id, t.attempt});
  return Status::Ok();
}

Status Coordinator::Retry(int64_t task_id) {
  ASSIGN_OR_RETURN(TaskRecord t, store_->GetTask(task_id));
  if (t.state != TaskState::kFailed && t.state != TaskState::kCancelled)
    return FailedPrecondition("task " + std::to_string(task_id) + " (" + t.name + ") is " + TaskStateName(t.state) +
                              "; only failed or cancelled tasks can be retried");
  ASSIGN_OR_RETURN(ExperimentRecord e, store_->GetExperiment(t.experiment_id));
  ASSIGN_OR_RETURN(bool ok, store_->RetryTask(task_id, Now()));
  if (!ok) return FailedPrecondition("task " + std::to_string(task_id) + " changed state; try again");
  (void)store_->AddEvent(t.experiment_id, task_id, t.name + ": retried by a user", Now());
  if (e.state == ExperimentState::kCancelled) {
    // Retrying a task of a cancelled experiment resumes the experiment: its
    // other cancelled tasks are queued again too (trainings continue from
    // their checkpoints), or it could never finish.
    ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, store_->ListTasks(t.experiment_id));
    for (const auto& other : tasks)
      if (other.state == TaskState::kCancelled) (void)store_->RetryTask(other.id, Now());
    (void)store_->AddEvent(t.experiment_id, 0, "experiment resumed", Now());
  }
  dirty_ = true;
  return Status::Ok();
}

Status Coordinator::Drain(const std::string& worker) {
  ASSIGN_OR_RETURN(WorkerRecord w, store_->GetWorker(worker));
  (void)w;
  std::lock_guard<std::mutex> lock(mu_);
  drains_.push_back(worker);
  return Status::Ok();
}

}  // namespace nephron::coord
