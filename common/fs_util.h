// Small file-system helpers whose contract matters for "nothing is lost":
// every file Nephron writes for others to read is written to a temporary name
// in the same directory and renamed into place, so a crash never leaves a
// half-written file under the final name.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace nephron {

Status WriteFileAtomic(const std::string& path, const std::string& contents);
Result<std::string> ReadFile(const std::string& path);
// A unique temporary path next to `path` (same directory, so rename is atomic).
std::string TempPathFor(const std::string& path);
// rename(2) with a Status naming both paths.
Status RenameInto(const std::string& from, const std::string& to);
Status MakeDirs(const std::string& dir);
bool FileExists(const std::string& path);
// Size in bytes of a regular file; -1 when it cannot be read.
int64_t FileSize(const std::string& path);

// `path` made absolute and normal, as the coordinator knows it: a worker that
// fetches its tasks' files over the coordinator link runs the engine on a
// local mirror of the coordinator's paths (environment NEPHRON_MIRROR_ROOT =
// the mirror's folder), and a path recorded in an experiment file must not
// carry that prefix (other hosts read it).
std::string RecordedPath(const std::string& path);

}  // namespace nephron
