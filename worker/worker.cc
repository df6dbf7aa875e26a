#include "worker/worker.h"

#include <spdlog/spdlog.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <random>
#include <thread>

#include "common/fs_util.h"
#include "common/transport.h"

namespace nephron::worker {

namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string HostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

int64_t MemoryMb() {
  struct sysinfo si;
  if (sysinfo(&si) != 0) return 0;
  return static_cast<int64_t>(si.totalram) * si.mem_unit / (1024 * 1024);
}

}  // namespace

bool NeedsRemoteFiles(const std::string& mode, const std::string& data_root, const std::string& root_token) {
  if (mode == "fetch") return true;
  if (mode == "shared" || root_token.empty()) return false;  // an older coordinator names no token
  auto here = ReadFile(data_root + "/.nephron-root");
  return !here.ok() || here->substr(0, root_token.size()) != root_token;
}

Worker::Worker(WorkerOptions o) : options_(std::move(o)) {
  if (options_.name.empty())
    options_.name = HostName() + ":" + options_.executor.device + ":" + std::to_string(getpid());
  options_.executor.files.endpoint = options_.coordinator;
  options_.executor.files.curve = options_.curve;
  options_.executor.files.name = options_.name;
}

Status Worker::Run(const std::atomic<bool>* stop) {
  zmq::context_t ctx;
  Executor exec(options_.executor);
  const int version = options_.protocol_version ? options_.protocol_version : proto::kProtocolVersion;
  int heartbeat_ms = options_.heartbeat_ms, liveness = options_.liveness;
  int backoff_ms = 1000;
  std::optional<proto::TaskDoneMsg> unacked;  // finished, not yet acknowledged
  // Every metric of the current (or unacknowledged) task: resent after a
  // re-registration, since messages sent while the coordinator was away are
  // lost (the coordinator keeps one row per epoch, so repeats are harmless).
  std::vector<proto::MetricMsg> sent_metrics;
  auto last_done_send = Clock::now();
  auto last_progress = Clock::now() - std::chrono::hours(1);
  bool remote_files = options_.files == "fetch";
  bool ever_welcomed = false;  // by this coordinator: then a silence is the network, not the keys
  int64_t seen_task = 0;       // the newest Assign received (heartbeats say so)
  int seen_attempt = 0;

  while (!stop->load()) {
    // A routing id of its own per connection (the name goes in Register): a
    // reconnect never collides with the old connection the coordinator may
    // still hold.
    const std::string routing_id = options_.name + "~" + std::to_string(std::random_device{}());
    auto sock = net::Socket::ConnectDealer(ctx, options_.coordinator, routing_id, options_.curve);
    if (!sock.ok()) return sock.status();
    auto send = [&](const std::string& payload) {
      Status s = sock->Send({payload});
      if (!s.ok()) spdlog::debug("send: {}", s.message());
    };
    proto::RegisterMsg reg;
    reg.name = options_.name;
    reg.host = HostName();
    reg.device = options_.executor.device;
    reg.memory_mb = MemoryMb();
    reg.threads = options_.executor.threads;
    reg.engine_version = "0.1.0";
    if (exec.busy()) {
      reg.running_task = exec.task();
      reg.running_attempt = exec.attempt();
    } else if (unacked) {
      reg.running_task = unacked->task;
      reg.running_attempt = unacked->attempt;
    }
    send(proto::Encode(reg, 0, version));
    spdlog::info("worker {}: registering with {}", options_.name, options_.coordinator);
    auto last_heard = Clock::now();
    auto last_sent = Clock::now();
    bool welcomed = false;

    while (!stop->load()) {
      auto r = sock->Recv(50);
      if (!r.ok()) return r.status();
      if (r->has_value() && !(*r)->empty()) {
        last_heard = Clock::now();
        auto d = proto::Decode((**r)[0]);
        if (!d.ok()) {
          spdlog::warn("dropped a message from the coordinator: {}", d.status().message());
        } else if (d->envelope.type == proto::MsgType::kRefuse) {
          auto m = d->Body<proto::RefuseMsg>();
          const std::string why = m.ok() ? m->reason : "refused";
          if (m.ok() && m->protocol_version != version) {
            spdlog::error("worker {}: the coordinator refused this worker: {}", options_.name, why);
            exec.Cancel();
            return FailedPrecondition("the coordinator at " + options_.coordinator + " refused this worker: " + why);
          }
          spdlog::info("worker {}: {}; registering again", options_.name, why);
          break;  // re-register on a fresh socket
        } else if (d->envelope.type == proto::MsgType::kWelcome) {
          auto m = d->Body<proto::WelcomeMsg>();
          if (m.ok()) {
            heartbeat_ms = m->heartbeat_ms;
            liveness = m->liveness;
            welcomed = true;
            ever_welcomed = true;
            const bool remote = NeedsRemoteFiles(options_.files, m->data_root, m->root_token);
            if (remote)
              spdlog::info("worker {}: {}; task files come over the coordinator link, cached in {}", options_.name,
                           options_.files == "fetch" ? "--files fetch"
                                                     : "the coordinator's data root " + m->data_root +
                                                           " is not visible here",
                           options_.executor.cache_dir);
            remote_files = remote;
            backoff_ms = 1000;
            if (!m->adopt) {
              // Our task was given to someone else while we were away.
              if (exec.busy()) exec.Cancel();
              unacked.reset();
              sent_metrics.clear();
            } else {
              for (const auto& metric : sent_metrics) send(proto::Encode(metric, 0, version));
            }
            spdlog::info("worker {}: registered", options_.name);
          }
        } else if (d->envelope.type == proto::MsgType::kAssign) {
          auto m = d->Body<proto::AssignMsg>();
          if (m.ok()) {
            seen_task = m->task;
            seen_attempt = m->attempt;
          }
          if (m.ok() && !exec.busy() && !unacked) {
            spdlog::info("worker {}: task {} ({}) attempt {}", options_.name, m->task, m->kind, m->attempt);
            sent_metrics.clear();
            exec.Start(*m, remote_files);
          } else if (m.ok()) {
            spdlog::warn("worker {}: busy, ignoring task {}", options_.name, m->task);
          }
        } else if (d->envelope.type == proto::MsgType::kCancel) {
          auto m = d->Body<proto::CancelMsg>();
          if (m.ok() && exec.busy() && exec.task() == m->task) {
            spdlog::info("worker {}: cancelling task {}: {}", options_.name, m->task, m->reason);
            exec.Cancel();
          }
        } else if (d->envelope.type == proto::MsgType::kAck) {
          auto m = d->Body<proto::AckMsg>();
          if (m.ok() && unacked && unacked->task == m->task && unacked->attempt == m->attempt) {
            unacked.reset();
            sent_metrics.clear();
          }
        }
      }

      ExecEvents ev = exec.Poll();
      if (!ev.log_lines.empty()) {
        proto::LogMsg l;
        l.task = ev.done ? ev.done->task : exec.task();
        l.attempt = ev.done ? ev.done->attempt : exec.attempt();
        l.lines = std::move(ev.log_lines);
        send(proto::Encode(l, 0, version));
      }
      if (!ev.progress.empty() &&
          (MsSince(last_progress) >= options_.progress_interval_ms || ev.done)) {
        last_progress = Clock::now();
        send(proto::Encode(ev.progress.back(), 0, version));
      }
      for (const auto& m : ev.metrics) {
        send(proto::Encode(m, 0, version));
        sent_metrics.push_back(m);
      }
      if (ev.done) {
        unacked = *ev.done;
        spdlog::info("worker {}: task {} {}", options_.name, ev.done->task,
                     ev.done->ok ? "succeeded" : "failed: " + ev.done->error);
        send(proto::Encode(*unacked, 0, version));
        last_done_send = Clock::now();
      } else if (unacked && MsSince(last_done_send) > 2000 && welcomed) {
        send(proto::Encode(*unacked, 0, version));
        last_done_send = Clock::now();
      }
      if (MsSince(last_sent) >= heartbeat_ms) {
        proto::HeartbeatMsg hb{exec.task(), exec.attempt(), seen_task, seen_attempt,
                               welcomed ? (remote_files ? "fetch" : "shared") : ""};
        send(proto::Encode(hb, 0, version));
        last_sent = Clock::now();
      }
      if (MsSince(last_heard) > static_cast<int64_t>(heartbeat_ms) * liveness) {
        spdlog::warn("worker {}: coordinator silent for {} ms; reconnecting in {} ms{}", options_.name,
                     MsSince(last_heard), backoff_ms,
                     !ever_welcomed && options_.curve.enabled()
                         ? " (never welcomed: is this worker's .pub in the coordinator's --authorized-keys, and "
                           "--server-key the coordinator's .pub?)"
                         : "");
        break;
      }
    }
    if (stop->load()) break;
    // Back off before reconnecting, but keep the task's output flowing into
    // the executor's buffer (it is polled again after reconnecting).
    for (int waited = 0; waited < backoff_ms && !stop->load(); waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    backoff_ms = std::min(backoff_ms * 2, options_.max_backoff_ms);
  }
  if (exec.busy()) {
    spdlog::info("worker {}: stopping; cancelling task {}", options_.name, exec.task());
    exec.Cancel();
  }
  return Status::Ok();
}

}  // namespace nephron::worker
