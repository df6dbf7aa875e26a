// A worker's local copy of the coordinator's files, for a worker that cannot
// see the coordinator's data root (another machine, no shared file system).
//
// The coordinator's path P lives at CACHE/mirror/P, so a task runs on the
// same layout with every path prefixed (and the engine told the prefix via
// NEPHRON_MIRROR_ROOT, see RecordedPath). Pull makes a remote file or folder
// (optionally only the entries matching some patterns) identical to the
// coordinator's: it lists it, fetches what differs (FileClient: chunked,
// hashed, resumable) and removes local files the coordinator no longer has.
// An index (CACHE/index.json) remembers, per file, the remote and local size
// and modification time at the last fetch, so an unchanged file costs no
// request and no hashing. Trim keeps the cache under its size limit by
// removing the least recently used files (a task's use sets a file's atime).
#pragma once

#include <zmq.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/file_transfer.h"
#include "common/status.h"

namespace nephron::worker {

struct MirrorStats {
  int files_fetched = 0;
  int files_unchanged = 0;
  int files_removed = 0;
  int64_t bytes_fetched = 0;
};

class Mirror {
 public:
  Mirror(zmq::context_t& ctx, net::FileClientOptions client, std::string cache_dir, int64_t limit_bytes);

  // CACHE/mirror: the prefix of every local path.
  const std::string& root() const { return root_; }
  // The local copy's path of the coordinator's absolute path `remote`.
  std::string Local(const std::string& remote) const;

  // Makes Local(remote) equal to the coordinator's `remote`, for the entries
  // whose path relative to `remote` matches one of `patterns` (fnmatch; empty:
  // all). A remote that does not exist is an error when `required`, else its
  // local copy is removed.
  Status Pull(const std::string& remote, const std::vector<std::string>& patterns = {}, bool required = true);
  // Uploads Local(remote) to `remote` (named as the client's task attempt).
  Status Push(const std::string& remote);
  // Removes least recently used files until the cache holds at most the limit.
  void Trim();
  // Saves the index (Pull and Push keep it in memory).
  void SaveIndex();

  void set_task(int64_t task, int attempt) { client_.set_task(task, attempt); }
  const MirrorStats& stats() const { return stats_; }

 private:
  struct Stamp {
    int64_t remote_size = -1, remote_mtime = -1, local_size = -1, local_mtime = -1;
  };
  void LoadIndex();

  net::FileClient client_;
  std::string cache_dir_;
  std::string root_;
  int64_t limit_bytes_;
  std::map<std::string, Stamp> index_;  // remote path -> stamps at the last fetch
  MirrorStats stats_;
};

// Whether `rel` matches one of `patterns` (fnmatch, '*' also crossing '/'); an
// empty list matches everything.
bool MatchesAny(const std::string& rel, const std::vector<std::string>& patterns);

}  // namespace nephron::worker
