#include "coordinator/coordinator.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "common/fs_util.h"
#include "coordinator/graph.h"
#include "coordinator/results.h"

namespace nephron::coord {

namespace {

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Coordinator::Coordinator(Store* store, CoordinatorOptions options) : store_(store), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = SystemNowMs;
}

Coordinator::~Coordinator() = default;

Result<std::string> Coordinator::RootToken(const std::string& data_root) {
  const std::string path = data_root + "/.nephron-root";
  if (auto t = ReadFile(path); t.ok() && t->size() >= 32) return t->substr(0, 32);
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  RETURN_IF_ERROR(WriteFileAtomic(path, buf));
  return std::string(buf);
}

Status Coordinator::MayUpload(const std::string& path, int64_t task, int attempt) {
  if (task <= 0) return FailedPrecondition("an upload must name the running task attempt it belongs to");
  auto it = in_flight_.find(task);
  if (it == in_flight_.end() || it->second.attempt != attempt)
    return FailedPrecondition("task " + std::to_string(task) + " attempt " + std::to_string(attempt) +
                              " is not running any more: its outputs are stale and refused");
  // Under CURVE only the key of the worker running the attempt may upload its outputs.
  auto w = workers_.find(it->second.worker);
  if (w != workers_.end() && !w->second.rec.key_name.empty() && w->second.rec.key_name != file_peer_key_)
    return FailedPrecondition("task " + std::to_string(task) + " attempt " + std::to_string(attempt) + " runs on " +
                              it->second.worker + " (key " + w->second.rec.key_name + "); an upload for it from key '" +
                              file_peer_key_ + "' is refused");
  std::string& dir = it->second.upload_dir;  // looked up once per attempt, not per chunk
  if (dir.empty()) {
    ASSIGN_OR_RETURN(TaskRecord t, store_->GetTask(task));
    ASSIGN_OR_RETURN(ExperimentRecord e, store_->GetExperiment(t.experiment_id));
    if (e.dir.empty()) return FailedPrecondition("task " + std::to_string(task) + "'s experiment has no folder");
    dir = std::filesystem::weakly_canonical(std::filesystem::absolute(e.dir)).string();
  }
  if (path.compare(0, dir.size() + 1, dir + "/") != 0)
    return FailedPrecondition(path + " is outside the folder of task " + std::to_string(task) + "'s experiment");
  return Status::Ok();
}

Status Coordinator::Start() {
  net::CurveOptions curve;
  if (!options_.key_file.empty() || !options_.authorized_keys.empty()) {
    if (options_.key_file.empty() || options_.authorized_keys.empty())
      return InvalidArgument("CURVE needs both --key FILE (the coordinator's secret key) and --authorized-keys DIR "
                             "(the workers' *.pub files)");
    ASSIGN_OR_RETURN(net::CurveKeyPair keys, net::ReadCurveSecretKey(options_.key_file));
    curve.secret_key = keys.secret_key;
    zap_ = std::make_unique<net::ZapAuthenticator>(ctx_, options_.authorized_keys);
    RETURN_IF_ERROR(zap_->Start());
    spdlog::info("CURVE on: workers need a key in {}; the coordinator's public key is {}", options_.authorized_keys,
                 keys.public_key);
  } else if (!net::IsLoopbackEndpoint(options_.bind)) {
    if (!options_.insecure)
      return InvalidArgument("refusing to accept workers on " + options_.bind +
                             " over plain TCP: pass --key FILE --authorized-keys DIR (make keys with `nephron "
                             "keygen`), bind to 127.0.0.1, or accept the risk with --insecure");
    spdlog::warn("INSECURE: workers connect to {} over plain TCP with no authentication or encryption; anyone who "
                 "can reach the port can take tasks and send results (use --key/--authorized-keys)",
                 options_.bind);
  }
  ASSIGN_OR_RETURN(net::Socket s, net::Socket::BindRouter(ctx_, options_.bind, curve));
  files_ = std::make_unique<net::FileServer>(std::vector<std::string>{options_.data_root});
  files_->set_write_guard([this](const std::string& path, int64_t task, int attempt) { return MayUpload(path, task, attempt); });
  RETURN_IF_ERROR(MakeDirs(options_.data_root));
  ASSIGN_OR_RETURN(root_token_, RootToken(options_.data_root));
  socket_ = std::make_unique<net::Socket>(std::move(s));
  endpoint_ = net::ConnectableEndpoint(socket_->endpoint());
  ASSIGN_OR_RETURN(std::vector<TaskRecord> active, store_->ActiveTasks());
  // Workers without the shared file system read the data sets over the link.
  if (auto exps = store_->ListExperiments(); exps.ok())
    for (const auto& e : *exps)
      if (auto spec = SpecOf(e); spec.ok() && !spec->dataset.root.empty()) files_->AddReadOnlyRoot(spec->dataset.root);
  const int64_t now = Now();
  for (const auto& t : active) {
    if (t.state != TaskState::kRunning) continue;
    in_flight_[t.id] = InFlight{t.attempt, t.worker, now, 0};
    spdlog::info("task {} ({}) attempt {} was running on {} before the restart; waiting for it to report", t.id,
                 t.name, t.attempt, t.worker);
  }
  ASSIGN_OR_RETURN(std::vector<WorkerRecord> known, store_->ListWorkers());
  for (auto w : known) {
    if (w.state == "lost") continue;
    w.state = "lost";  // until it registers again
    LiveWorker lw{w, true, now};
    workers_[w.name] = lw;
  }
  return Status::Ok();
}

void Coordinator::Run(const std::atomic<bool>* stop) {
  const auto max_batch = std::chrono::milliseconds(std::max<int64_t>(10, options_.scheduler.heartbeat_ms / 4));
  while (!stop->load()) {
    auto r = socket_->Recv(50);
    if (!r.ok()) {
      spdlog::error("coordinator socket: {}", r.status().message());
      continue;
    }
    // Handle what is queued in one batch before the next tick, so bursts are
    // cheap; but tick (heartbeats out, liveness, dispatch) at least every
    // quarter heartbeat however busy: workers fetching files keep the queue
    // from ever emptying, and their silent coordinator would look gone.
    const auto batch_end = std::chrono::steady_clock::now() + max_batch;
    for (int n = 1; r.ok() && r->has_value(); ++n) {
      const net::Frames& f = **r;
      if (f.size() == 2) HandleMessage(f[0], f[1]);
      if (n >= 10000 || std::chrono::steady_clock::now() >= batch_end) break;
      r = socket_->Recv(0);
    }
    Tick();
  }
}

bool Coordinator::IsCurrent(int64_t task, int attempt) const {
  auto it = in_flight_.find(task);
  return it != in_flight_.end() && it->second.attempt == attempt;
}

void Coordinator::Send(const std::string& worker, const std::string& payload) {
  auto route = route_of_.find(worker);
  SendRaw(route == route_of_.end() ? worker : route->second, payload);
}

void Coordinator::Event(int64_t exp, int64_t task, const std::string& text) {
  spdlog::info("{}", text);
  if (exp == 0 && task != 0) {
    auto t = store_->GetTask(task);
    if (t.ok()) exp = t->experiment_id;
  }
  if (exp == 0) return;  // about a worker only: the log is enough
  Status s = store_->AddEvent(exp, task, text, Now());
  if (!s.ok()) spdlog::error("store event: {}", s.message());
}

void Coordinator::SendRaw(const std::string& routing_id, const std::string& payload) {
  Status s = socket_->Send({routing_id, payload});
  if (!s.ok()) spdlog::debug("send to {}: {}", routing_id, s.message());
}

void Coordinator::HandleMessage(const std::string& routing_id, const std::string& payload) {
  auto d = proto::Decode(payload);
  if (!d.ok()) {
    spdlog::warn("message from {} dropped: {}", routing_id, d.status().message());
    return;
  }
  if (d->envelope.version != proto::kProtocolVersion) {
    proto::RefuseMsg r;
    r.reason = "protocol version " + std::to_string(d->envelope.version) + " is not supported; this coordinator speaks " +
               std::to_string(proto::kProtocolVersion);
    spdlog::warn("refused {}: {}", routing_id, r.reason);
    SendRaw(routing_id, proto::Encode(r));
    return;
  }
  const proto::MsgType type = d->envelope.type;
  // Files answer any authenticated connection, registered or not.
  if (net::FileServer::Handles(type)) {
    file_peer_key_ = socket_->last_user_id();  // MayUpload binds uploads to the running worker's key
    SendRaw(routing_id, files_->Handle(*d));
    return;
  }
  if (type == proto::MsgType::kRegister) {
    auto m = d->Body<proto::RegisterMsg>();
    if (!m.ok()) return;
    const std::string name = m->name.empty() ? routing_id : m->name;
    // Under CURVE a worker name belongs to the key that registered it:
    // another key cannot take it over while it is alive.
    const std::string& key = socket_->last_user_id();
    if (auto held = workers_.find(name);
        held != workers_.end() && !held->second.lost && held->second.rec.key_name != key) {
      proto::RefuseMsg r;
      r.reason = "worker name " + name + " is in use by another key (" + held->second.rec.key_name + ")";
      spdlog::warn("refused {} with key '{}': {}", name, key, r.reason);
      SendRaw(routing_id, proto::Encode(r));
      return;
    }
    // Each connection has its own routing id; the newest one speaks for the
    // name (a worker that reconnects before its old connection is gone).
    if (auto old = route_of_.find(name); old != route_of_.end() && old->second != routing_id)
      name_of_.erase(old->second);
    route_of_[name] = routing_id;
    name_of_[routing_id] = name;
    OnRegister(name, *m);
    return;
  }
  auto named = name_of_.find(routing_id);
  if (named == name_of_.end()) {
    // A connection that never registered (we restarted) or was replaced.
    proto::RefuseMsg r;
    r.reason = "unknown worker: register again";
    SendRaw(routing_id, proto::Encode(r));
    return;
  }
  const std::string from = named->second;
  auto wit = workers_.find(from);
  if (wit == workers_.end() || wit->second.lost) {
    // A worker we do not know (we restarted) or declared lost: it must
    // register again and say what it runs, so that nothing runs twice.
    proto::RefuseMsg r;
    r.reason = "unknown worker: register again";
    Send(from, proto::Encode(r));
    return;
  }
  LiveWorker& w = wit->second;
  const int64_t now = Now();
  w.rec.last_heartbeat_ms = now;
  switch (type) {
    case proto::MsgType::kHeartbeat: {
      auto m = d->Body<proto::HeartbeatMsg>();
      if (m.ok()) OnHeartbeat(from, w, *m);
      break;
    }
    case proto::MsgType::kProgress: {
      auto m = d->Body<proto::ProgressMsg>();
      if (!m.ok() || !IsCurrent(m->task, m->attempt)) break;
      InFlight& f = in_flight_[m->task];
      if (now - f.last_progress_store_ms < options_.progress_store_interval_ms && m->done < m->total) break;
      f.last_progress_store_ms = now;
      const double frac = m->total > 0 ? static_cast<double>(m->done) / static_cast<double>(m->total) : 0;
      (void)store_->SetProgress(m->task, m->attempt, frac, m->message.empty() ? m->stage : m->message);
      break;
    }
    case proto::MsgType::kLog: {
      auto m = d->Body<proto::LogMsg>();
      if (m.ok() && IsCurrent(m->task, m->attempt)) (void)store_->AppendLogs(m->task, m->attempt, m->lines, now);
      break;
    }
    case proto::MsgType::kMetric: {
      auto m = d->Body<proto::MetricMsg>();
      if (!m.ok() || !IsCurrent(m->task, m->attempt)) break;
      auto t = store_->GetTask(m->task);
      if (!t.ok()) break;
      MetricRecord r{m->task, t->experiment_id, t->fold, m->epoch, m->attempt, m->train_loss, m->val_loss,
                     m->dice, m->ema_dice, m->lr, m->seconds};
      Status s = store_->AddMetric(r);
      if (!s.ok()) spdlog::error("store metric: {}", s.message());
      break;
    }
    case proto::MsgType::kTaskDone: {
      auto m = d->Body<proto::TaskDoneMsg>();
      if (m.ok()) OnTaskDone(from, *m);
      break;
    }
    default:
      spdlog::warn("unexpected {} from worker {}", proto::MsgTypeName(type), from);
  }
}

// Reconciles what the worker says it runs with what we assigned to it.
void Coordinator::OnHeartbeat(const std::string& from, LiveWorker& w, const proto::HeartbeatMsg& hb) {
  if (!hb.files.empty() && hb.files != w.rec.files) {
    w.rec.files = hb.files;
    (void)store_->UpsertWorker(w.rec);
  }
  if (w.stopping_task && hb.task != w.stopping_task) {
    w.stopping_task = 0;  // the stale task has stopped: the worker can take work again
    dirty_ = true;
  }
  if (!w.rec.task || hb.task == w.rec.task) return;
  // The worker runs something else (or nothing). If it has received our
  // Assign, it did not take it; if it has not, the Assign may still be on its
  // way (this heartbeat may be older than it): only a long silence about it
  // means it was lost (a worker older than the seen_* fields says nothing).
  const bool seen = hb.seen_task == w.rec.task && hb.seen_attempt == w.rec.attempt;
  if (!seen && Now() - w.assigned_ms <= AssignLostAfterMs(options_.scheduler)) return;
  auto it = in_flight_.find(w.rec.task);
  if (it != in_flight_.end() && it->second.worker == from)
    Requeue(it, "worker " + from + " did not start it",
            " never started on " + from + (seen ? "" : " (its Assign was lost)") + "; back in the queue");
  w.rec.task = 0;
  w.rec.attempt = 0;
  w.rec.state = w.rec.draining ? "draining" : "idle";
  (void)store_->UpsertWorker(w.rec);
  dirty_ = true;
}

void Coordinator::OnRegister(const std::string& from, const proto::RegisterMsg& m) {
  const int64_t now = Now();
  LiveWorker& w = workers_[from];
  const bool was_draining = w.rec.draining;
  w.rec = WorkerRecord{};
  w.rec.name = from;
  w.rec.host = m.host;
  w.rec.device = m.device;
  w.rec.memory_mb = m.memory_mb;
  w.rec.threads = m.threads;
  w.rec.engine_version = m.engine_version;
  w.rec.registered_ms = now;
  w.rec.last_heartbeat_ms = now;
  w.rec.draining = was_draining;
  w.rec.key_name = socket_->last_user_id();
  w.lost = false;
  w.stopping_task = 0;
  proto::WelcomeMsg welcome;
  welcome.heartbeat_ms = static_cast<int>(options_.scheduler.heartbeat_ms);
  welcome.liveness = options_.scheduler.liveness;
  welcome.adopt = true;
  welcome.data_root = std::filesystem::absolute(options_.data_root).lexically_normal().string();
  welcome.root_token = root_token_;
  if (m.running_task != 0) {
    auto it = in_flight_.find(m.running_task);
    if (it != in_flight_.end() && it->second.attempt == m.running_attempt && it->second.worker == from) {
      it->second.orphan_since_ms = -1;
      w.rec.task = m.running_task;
      w.rec.attempt = m.running_attempt;
      Event(0, m.running_task, "worker " + from + " reconnected and still runs task " +
                                   std::to_string(m.running_task) + " attempt " + std::to_string(m.running_attempt) +
                                   ": adopted");
    } else {
      welcome.adopt = false;  // stale: the task was requeued or finished meanwhile
      w.stopping_task = m.running_task;
      Event(0, m.running_task, "worker " + from + " reconnected with stale task " + std::to_string(m.running_task) +
                                   " attempt " + std::to_string(m.running_attempt) + ": told to stop it");
    }
  }
  // What we assigned to this name and it does not run (an Assign sent to a
  // connection it has replaced, or a worker restarted) goes back to the queue
  // now, not after liveness and grace.
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second.worker != from || (it->first == m.running_task && it->second.attempt == m.running_attempt)) {
      ++it;
      continue;
    }
    it = Requeue(it, "worker " + from + " registered again without it",
                 ": worker " + from + " registered again without it; back in the queue");
  }
  w.rec.state = w.rec.task ? "busy" : (w.rec.draining ? "draining" : "idle");
  (void)store_->UpsertWorker(w.rec);
  Send(from, proto::Encode(welcome));
  spdlog::info("worker {} registered ({} on {}, {} threads{})", from, m.device, m.host, m.threads,
               w.rec.key_name.empty() ? "" : ", key " + w.rec.key_name);
  dirty_ = true;
}

void Coordinator::OnTaskDone(const std::string& from, const proto::TaskDoneMsg& m) {
  proto::AckMsg ack{m.task, m.attempt};
  auto wit = workers_.find(from);
  if (wit != workers_.end() && wit->second.stopping_task == m.task) wit->second.stopping_task = 0;
  if (wit != workers_.end() && wit->second.rec.task == m.task) {
    wit->second.rec.task = 0;
    wit->second.rec.attempt = 0;
    wit->second.rec.tasks_done += 1;
    wit->second.rec.state = wit->second.rec.draining ? "draining" : "idle";
    (void)store_->UpsertWorker(wit->second.rec);
  }
  if (!IsCurrent(m.task, m.attempt)) {
    spdlog::info("ignored the result of stale attempt {} of task {} from {}", m.attempt, m.task, from);
    Send(from, proto::Encode(ack));
    dirty_ = true;
    return;
  }
  EndAttempt(in_flight_.find(m.task));
  auto t = store_->GetTask(m.task);
  if (!t.ok()) {
    Send(from, proto::Encode(ack));
    return;
  }
  const int64_t now = Now();
  Outcome outcome = Outcome::kOther;
  if (m.ok) {
    (void)store_->SetProgress(m.task, m.attempt, 1.0, t->progress_message);
    std::vector<ArtifactRecord> artifacts;
    for (const auto& a : m.artifacts) artifacts.push_back({t->experiment_id, a.path, m.task, m.attempt, a.size, a.sha256});
    Status as = store_->AddArtifacts(m.task, m.attempt, artifacts);
    if (!as.ok()) spdlog::error("store artifacts of task {}: {}", m.task, as.message());
    auto r = store_->FinishTask(m.task, m.attempt, TaskState::kSucceeded, "", false, now);
    if (r.ok() && *r) {
      Event(t->experiment_id, m.task, t->name + ": succeeded on " + from);
      outcome = Outcome::kSucceeded;
    }
  } else if (m.cancelled) {
    (void)store_->FinishTask(m.task, m.attempt, TaskState::kCancelled, "cancelled", false, now);
  } else {
    const FailureDecision fd = OnFailure(m.attempt, m.permanent, PolicyOf(t->experiment_id), now);
    if (fd.retry) {
      (void)store_->RequeueTask(m.task, m.attempt, fd.not_before_ms, m.error);
      Event(t->experiment_id, m.task, t->name + ": attempt " + std::to_string(m.attempt) + " failed on " + from +
                                          ", retrying in " + std::to_string((fd.not_before_ms - now) / 1000) +
                                          " s: " + m.error);
    } else {
      (void)store_->FinishTask(m.task, m.attempt, TaskState::kFailed, m.error, m.permanent, now);
      Event(t->experiment_id, m.task, t->name + ": failed" + (m.permanent ? " (permanent)" : "") + ": " + m.error);
      outcome = Outcome::kFailed;
    }
  }
  Send(from, proto::Encode(ack));  // after the store write: the worker may forget the task now
  AfterTaskFinished(t->experiment_id, outcome);
  dirty_ = true;
}

void Coordinator::AfterTaskFinished(int64_t experiment_id, Outcome outcome) {
  if (outcome == Outcome::kOther) return;
  if (outcome == Outcome::kSucceeded) {
    // Count down instead of listing every task after every success: an
    // experiment may have thousands of tasks.
    auto it = unfinished_.find(experiment_id);
    if (it == unfinished_.end()) {
      auto all = store_->ListTasks(experiment_id);
      if (!all.ok()) return;
      int64_t n = 0;
      for (const auto& t : *all) n += t.state != TaskState::kSucceeded;
      it = unfinished_.emplace(experiment_id, n).first;
    } else {
      it->second -= 1;
    }
    if (it->second > 0) return;
    unfinished_.erase(it);
  }
  auto e = store_->GetExperiment(experiment_id);
  auto tasks = store_->ListTasks(experiment_id);
  if (!e.ok() || !tasks.ok() || e->state != ExperimentState::kRunning) return;
  bool all_ok = true;
  for (const auto& t : *tasks) {
    if (t.state == TaskState::kFailed) {
      (void)store_->SetExperimentState(experiment_id, ExperimentState::kFailed, t.name + ": " + t.error, Now());
      Event(experiment_id, 0, "experiment " + e->name + " failed: " + t.name + ": " + t.error);
      return;
    }
    all_ok = all_ok && t.state == TaskState::kSucceeded;
  }
  if (!all_ok) return;
  ExperimentRecord done = *e;
  done.state = ExperimentState::kSucceeded;
  auto spec = SpecOf(*e);
  std::vector<int> folds;
  for (const auto& t : *tasks)
    if (t.kind == "train") folds.push_back(t.fold);
  if (!e->dir.empty()) {
    auto results = BuildResults(done, folds, spec.ok() ? spec->inference.postprocessing : true);
    if (results.ok()) {
      (void)WriteFileAtomic(e->dir + "/results.json", *results + "\n");
      (void)store_->SetResults(experiment_id, *results);
    } else {
      spdlog::error("results of experiment {}: {}", experiment_id, results.status().message());
    }
  }
  (void)store_->SetExperimentState(experiment_id, ExperimentState::kSucceeded, "", Now());
  Event(experiment_id, 0, "experiment " + e->name + " succeeded");
}

void Coordinator::Tick() {
  FlushOutbox();
  const int64_t now = Now();
  if (now - last_heartbeat_sent_ms_ >= options_.scheduler.heartbeat_ms) {
    last_heartbeat_sent_ms_ = now;
    const std::string hb = proto::Encode(proto::HeartbeatMsg{});
    for (const auto& [name, w] : workers_)
      if (!w.lost) Send(name, hb);
    CheckLiveness();
  }
  if (dirty_.exchange(false) || now - last_full_dispatch_ms_ >= 1000) {
    last_full_dispatch_ms_ = now;
    DispatchReady();
  }
}

void Coordinator::CheckLiveness() {
  const int64_t now = Now();
  for (auto& [name, w] : workers_) {
    if (!w.lost && w.rec.last_heartbeat_ms - w.stored_heartbeat_ms >= 2000) {
      // Heartbeat times are for display (CLI, web UI): stored every 2 s, not each one.
      w.stored_heartbeat_ms = w.rec.last_heartbeat_ms;
      (void)store_->UpsertWorker(w.rec);
    }
    if (w.lost || !WorkerExpired(w.rec.last_heartbeat_ms, now, options_.scheduler)) continue;
    w.lost = true;
    w.lost_at_ms = now;
    w.rec.state = "lost";
    (void)store_->UpsertWorker(w.rec);
    Event(0, w.rec.task, "worker " + name + " is lost (silent for " +
                             std::to_string((now - w.rec.last_heartbeat_ms) / 1000) + " s)");
    if (w.rec.task) {
      auto it = in_flight_.find(w.rec.task);
      if (it != in_flight_.end()) it->second.orphan_since_ms = now - options_.scheduler.heartbeat_ms * options_.scheduler.liveness;
    }
  }
  // Orphans whose worker did not come back within liveness + grace go back to the queue.
  const int64_t silence = options_.scheduler.heartbeat_ms * options_.scheduler.liveness;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    const InFlight& f = it->second;
    if (f.orphan_since_ms < 0 || now < RequeueAt(f.orphan_since_ms + silence, options_.scheduler)) {
      ++it;
      continue;
    }
    const int64_t task = it->first;
    const std::string worker = f.worker;
    it = Requeue(it, "worker " + worker + " lost", " lost with worker " + worker + "; back in the queue");
    auto wit = workers_.find(worker);
    if (wit != workers_.end() && wit->second.rec.task == task) wit->second.rec.task = 0;
  }
}

std::map<int64_t, Coordinator::InFlight>::iterator Coordinator::EndAttempt(
    std::map<int64_t, InFlight>::iterator it) {
  // Its uploads cannot continue (the write guard refuses a finished attempt):
  // what they left unfinished goes.
  if (!it->second.upload_dir.empty()) {
    const int removed = files_->EndUploads(it->second.upload_dir, it->first, it->second.attempt);
    if (removed > 0)
      spdlog::info("task {} attempt {}: removed {} unfinished upload(s)", it->first, it->second.attempt, removed);
  }
  return in_flight_.erase(it);
}

std::map<int64_t, Coordinator::InFlight>::iterator Coordinator::Requeue(std::map<int64_t, InFlight>::iterator it,
                                                                       const std::string& why,
                                                                       const std::string& event) {
  const int64_t task = it->first;
  const int attempt = it->second.attempt;
  auto t = store_->GetTask(task);
  auto r = store_->RequeueTask(task, attempt, Now(), why);
  if (r.ok() && *r)
    Event(t.ok() ? t->experiment_id : 0, task,
          (t.ok() ? t->name : "task " + std::to_string(task)) + ": attempt " + std::to_string(attempt) + event);
  dirty_ = true;
  return EndAttempt(it);
}

void Coordinator::FlushOutbox() {
  std::vector<std::pair<int64_t, int>> cancels;
  std::vector<std::string> drains;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancels.swap(cancels_);
    drains.swap(drains_);
  }
  for (const auto& [task, attempt] : cancels) {
    auto it = in_flight_.find(task);
    if (it == in_flight_.end()) continue;
    proto::CancelMsg c{task, it->second.attempt, "experiment cancelled"};
    Send(it->second.worker, proto::Encode(c));
    (void)attempt;
  }
  for (const auto& name : drains) {
    auto it = workers_.find(name);
    if (it == workers_.end()) continue;
    it->second.rec.draining = true;
    if (!it->second.rec.task) it->second.rec.state = "draining";
    (void)store_->UpsertWorker(it->second.rec);
  }
}

}  // namespace nephron::coord
