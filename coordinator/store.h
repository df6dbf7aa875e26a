// The coordinator's durable state, behind one interface with two backends:
// SqliteStore (the daemon's) and MemoryStore (tests). One contract test suite
// (tests/unit/coordinator/store_contract_test.cc) runs against both.
//
// Contract:
// - Thread-safe: every method may be called from any thread (the event loop
//   writes, the HTTP server reads).
// - Every mutating call is durable when it returns OK (SQLite: WAL,
//   synchronous=FULL), so anything a client or worker was told about survives
//   a SIGKILL of the coordinator.
// - Nothing is deleted when work is dispatched or finished; tasks keep their
//   history (attempt, worker, timestamps, error).
// - Mutations that race with a newer attempt are refused by value (they
//   return false), never by error: a stale attempt is normal in a distributed
//   system, not a failure of the store.
// Times are milliseconds since the Unix epoch, passed in by the caller (the
// store never reads a clock).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace nephron::coord {

enum class ExperimentState { kRunning, kSucceeded, kFailed, kCancelled };
// pending: waiting for its dependencies, its back-off, or a worker.
enum class TaskState { kPending, kRunning, kSucceeded, kFailed, kCancelled };
const char* ExperimentStateName(ExperimentState s);
const char* TaskStateName(TaskState s);
bool ParseTaskState(const std::string& name, TaskState* out);
bool ParseExperimentState(const std::string& name, ExperimentState* out);
inline bool IsTerminal(TaskState s) { return s != TaskState::kPending && s != TaskState::kRunning; }

struct ExperimentRecord {
  int64_t id = 0;
  std::string name;
  ExperimentState state = ExperimentState::kRunning;
  std::string spec_yaml;   // the submitted spec, verbatim
  std::string dir;         // experiment folder (absolute)
  std::string error;       // why it failed
  int64_t created_ms = 0;
  int64_t finished_ms = 0;
  std::string results_json;  // results.json once evaluation finished ("" before)
};

struct TaskRecord {
  int64_t id = 0;
  int64_t experiment_id = 0;
  std::string kind;        // fingerprint|plan|preprocess|train|validate|crossval|predict|evaluate|noop
  std::string name;        // display name, unique within the experiment: "train fold 2", "preprocess 1/4"
  int fold = -1;
  int shard = 0;
  int num_shards = 1;
  std::vector<int64_t> deps;  // task ids that must succeed first
  std::string device_kind = "any";  // any | cpu | cuda
  int64_t memory_mb = 0;   // minimum device memory
  int max_attempts = 3;
  double noop_seconds = 0;
  TaskState state = TaskState::kPending;
  int attempt = 0;         // 0: never started; incremented by each claim
  std::string worker;      // current or last worker
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int64_t not_before_ms = 0;  // retry back-off
  std::string error;
  bool permanent_error = false;
  double progress = 0;     // 0..1 of the current attempt
  std::string progress_message;
};

struct WorkerRecord {
  std::string name;        // unique key
  std::string host;
  std::string device;
  int64_t memory_mb = 0;
  int threads = 0;
  std::string engine_version;
  std::string state = "idle";  // idle | busy | draining | lost
  bool draining = false;
  int64_t task = 0;
  int attempt = 0;
  int64_t registered_ms = 0;
  int64_t last_heartbeat_ms = 0;
  int64_t tasks_done = 0;
  std::string key_name;    // the CURVE key it authenticated with ("" on plain TCP)
  std::string files;       // "shared" | "fetch": how it reaches task files ("" not known yet)
};

struct MetricRecord {
  int64_t task_id = 0;
  int64_t experiment_id = 0;
  int fold = -1;
  int epoch = 0;
  int attempt = 0;
  double train_loss = 0;
  double val_loss = 0;
  std::vector<double> dice;
  double ema_dice = 0;
  double lr = 0;
  double seconds = 0;
};

struct LogRecord {
  int64_t seq = 0;         // increasing per task, assigned by the store
  int64_t task_id = 0;
  int attempt = 0;
  int64_t ts_ms = 0;
  std::string line;
};

struct EventRecord {
  int64_t seq = 0;
  int64_t experiment_id = 0;
  int64_t task_id = 0;     // 0: about the experiment
  int64_t ts_ms = 0;
  std::string text;
};

// A file a task wrote under its experiment folder (path relative to it).
struct ArtifactRecord {
  int64_t experiment_id = 0;
  std::string path;
  int64_t task_id = 0;
  int attempt = 0;
  int64_t size = 0;
  std::string sha256;      // hex
};

class Store {
 public:
  virtual ~Store() = default;

  // Stores an experiment and its whole task graph in one transaction. In
  // `tasks`, deps hold indexes into `tasks` (not ids); they are translated.
  // Returns the new experiment id; `exp.id` and task ids are assigned.
  virtual Result<int64_t> CreateExperiment(const ExperimentRecord& exp, const std::vector<TaskRecord>& tasks) = 0;
  virtual Result<std::vector<ExperimentRecord>> ListExperiments() = 0;  // newest first
  virtual Result<ExperimentRecord> GetExperiment(int64_t id) = 0;       // NotFound
  virtual Status SetExperimentState(int64_t id, ExperimentState state, const std::string& error, int64_t now_ms) = 0;
  virtual Status SetExperimentDir(int64_t id, const std::string& dir) = 0;
  virtual Status SetResults(int64_t id, const std::string& results_json) = 0;

  virtual Result<std::vector<TaskRecord>> ListTasks(int64_t experiment_id) = 0;  // by id
  // Tasks that are pending or running, of every experiment (the scheduler's input).
  virtual Result<std::vector<TaskRecord>> ActiveTasks() = 0;
  virtual Result<TaskRecord> GetTask(int64_t id) = 0;  // NotFound

  // pending -> running, attempt + 1, worker, started_ms; in one
  // BEGIN IMMEDIATE transaction. False (not an error) when the task is not
  // pending or its attempt is no longer `expected_attempt`.
  virtual Result<bool> ClaimTask(int64_t id, int expected_attempt, const std::string& worker, int64_t now_ms) = 0;
  // running(attempt) -> succeeded | failed | cancelled; false if stale.
  virtual Result<bool> FinishTask(int64_t id, int attempt, TaskState state, const std::string& error, bool permanent,
                                  int64_t now_ms) = 0;
  // running(attempt) -> pending with a back-off (lost worker, retryable
  // failure); the error is kept for display. False if stale.
  virtual Result<bool> RequeueTask(int64_t id, int attempt, int64_t not_before_ms, const std::string& error) = 0;
  // failed | cancelled -> pending (a user's retry); resets error and back-off,
  // keeps the attempt count. Also sets the experiment back to running.
  virtual Result<bool> RetryTask(int64_t id, int64_t now_ms) = 0;
  // Every pending/running task -> cancelled, the experiment -> cancelled.
  // Returns the tasks that were running (to be told to stop).
  virtual Result<std::vector<TaskRecord>> CancelExperiment(int64_t id, int64_t now_ms) = 0;
  // Progress of the current attempt; ignored (false) if stale. Not
  // necessarily durable (it is refreshed continuously).
  virtual Result<bool> SetProgress(int64_t id, int attempt, double fraction, const std::string& message) = 0;

  // One row per (task, epoch): a later attempt replaces an earlier one's row;
  // a repeat of the same attempt changes nothing.
  virtual Status AddMetric(const MetricRecord& m) = 0;
  virtual Result<std::vector<MetricRecord>> Metrics(int64_t experiment_id) = 0;  // by task, epoch

  virtual Status AppendLogs(int64_t task_id, int attempt, const std::vector<std::string>& lines, int64_t now_ms) = 0;
  // Lines with seq > after_seq, at most `limit`, oldest first.
  virtual Result<std::vector<LogRecord>> Logs(int64_t task_id, int64_t after_seq, int limit) = 0;

  virtual Status AddEvent(int64_t experiment_id, int64_t task_id, const std::string& text, int64_t now_ms) = 0;
  virtual Result<std::vector<EventRecord>> Events(int64_t experiment_id, int64_t after_seq, int limit) = 0;

  // One row per (experiment, path): a later write of the same file replaces
  // the row. The experiment id is taken from the task (NotFound for an
  // unknown task).
  virtual Status AddArtifacts(int64_t task_id, int attempt, const std::vector<ArtifactRecord>& artifacts) = 0;
  virtual Result<std::vector<ArtifactRecord>> Artifacts(int64_t experiment_id) = 0;  // by path

  virtual Status UpsertWorker(const WorkerRecord& w) = 0;
  virtual Result<std::vector<WorkerRecord>> ListWorkers() = 0;  // by name
  virtual Result<WorkerRecord> GetWorker(const std::string& name) = 0;  // NotFound
};

// In memory; for tests and the scheduler load test.
std::unique_ptr<Store> NewMemoryStore();
// SQLite at `path` (created with the current schema, or migrated); WAL,
// synchronous=FULL, busy timeout. FailedPrecondition for a database written
// by a newer Nephron (schema version above ours), naming the file.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace nephron::coord
