// What a task produced: the files it created or changed under the folders its
// kind writes to, each with size and SHA-256, reported in TaskDone and kept by
// the coordinator. Shards of one kind that run at the same time write to the
// same folder; a file is then reported by whichever shard saw it change
// (harmless: the coordinator keeps one row per path).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"

namespace nephron::worker {

// Files and folders (relative to the experiment folder) that `a`'s kind writes.
std::vector<std::string> OutputRoots(const proto::AssignMsg& a);
// What `a`'s kind reads and writes in the experiment folder, as fnmatch
// patterns relative to it ('*' also crosses '/'): a worker without the shared
// file system fetches these before the task runs. Outputs are included, so a
// resumed or re-run task sees what earlier attempts left (checkpoints, done
// cases) and nothing stale.
std::vector<std::string> ExperimentInputs(const proto::AssignMsg& a);
// Whether `a`'s kind reads the raw data set.
bool ReadsRawData(const proto::AssignMsg& a);

struct FileStamp {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp& o) const { return size == o.size && mtime_ns == o.mtime_ns; }
};
using Snapshot = std::map<std::string, FileStamp>;  // relative path -> stamp

Snapshot TakeSnapshot(const std::string& exp_dir, const std::vector<std::string>& roots);
// Files under `roots` that are new or changed since `before`, hashed.
std::vector<proto::ArtifactInfo> ChangedFiles(const std::string& exp_dir, const std::vector<std::string>& roots,
                                              const Snapshot& before);

// Hex SHA-256 of a file's contents; NotFound/DataLoss naming the file.
Result<std::string> Sha256File(const std::string& path);

}  // namespace nephron::worker
