// The coordinator daemon's core: one event loop that owns the ROUTER socket
// and the live view of the workers, and applies the scheduler's decisions to
// the Store. It also implements Control for the HTTP API: those calls come
// from other threads, write to the (thread-safe) Store directly and leave
// anything that needs the socket (cancel messages, drains) in an outbox that
// the loop empties within one tick.
//
// Restart safety: every state change is in the Store before any worker or
// client hears of it. After a restart, tasks the Store shows as running are
// "orphans": a worker that re-registers and reports the same (task, attempt)
// adopts it; otherwise it goes back to the queue once the worker would have
// been declared lost (heartbeat x liveness + grace).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/curve.h"
#include "common/file_transfer.h"
#include "common/protocol.h"
#include "common/spec.h"
#include "common/transport.h"
#include "coordinator/control.h"
#include "coordinator/scheduler.h"
#include "coordinator/store.h"

namespace nephron::coord {

struct CoordinatorOptions {
  std::string bind = "tcp://127.0.0.1:0";
  // CURVE: our secret key file and the directory of authorized workers'
  // *.pub files. Without them only a loopback `bind` is allowed, unless
  // `insecure` (plain TCP on a network: logged loudly).
  std::string key_file;
  std::string authorized_keys;
  bool insecure = false;
  std::string data_root = ".";     // experiments go to DATA_ROOT/experiments/<id>-<name>
  SchedulerConfig scheduler;
  int64_t progress_store_interval_ms = 1000;  // progress writes per task at most this often
  std::function<int64_t()> now_ms;  // default: the system clock
};

class Coordinator : public Control {
 public:
  Coordinator(Store* store, CoordinatorOptions options);
  ~Coordinator() override;

  // Binds the socket and loads the orphans of a previous run.
  Status Start();
  std::string endpoint() const { return endpoint_; }
  // The event loop; returns when *stop becomes true.
  void Run(const std::atomic<bool>* stop);

  // Control (thread-safe).
  Result<int64_t> Submit(const std::string& spec_yaml, const std::string& source) override;
  Status Cancel(int64_t experiment_id) override;
  Status Retry(int64_t task_id) override;
  Status Drain(const std::string& worker) override;

  // For code-built experiments (load test): stores `tasks` under a new
  // experiment without a spec.
  Result<int64_t> SubmitTasks(const std::string& name, std::vector<TaskRecord> tasks);

 private:
  struct LiveWorker {
    WorkerRecord rec;
    bool lost = false;
    int64_t lost_at_ms = 0;
    int64_t stored_heartbeat_ms = 0;  // last heartbeat time written to the store
    int64_t stopping_task = 0;  // a stale task it was told to stop: no new task until it reports idle
    int64_t assigned_ms = 0;    // when rec.task's Assign was sent
  };
  void OnHeartbeat(const std::string& from, LiveWorker& w, const proto::HeartbeatMsg& hb);
  struct InFlight {
    int attempt = 0;
    std::string worker;
    int64_t orphan_since_ms = -1;   // >= 0: nobody reported it yet (after a restart or a loss)
    int64_t last_progress_store_ms = 0;
    std::string upload_dir = {};    // its experiment folder, canonical (MayUpload's cache)
  };
  struct Outgoing {
    std::string worker;
    std::string payload;
  };

  int64_t Now() const { return options_.now_ms(); }
  // `routing_id` is the connection's (the worker's name plus a per-connection
  // suffix); messages are handled under the name it registered with.
  void HandleMessage(const std::string& routing_id, const std::string& payload);
  void SendRaw(const std::string& routing_id, const std::string& payload);
  void OnRegister(const std::string& from, const proto::RegisterMsg& m);
  // Forgets an attempt that is no longer running (removing what its uploads
  // left unfinished); returns the next entry.
  std::map<int64_t, InFlight>::iterator EndAttempt(std::map<int64_t, InFlight>::iterator it);
  // Puts an in-flight attempt that no worker runs back in the queue (`why`
  // is the task's error; the event reads "NAME: attempt N" + `event`) and
  // ends it; returns the next entry.
  std::map<int64_t, InFlight>::iterator Requeue(std::map<int64_t, InFlight>::iterator it, const std::string& why,
                                                const std::string& event);
  void OnTaskDone(const std::string& from, const proto::TaskDoneMsg& m);
  bool IsCurrent(int64_t task, int attempt) const;
  // To a worker by name, over its current connection.
  void Send(const std::string& worker, const std::string& payload);
  void Tick();
  void CheckLiveness();
  void DispatchReady();
  void FlushOutbox();
  enum class Outcome { kSucceeded, kFailed, kOther };
  // Marks the experiment failed, or succeeded (with results.json) once its
  // last task succeeded.
  void AfterTaskFinished(int64_t experiment_id, Outcome outcome);
  Result<proto::AssignMsg> BuildAssign(const TaskRecord& t, const ExperimentRecord& e);
  Result<JobSpec> SpecOf(const ExperimentRecord& e);
  RetryPolicy PolicyOf(int64_t experiment_id);
  void Event(int64_t exp, int64_t task, const std::string& text);

  Store* store_;
  CoordinatorOptions options_;
  zmq::context_t ctx_;
  std::unique_ptr<net::ZapAuthenticator> zap_;  // with CURVE
  std::unique_ptr<net::Socket> socket_;
  // The token in DATA_ROOT/.nephron-root (made once): workers that read it
  // there share this file system; others fetch their tasks' files.
  static Result<std::string> RootToken(const std::string& data_root);
  // FileServer's write guard: uploads only for a running attempt, into its experiment.
  Status MayUpload(const std::string& path, int64_t task, int attempt);
  std::string root_token_;
  std::string file_peer_key_;  // the CURVE key name of the File* request being handled
  std::unique_ptr<net::FileServer> files_;  // File* requests: files under the data root
  std::string endpoint_;

  std::map<std::string, LiveWorker> workers_;
  std::map<std::string, std::string> route_of_;  // worker name -> routing id of its current connection
  std::map<std::string, std::string> name_of_;   // routing id -> worker name
  std::map<int64_t, InFlight> in_flight_;
  std::map<int64_t, JobSpec> specs_;
  std::map<int64_t, int64_t> unfinished_;  // experiment -> tasks not yet succeeded (loaded on first use)
  int64_t last_heartbeat_sent_ms_ = 0;
  int64_t last_full_dispatch_ms_ = 0;

  std::mutex mu_;  // guards outbox_, drains_ and the dirty flag
  std::vector<std::pair<int64_t, int>> cancels_;  // (task, attempt) to stop
  std::vector<std::string> drains_;
  std::atomic<bool> dirty_{true};
};

}  // namespace nephron::coord
