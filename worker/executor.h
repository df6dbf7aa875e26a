// Runs one task at a time for the worker, off the worker's event loop.
//
// Each engine task runs as a child `nephron <command>` process, supervised by
// the executor's thread. Why a process and not a library call on a thread:
// a crash or an out-of-memory kill in LibTorch or ITK takes down the task,
// not the worker (which reports the failure and stays registered); every
// task starts with fresh thread pools (ITK's and LibTorch's pools contend when
// they share a process: training ran 2x slower after ITK had run); memory is
// returned to the system after each task; and cancellation is a SIGTERM that
// the trainer already turns into "save checkpoint_latest.pt and stop within
// one iteration". The child gets PR_SET_PDEATHSIG=SIGTERM, so a worker killed
// with SIGKILL still lets its training checkpoint and exit.
//
// The child's output lines become Log events (and are appended to the task's
// log file); "[stage] done/total message" lines become Progress events; for a
// training task, new lines of fold_K/training_log.jsonl become Metric events.
// Thread-safety: Start/Cancel/Poll from the worker's loop thread only.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/file_transfer.h"
#include "common/protocol.h"

namespace nephron::worker {

struct ExecutorOptions {
  std::string engine;      // path of the `nephron` binary
  std::string device = "cpu";
  int threads = 0;         // engine threads (0: the engine's default, all cores)
  int kill_after_ms = 30000;  // SIGKILL this long after a SIGTERM that was ignored
  std::string device_plugin;  // passed to every task as --device-plugin (LibTorch backend library)
  // Tasks started with remote files (a worker that cannot see the coordinator's
  // data root): their files come from and go to the coordinator over `files`
  // (endpoint, CURVE keys), through a local mirror in `cache_dir`.
  net::FileClientOptions files;
  std::string cache_dir;
  int64_t cache_limit_bytes = int64_t{50} << 30;
  int checkpoint_upload_ms = 2000;  // how often a training's new checkpoint_latest.pt is looked for
};

// What the executor reports, in order.
struct ExecEvents {
  std::vector<proto::ProgressMsg> progress;
  std::vector<std::string> log_lines;
  std::vector<proto::MetricMsg> metrics;
  std::optional<proto::TaskDoneMsg> done;
};

// The command line of an engine task (argv[0] is the engine path). Exposed
// for tests.
std::vector<std::string> EngineCommand(const proto::AssignMsg& a, const ExecutorOptions& o);
// "[train] 3/8 epoch 3 ..." -> stage "train", done 3, total 8, message.
bool ParseProgressLine(const std::string& line, proto::ProgressMsg* out);
// One line of training_log.jsonl -> a Metric (task/attempt left 0).
bool ParseMetricLine(const std::string& line, proto::MetricMsg* out);

class Executor {
 public:
  explicit Executor(ExecutorOptions o);
  ~Executor();  // cancels and joins a running task

  bool busy() const { return task_ != 0; }
  int64_t task() const { return task_; }
  int attempt() const { return attempt_; }

  // `remote_files`: fetch the task's inputs from the coordinator first and
  // upload its outputs before reporting it done (see ExecutorOptions).
  void Start(const proto::AssignMsg& a, bool remote_files = false);
  // Asks the running task to stop (SIGTERM; noop tasks stop at once).
  void Cancel();
  // Takes what happened since the last call. After `done` is returned the
  // executor is idle again.
  ExecEvents Poll();

 private:
  void RunEngine(proto::AssignMsg a, bool remote_files);
  void RunNoop(proto::AssignMsg a);
  void Finish(proto::TaskDoneMsg done);
  void AddLine(const std::string& line, const proto::AssignMsg& a);
  void TailMetrics(const std::string& path, int64_t* offset, const proto::AssignMsg& a);

  ExecutorOptions options_;
  zmq::context_t ctx_;  // for the file transfers of remote-files tasks
  int64_t task_ = 0;
  int attempt_ = 0;
  std::thread thread_;
  std::atomic<bool> cancel_{false};
  std::atomic<int> child_pid_{0};
  std::mutex mu_;
  ExecEvents pending_;
};

}  // namespace nephron::worker
