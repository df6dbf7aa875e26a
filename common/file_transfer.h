// Files over the coordinator-worker ZeroMQ link (the File* messages of
// common/protocol.h), for workers that cannot see the coordinator's data root.
//
// FileServer (file_transfer.cc) answers requests statelessly from files under its roots: the
// coordinator calls Handle() for every File* message, from any authenticated
// connection. FileClient (file_client.cc), on a DEALER of its own, fetches and uploads:
//   * chunks of `chunk_bytes`, `credit` requests in flight (the ZeroMQ guide's
//     credit-based flow control: a new request leaves only when a chunk
//     arrives, so neither side buffers more than credit x chunk);
//   * every chunk carries its SHA-256: a corrupted or truncated chunk is
//     detected and asked for again; the whole file's SHA-256 is checked at the
//     end, before the file appears under its final name (PATH.part until then;
//     an upload for a task attempt writes PATH.TASK-ATTEMPT.part, so attempts
//     uploading the same file at once never mix their chunks);
//   * an interrupted transfer resumes where it stopped: a fetch from the size
//     of the local PATH.part, an upload from the size of the remote one;
//   * a fetch of a file already present with the same SHA-256 transfers nothing.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/sha256.h"
#include "common/status.h"
#include "common/transport.h"

namespace nephron::net {

// Chunk-sized buffers (MiBs) come and go for every chunk; by default glibc
// maps each one fresh and the copies into it page-fault (measured: a third
// of a transfer's time). This keeps such blocks in the heap for reuse:
// process-wide, call once at start (the coordinator, workers, the benchmark).
void KeepChunkBuffersInHeap();

// Where an upload of `path` collects its chunks before the commit renames it:
// PATH.TASK-ATTEMPT.part for a task attempt's upload, PATH.part without one.
std::string UploadPartPath(const std::string& path, int64_t task, int attempt);
// True for such a file name (and a fetch's own PATH.part).
bool IsPartFile(const std::string& name);
// Removes what uploads of (task, attempt) left unfinished anywhere under
// `dir`; returns how many files went.
int RemoveUploadParts(const std::string& dir, int64_t task, int attempt);

class FileServer {
 public:
  // `roots` are the folders it serves and accepts uploads into; relative
  // paths are resolved against the first. Anything outside them is refused.
  explicit FileServer(std::vector<std::string> roots);
  ~FileServer();
  // Also serves `root` (a raw data set), but never writes into it.
  void AddReadOnlyRoot(const std::string& root);
  // Asked before every upload chunk and commit, with the absolute path and the
  // task attempt the client names; an error refuses the write (its message is
  // the answer's error). The coordinator refuses stale attempts with it.
  using WriteGuard = std::function<Status(const std::string& path, int64_t task, int attempt)>;
  void set_write_guard(WriteGuard guard) { guard_ = std::move(guard); }
  // An attempt has ended: removes what its uploads left unfinished under
  // `dir` (RemoveUploadParts) and forgets their running hashes.
  int EndUploads(const std::string& dir, int64_t task, int attempt);
  // True for the File* requests this server answers.
  static bool Handles(proto::MsgType type);
  // The encoded reply to one request (never throws).
  std::string Handle(const proto::Decoded& request);
  // Tests: corrupt the data of every n-th chunk sent (0: never).
  void set_corrupt_every(int n) { corrupt_every_ = n; }
  int64_t chunks_sent() const { return chunks_sent_.load(); }

 private:
  // The absolute path for `path` if it lies inside a root (a writable one
  // when `for_write`).
  Result<std::string> Resolve(const std::string& path, bool for_write = false) const;
  // Resolve for a write, and the guard's verdict.
  Result<std::string> ResolveWrite(const std::string& path, int64_t task, int attempt) const;
  proto::FileInfoMsg Stat(const proto::FileStatMsg& m);
  proto::FileListingMsg List(const proto::FileListMsg& m);
  proto::FileChunkMsg Read(const proto::FileReadMsg& m);
  proto::FileWrittenMsg Write(const proto::FileWriteMsg& m);
  proto::FileWrittenMsg Commit(const proto::FileCommitMsg& m);

  struct Hashed {
    int64_t size = 0;
    int64_t mtime = 0;
    std::string sha256;
  };
  struct Root {
    std::string path;
    bool writable = true;
  };
  mutable std::mutex roots_mu_;
  std::vector<Root> roots_;
  WriteGuard guard_;
  std::mutex mu_;
  std::map<std::string, Hashed> hashes_;  // path -> hash of the version last stat'ed
  // Uploads in progress: the SHA-256 of what was appended so far, so a commit
  // needs no second pass over the file (dropped when chunks arrive out of
  // order or after a restart: the commit then hashes the file).
  struct Upload;
  std::map<std::string, std::unique_ptr<Upload>> uploads_;
  int corrupt_every_ = 0;
  std::atomic<int64_t> chunks_sent_{0};
};

// A ROUTER that only serves files (tests, `nephron bench transfer`): answers
// File* requests on `socket` until `stop`.
void ServeFiles(Socket& socket, FileServer& server, const std::atomic<bool>& stop);

struct FileClientOptions {
  std::string endpoint;          // the coordinator's tcp://HOST:PORT
  std::string name = "files";    // routing id prefix (a per-connection suffix is added)
  CurveOptions curve;
  int64_t chunk_bytes = 1 << 20;
  int credit = 8;
  int timeout_ms = 10000;        // no answer this long: ask again (the peer may have restarted)
  int max_retries = 5;           // per chunk (bad hash) and per silence
  int64_t task = 0;              // uploads name this task attempt (see FileServer::WriteGuard)
  int attempt = 0;
  const std::atomic<bool>* cancel = nullptr;  // set: a transfer in progress stops with Cancelled
};

struct TransferStats {
  int64_t bytes = 0;             // transferred now (not counting what was already there)
  int64_t resumed_from = 0;      // bytes already present when it started
  int chunks_refetched = 0;      // chunks whose hash did not match
  bool cached = false;           // the file was already there, identical
};

class FileClient {
 public:
  FileClient(zmq::context_t& ctx, FileClientOptions options);
  // Fetches `remote` to `local` (folders created).
  Result<TransferStats> Fetch(const std::string& remote, const std::string& local);
  // Uploads `local` to `remote`.
  Result<TransferStats> Upload(const std::string& local, const std::string& remote);
  // The files under `remote` (NotFound when it does not exist).
  Result<std::vector<proto::FileEntry>> List(const std::string& remote);
  // The task attempt later uploads name.
  void set_task(int64_t task, int attempt) {
    options_.task = task;
    options_.attempt = attempt;
  }

 private:
  Status Connect();

  zmq::context_t& ctx_;
  FileClientOptions options_;
  std::unique_ptr<Socket> socket_;
  uint64_t next_id_ = 1;
};

}  // namespace nephron::net
