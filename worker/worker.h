// The worker daemon's event loop (Paranoid Pirate, worker side).
//
// Connects a DEALER to the coordinator, registers (capabilities, and the task
// it is still running, if any), then heartbeats, runs assigned tasks through
// the Executor and streams their progress, log lines and metrics. If the
// coordinator stays silent for heartbeat x liveness, the worker drops the
// socket and registers again with exponential back-off, reporting its running
// task so that the coordinator adopts it instead of running it twice. A
// finished task's TaskDone is resent until the coordinator acknowledges it.
// A Refuse for the protocol version ends Run() with FailedPrecondition.
#pragma once

#include <atomic>
#include <string>

#include "common/transport.h"

#include "common/status.h"
#include "worker/executor.h"

namespace nephron::worker {

struct WorkerOptions {
  std::string coordinator;       // tcp://HOST:PORT
  std::string name;              // default: HOST:DEVICE:PID
  ExecutorOptions executor;
  int heartbeat_ms = 1000;       // until the coordinator's Welcome says otherwise
  int liveness = 4;
  int max_backoff_ms = 32000;
  int protocol_version = 0;      // 0: ours (tests set another to check refusal)
  int progress_interval_ms = 500;  // at most this often per task
  net::CurveOptions curve;       // enabled: CURVE with these keys
  // Where the tasks' files come from: "shared" (the coordinator's data root is
  // visible here, same path), "fetch" (over the coordinator link, into
  // executor.cache_dir), or "auto": shared when DATA_ROOT/.nephron-root here
  // holds the token the coordinator's Welcome names, else fetch.
  std::string files = "auto";
};

// The decision "auto" makes for a Welcome (exposed for tests): true = fetch.
bool NeedsRemoteFiles(const std::string& mode, const std::string& data_root, const std::string& root_token);

class Worker {
 public:
  explicit Worker(WorkerOptions o);
  // Runs until *stop (then cancels a running task and returns OK) or until
  // the coordinator refuses this worker for good.
  Status Run(const std::atomic<bool>* stop);

 private:
  WorkerOptions options_;
};

}  // namespace nephron::worker
