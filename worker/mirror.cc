#include "worker/mirror.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "common/fs_util.h"

namespace nephron::worker {

namespace fs = std::filesystem;

namespace {

bool LocalStamp(const std::string& path, int64_t* size, int64_t* mtime_ns) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *size = st.st_size;
  *mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

// Marks a file as used now (its access time; the modification time stays).
void Touch(const std::string& path) {
  const timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

}  // namespace

bool MatchesAny(const std::string& rel, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns)
    if (::fnmatch(p.c_str(), rel.c_str(), 0) == 0) return true;
  return false;
}

Mirror::Mirror(zmq::context_t& ctx, net::FileClientOptions client, std::string cache_dir, int64_t limit_bytes)
    : client_(ctx, std::move(client)),
      cache_dir_(fs::absolute(cache_dir).lexically_normal().string()),
      root_(cache_dir_ + "/mirror"),
      limit_bytes_(limit_bytes) {
  LoadIndex();
}

std::string Mirror::Local(const std::string& remote) const {
  return root_ + fs::path("/" + remote).lexically_normal().string();
}

void Mirror::LoadIndex() {
  auto text = ReadFile(cache_dir_ + "/index.json");
  if (!text.ok()) return;
  try {
    const nlohmann::json j = nlohmann::json::parse(*text);
    for (const auto& [path, v] : j.items())
      index_[path] = {v.at(0).get<int64_t>(), v.at(1).get<int64_t>(), v.at(2).get<int64_t>(), v.at(3).get<int64_t>()};
  } catch (const std::exception& e) {
    // A damaged index only costs hashing: every file is compared again.
    spdlog::warn("{}/index.json is unreadable ({}); comparing every cached file again", cache_dir_, e.what());
    index_.clear();
  }
}

void Mirror::SaveIndex() {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [path, s] : index_) j[path] = {s.remote_size, s.remote_mtime, s.local_size, s.local_mtime};
  if (Status s = MakeDirs(cache_dir_); !s.ok()) return;
  if (Status s = WriteFileAtomic(cache_dir_ + "/index.json", j.dump()); !s.ok())
    spdlog::warn("cannot save the cache index: {}", s.message());
}

Status Mirror::Pull(const std::string& remote, const std::vector<std::string>& patterns, bool required) {
  const std::string local_root = Local(remote);
  auto entries = client_.List(remote);
  std::set<std::string> wanted;  // local paths the coordinator has
  if (!entries.ok()) {
    if (entries.status().code() != StatusCode::kNotFound || required) return entries.status();
  } else {
    for (const auto& e : *entries) {
      if (!e.path.empty() && !MatchesAny(e.path, patterns)) continue;
      const std::string rfile = e.path.empty() ? remote : remote + "/" + e.path;
      const std::string lfile = Local(rfile);
      wanted.insert(lfile);
      int64_t size = -1, mtime = -1;
      const bool have = LocalStamp(lfile, &size, &mtime);
      auto it = index_.find(rfile);
      if (have && it != index_.end() && it->second.remote_size == e.size && it->second.remote_mtime == e.mtime_ns &&
          it->second.local_size == size && it->second.local_mtime == mtime) {
        ++stats_.files_unchanged;
        Touch(lfile);
        continue;
      }
      auto st = client_.Fetch(rfile, lfile);
      if (!st.ok()) return st.status();
      if (st->cached) {
        ++stats_.files_unchanged;
      } else {
        ++stats_.files_fetched;
        stats_.bytes_fetched += st->bytes;
      }
      LocalStamp(lfile, &size, &mtime);
      index_[rfile] = {e.size, e.mtime_ns, size, mtime};
      Touch(lfile);
    }
  }
  // What the coordinator does not have (any more) goes here too.
  std::error_code ec;
  std::vector<std::string> extra;
  if (fs::is_regular_file(local_root, ec)) {
    if (!wanted.count(local_root)) extra.push_back(local_root);
  } else if (fs::is_directory(local_root, ec)) {
    for (auto it = fs::recursive_directory_iterator(local_root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec) || net::IsPartFile(it->path().filename().string())) continue;
      const std::string rel = fs::relative(it->path(), local_root, ec).string();
      if (MatchesAny(rel, patterns) && !wanted.count(it->path().string())) extra.push_back(it->path().string());
    }
  }
  for (const auto& f : extra) {
    fs::remove(f, ec);
    index_.erase(f.substr(root_.size()));
    ++stats_.files_removed;
  }
  return Status::Ok();
}

Status Mirror::Push(const std::string& remote) {
  const std::string lfile = Local(remote);
  auto st = client_.Upload(lfile, remote);
  if (!st.ok()) return st.status();
  // The remote's new modification time is unknown: the next Pull compares hashes once.
  int64_t size = -1, mtime = -1;
  LocalStamp(lfile, &size, &mtime);
  index_[remote] = {size, -1, size, mtime};
  return Status::Ok();
}

void Mirror::Trim() {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return;
  struct Entry {
    int64_t atime;
    int64_t size;
    std::string path;
  };
  std::vector<Entry> files;
  int64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat st;
    if (!it->is_regular_file(ec) || ::stat(it->path().c_str(), &st) != 0) continue;
    const int64_t atime = static_cast<int64_t>(st.st_atim.tv_sec) * 1000000000 + st.st_atim.tv_nsec;
    files.push_back({atime, static_cast<int64_t>(st.st_size), it->path().string()});
    total += st.st_size;
  }
  if (total <= limit_bytes_) return;
  std::sort(files.begin(), files.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.atime, a.path) < std::tie(b.atime, b.path); });
  int removed = 0;
  const int64_t before = total;
  for (const auto& f : files) {
    if (total <= limit_bytes_) break;
    if (!fs::remove(f.path, ec)) continue;
    total -= f.size;
    index_.erase(f.path.substr(root_.size()));
    ++removed;
  }
  spdlog::info("cache {}: removed {} least recently used files ({} MB -> {} MB, limit {} MB)", cache_dir_, removed,
               before >> 20, total >> 20, limit_bytes_ >> 20);
  SaveIndex();
}

}  // namespace nephron::worker
