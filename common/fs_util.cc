#include "common/fs_util.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace nephron {

namespace fs = std::filesystem;

std::string TempPathFor(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

Status RenameInto(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    int err = errno;
    std::remove(from.c_str());
    return Internal("cannot move " + from + " to " + to + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, const std::string& contents) {
  const std::string tmp = TempPathFor(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Internal("cannot open " + tmp + " for writing: " + std::strerror(errno));
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Internal("cannot write " + path + " (disk full?)");
    }
  }
  return RenameInto(tmp, path);
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create directory " + dir + ": " + ec.message());
  return Status::Ok();
}

bool FileExists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(n);
}

std::string RecordedPath(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string p = fs::absolute(path).lexically_normal().string();
  const char* mirror = std::getenv("NEPHRON_MIRROR_ROOT");
  if (mirror == nullptr || *mirror == '\0') return p;
  std::string m = fs::path(mirror).lexically_normal().string();
  while (m.size() > 1 && m.back() == '/') m.pop_back();
  if (p.size() > m.size() && p.compare(0, m.size(), m) == 0 && p[m.size()] == '/') return p.substr(m.size());
  return p;
}

}  // namespace nephron
