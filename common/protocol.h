// The coordinator <-> worker wire protocol: every message, defined once.
//
// Transport: the coordinator binds a ZeroMQ ROUTER, each worker connects a
// DEALER. Every ZeroMQ message is one frame (after the ROUTER's identity
// frame) holding one MessagePack map, the envelope:
//   {"v": protocol_version, "t": message type, "id": request id, "b": body}
// Bodies are MessagePack maps keyed by field name (MSGPACK_DEFINE_MAP), so a
// newer peer may add fields: missing keys keep their defaults, unknown keys
// are ignored. A peer whose "v" differs from kProtocolVersion is refused
// (RefuseMsg) and logs why; nothing else it sends is processed.
//
// Who sends what, when, and what answers it:
//   worker -> coordinator
//     Register     on connect and after every reconnect; names the task the
//                  worker is still running, if any.       -> Welcome | Refuse
//     Heartbeat    every heartbeat_ms while connected.     (no answer)
//     Progress     a running task's progress, throttled.   (no answer)
//     Log          a running task's output lines.          (no answer)
//     Metric       one finished training epoch.            (no answer)
//     TaskDone     the task ended (ok or failed).          -> Ack
//   coordinator -> worker
//     Welcome      registration accepted; the heartbeat settings to use.
//     Refuse       registration refused (protocol version, unknown worker).
//     Heartbeat    every heartbeat_ms to each live worker.
//     Assign       run this task (attempt N).
//     Cancel       stop this task (attempt N) and keep its checkpoint.
//     Ack          TaskDone was stored; the worker may forget the task.
//   files, either way (common/file_transfer.h; any authenticated connection,
//   registered or not; every request is answered, errors in the answer):
//     FileStat     size and SHA-256 of a file.            -> FileInfo
//     FileRead     one chunk (offset, length).            -> FileChunk (data + its SHA-256)
//     FileWrite    one chunk of an upload, appended to its part file
//                  (PATH.TASK-ATTEMPT.part; PATH.part without a task) if
//                  its offset is the part's size.         -> FileWritten (the part's size)
//     FileCommit   the upload is whole: check its SHA-256,
//                  rename the part to PATH.               -> FileWritten (committed)
// Everything about a task carries (task_id, attempt). The coordinator ignores
// messages whose attempt is not the task's current one (stale attempts), so a
// repeated or late message never takes effect twice.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace nephron::proto {

// Bump when a change is not backward compatible (a field's meaning changes).
inline constexpr int kProtocolVersion = 1;

enum class MsgType : int {
  kRegister = 1,
  kWelcome = 2,
  kRefuse = 3,
  kHeartbeat = 4,
  kAssign = 5,
  kCancel = 6,
  kProgress = 7,
  kLog = 8,
  kMetric = 9,
  kTaskDone = 10,
  kAck = 11,
  kFileStat = 12,
  kFileInfo = 13,
  kFileRead = 14,
  kFileChunk = 15,
  kFileWrite = 16,
  kFileWritten = 17,
  kFileCommit = 18,
  kFileList = 19,
  kFileListing = 20,
};
const char* MsgTypeName(MsgType t);

// worker -> coordinator, first message after (re)connecting.
struct RegisterMsg {
  static constexpr MsgType kType = MsgType::kRegister;
  std::string name;            // unique per worker; default host:device:pid
  std::string host;
  std::string device;          // "cpu" or "cuda:N"
  int64_t memory_mb = 0;       // device memory (GPU) or RAM (CPU)
  int threads = 0;
  std::string engine_version;
  int64_t running_task = 0;    // task still running on this worker (0: none)
  int running_attempt = 0;
  MSGPACK_DEFINE_MAP(name, host, device, memory_mb, threads, engine_version, running_task, running_attempt);
};

struct WelcomeMsg {
  static constexpr MsgType kType = MsgType::kWelcome;
  int heartbeat_ms = 1000;
  int liveness = 4;            // missed heartbeats before a peer counts as gone
  bool adopt = true;           // false: the reported running task is stale; stop it
  // The coordinator's data root and the token in its DATA_ROOT/.nephron-root:
  // a worker that reads the same token there shares the file system; any
  // other fetches its tasks' files over this link (--files auto).
  std::string data_root;
  std::string root_token;
  MSGPACK_DEFINE_MAP(heartbeat_ms, liveness, adopt, data_root, root_token);
};

struct RefuseMsg {
  static constexpr MsgType kType = MsgType::kRefuse;
  std::string reason;
  int protocol_version = kProtocolVersion;
  MSGPACK_DEFINE_MAP(reason, protocol_version);
};

struct HeartbeatMsg {
  static constexpr MsgType kType = MsgType::kHeartbeat;
  int64_t task = 0;            // worker -> coordinator: running task (0: idle)
  int attempt = 0;
  // The newest Assign this worker has received (taken or not). A heartbeat
  // sent before an Assign arrived says nothing about it, however late the
  // coordinator reads it.
  int64_t seen_task = 0;
  int seen_attempt = 0;
  // How it reaches task files: "shared" (the coordinator's data root is
  // visible here) or "fetch" (over this link); "" until welcomed.
  std::string files = {};
  MSGPACK_DEFINE_MAP(task, attempt, seen_task, seen_attempt, files);
};

// What to run. The worker turns it into an engine invocation. Paths are the
// coordinator's: a worker that cannot see them fetches the files (see
// worker/mirror.h) and runs on its local copy.
struct AssignMsg {
  static constexpr MsgType kType = MsgType::kAssign;
  int64_t task = 0;
  int attempt = 0;
  std::string kind;            // fingerprint|plan|preprocess|train|validate|crossval|predict|evaluate|noop
  int64_t experiment = 0;
  std::string experiment_dir;  // the engines' experiment folder
  std::string data_dir;        // raw data set root
  std::string spec_path;       // the experiment's job spec (YAML)
  int fold = -1;               // train, validate
  int shard = 0;               // sharded kinds: shard i of num_shards
  int num_shards = 1;
  std::vector<std::string> cases;  // predict: case ids (empty: all test cases)
  std::string output_dir;      // predict: where label maps go; evaluate: predictions to score
  std::string log_path;        // where the worker appends the task's output
  double noop_seconds = 0;     // noop (tests, load test): how long to pretend to work
  int threads = 0;             // engine threads (spec resources.threads); 0: the worker's --threads
  std::string checkpoint;      // predict: the spec's inference.checkpoint (what a fetching worker pulls)
  MSGPACK_DEFINE_MAP(task, attempt, kind, experiment, experiment_dir, data_dir, spec_path, fold, shard, num_shards,
                     cases, output_dir, log_path, noop_seconds, threads, checkpoint);
};

struct CancelMsg {
  static constexpr MsgType kType = MsgType::kCancel;
  int64_t task = 0;
  int attempt = 0;
  std::string reason;
  MSGPACK_DEFINE_MAP(task, attempt, reason);
};

struct ProgressMsg {
  static constexpr MsgType kType = MsgType::kProgress;
  int64_t task = 0;
  int attempt = 0;
  std::string stage;
  int64_t done = 0;
  int64_t total = 0;
  std::string message;
  MSGPACK_DEFINE_MAP(task, attempt, stage, done, total, message);
};

struct LogMsg {
  static constexpr MsgType kType = MsgType::kLog;
  int64_t task = 0;
  int attempt = 0;
  std::vector<std::string> lines;
  MSGPACK_DEFINE_MAP(task, attempt, lines);
};

// One training epoch, as the trainer logged it (fold_K/training_log.jsonl).
struct MetricMsg {
  static constexpr MsgType kType = MsgType::kMetric;
  int64_t task = 0;
  int attempt = 0;
  int epoch = 0;
  double train_loss = 0;
  double val_loss = 0;
  std::vector<double> dice;    // pseudo Dice per foreground class
  double ema_dice = 0;
  double lr = 0;
  double seconds = 0;
  MSGPACK_DEFINE_MAP(task, attempt, epoch, train_loss, val_loss, dice, ema_dice, lr, seconds);
};

struct ArtifactInfo {
  std::string path;            // relative to the experiment folder
  int64_t size = 0;
  std::string sha256;
  MSGPACK_DEFINE_MAP(path, size, sha256);
};

struct TaskDoneMsg {
  static constexpr MsgType kType = MsgType::kTaskDone;
  int64_t task = 0;
  int attempt = 0;
  bool ok = false;
  bool permanent = false;      // failure that a retry cannot fix (bad input, invalid spec)
  bool cancelled = false;      // stopped because of a Cancel
  int exit_code = 0;
  std::string error;           // last lines of the engine's error output
  std::vector<ArtifactInfo> artifacts;
  MSGPACK_DEFINE_MAP(task, attempt, ok, permanent, cancelled, exit_code, error, artifacts);
};

struct AckMsg {
  static constexpr MsgType kType = MsgType::kAck;
  int64_t task = 0;
  int attempt = 0;
  MSGPACK_DEFINE_MAP(task, attempt);
};

// Files. `path` is relative to the serving side's data root (or absolute
// inside one of its allowed roots); `error` is empty on success.
struct FileStatMsg {
  static constexpr MsgType kType = MsgType::kFileStat;
  std::string path;
  MSGPACK_DEFINE_MAP(path);
};

struct FileInfoMsg {
  static constexpr MsgType kType = MsgType::kFileInfo;
  std::string path;
  bool exists = false;
  int64_t size = 0;
  std::string sha256;  // hex, of the whole file
  std::string error;
  MSGPACK_DEFINE_MAP(path, exists, size, sha256, error);
};

struct FileReadMsg {
  static constexpr MsgType kType = MsgType::kFileRead;
  std::string path;
  int64_t offset = 0;
  int64_t length = 0;
  MSGPACK_DEFINE_MAP(path, offset, length);
};

struct FileChunkMsg {
  static constexpr MsgType kType = MsgType::kFileChunk;
  std::string path;
  int64_t offset = 0;
  std::string data;
  std::string sha256;  // hex, of `data`
  std::string error;
  MSGPACK_DEFINE_MAP(path, offset, data, sha256, error);
};

struct FileWriteMsg {
  static constexpr MsgType kType = MsgType::kFileWrite;
  std::string path;
  int64_t offset = 0;
  std::string data;
  std::string sha256;  // hex, of `data`
  int64_t task = 0;    // the task attempt this output belongs to: the coordinator
  int attempt = 0;     // refuses uploads of an attempt that is no longer current
  MSGPACK_DEFINE_MAP(path, offset, data, sha256, task, attempt);
};

struct FileWrittenMsg {
  static constexpr MsgType kType = MsgType::kFileWritten;
  std::string path;
  int64_t size = 0;      // bytes of the upload's part file now (the next offset to send)
  bool committed = false;
  std::string error;
  MSGPACK_DEFINE_MAP(path, size, committed, error);
};

struct FileCommitMsg {
  static constexpr MsgType kType = MsgType::kFileCommit;
  std::string path;
  int64_t size = 0;
  std::string sha256;  // hex, of the whole file
  int64_t task = 0;
  int attempt = 0;
  MSGPACK_DEFINE_MAP(path, size, sha256, task, attempt);
};

// Every regular file under `path` (a folder, listed recursively, or one file),
// without the .part files of uploads in progress.
struct FileListMsg {
  static constexpr MsgType kType = MsgType::kFileList;
  std::string path;
  MSGPACK_DEFINE_MAP(path);
};

struct FileEntry {
  std::string path;    // relative to the listed folder ("" when a file was listed)
  int64_t size = 0;
  int64_t mtime_ns = 0;
  MSGPACK_DEFINE_MAP(path, size, mtime_ns);
};

struct FileListingMsg {
  static constexpr MsgType kType = MsgType::kFileListing;
  std::string path;
  bool exists = false;
  std::vector<FileEntry> entries;
  std::string error;
  MSGPACK_DEFINE_MAP(path, exists, entries, error);
};

struct Envelope {
  int version = 0;
  MsgType type = MsgType::kHeartbeat;
  uint64_t request_id = 0;
};

// A received message: the envelope, and the body still to be converted.
class Decoded {
 public:
  Envelope envelope;
  // Converts the body; InvalidArgument when it is not a `T` (names the type).
  template <typename T>
  Result<T> Body() const {
    if (envelope.type != T::kType)
      return InvalidArgument(std::string("message is ") + MsgTypeName(envelope.type) + ", expected " +
                             MsgTypeName(T::kType));
    try {
      T out;
      body_.convert(out);
      return out;
    } catch (const std::exception& e) {
      return InvalidArgument(std::string("malformed ") + MsgTypeName(T::kType) + " body: " + e.what());
    }
  }

 private:
  friend Result<Decoded> Decode(const std::string& bytes);
  std::shared_ptr<msgpack::zone> zone_;
  msgpack::object body_;
};

std::string EncodeEnvelope(MsgType type, uint64_t request_id, const msgpack::sbuffer& body, int version);

template <typename T>
std::string Encode(const T& body, uint64_t request_id = 0, int version = kProtocolVersion) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, body);
  return EncodeEnvelope(T::kType, request_id, buf, version);
}

// Parses the envelope. A version mismatch is not an error here: the caller
// compares `envelope.version` and answers with a refusal.
Result<Decoded> Decode(const std::string& bytes);

}  // namespace nephron::proto
