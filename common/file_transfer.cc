#include "common/file_transfer.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/fs_util.h"

namespace nephron::net {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxChunk = 8 << 20;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

template <typename T>
std::string Reply(const proto::Decoded& req, const T& body) {
  return proto::Encode(body, req.envelope.request_id);
}

}  // namespace

void KeepChunkBuffersInHeap() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

std::string UploadPartPath(const std::string& path, int64_t task, int attempt) {
  if (task <= 0) return path + ".part";
  return path + "." + std::to_string(task) + "-" + std::to_string(attempt) + ".part";
}

bool IsPartFile(const std::string& name) { return EndsWith(name, ".part"); }

int RemoveUploadParts(const std::string& dir, int64_t task, int attempt) {
  const std::string suffix = UploadPartPath("", task, attempt);  // ".TASK-ATTEMPT.part"
  int removed = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (EndsWith(it->path().filename().string(), suffix) && it->is_regular_file(ec)) {
      std::error_code rm;
      removed += fs::remove(it->path(), rm) ? 1 : 0;
    }
  }
  return removed;
}

struct FileServer::Upload {
  Sha256 digest;
  int64_t hashed = 0;  // bytes of the part the digest covers
};

FileServer::~FileServer() = default;

int FileServer::EndUploads(const std::string& dir, int64_t task, int attempt) {
  const std::string suffix = UploadPartPath("", task, attempt);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = uploads_.begin(); it != uploads_.end();) it = EndsWith(it->first, suffix) ? uploads_.erase(it) : std::next(it);
  }
  return RemoveUploadParts(dir, task, attempt);
}

FileServer::FileServer(std::vector<std::string> roots) {
  for (const auto& r : roots) roots_.push_back({fs::weakly_canonical(fs::absolute(r)).string(), true});
}

void FileServer::AddReadOnlyRoot(const std::string& root) {
  const std::string c = fs::weakly_canonical(fs::absolute(root)).string();
  std::lock_guard<std::mutex> lock(roots_mu_);
  for (const auto& r : roots_)
    if (r.path == c) return;
  roots_.push_back({c, false});
}

void ServeFiles(Socket& socket, FileServer& server, const std::atomic<bool>& stop) {
  while (!stop) {
    auto r = socket.Recv(50);
    if (!r.ok() || !r->has_value() || (*r)->size() != 2) continue;
    auto d = proto::Decode((**r)[1]);
    if (d.ok() && FileServer::Handles(d->envelope.type)) (void)socket.Send({(**r)[0], server.Handle(*d)});
  }
}

bool FileServer::Handles(proto::MsgType t) {
  return t == proto::MsgType::kFileStat || t == proto::MsgType::kFileRead || t == proto::MsgType::kFileWrite ||
         t == proto::MsgType::kFileCommit || t == proto::MsgType::kFileList;
}

Result<std::string> FileServer::Resolve(const std::string& path, bool for_write) const {
  std::lock_guard<std::mutex> lock(roots_mu_);
  if (path.empty() || roots_.empty()) return InvalidArgument("empty path");
  const fs::path p = fs::path(path).is_absolute() ? fs::path(path) : fs::path(roots_[0].path) / path;
  const std::string c = fs::weakly_canonical(p).string();
  bool read_only = false;
  for (const auto& root : roots_) {
    if (c != root.path && c.compare(0, root.path.size() + 1, root.path + "/") != 0) continue;
    if (!for_write || root.writable) return c;
    read_only = true;
  }
  return InvalidArgument(path + (read_only ? " is in a read-only folder" : " is outside the served folders"));
}

Result<std::string> FileServer::ResolveWrite(const std::string& path, int64_t task, int attempt) const {
  ASSIGN_OR_RETURN(std::string p, Resolve(path, true));
  if (guard_) RETURN_IF_ERROR(guard_(p, task, attempt));
  return p;
}

proto::FileListingMsg FileServer::List(const proto::FileListMsg& m) {
  proto::FileListingMsg out;
  out.path = m.path;
  auto p = Resolve(m.path);
  if (!p.ok()) return out.error = p.status().message(), out;
  std::error_code ec;
  auto add = [&](const fs::path& f, const std::string& rel) {
    if (IsPartFile(f.filename().string())) return;
    std::error_code e;
    const auto size = fs::file_size(f, e);
    if (e) return;
    const auto mtime = fs::last_write_time(f, e).time_since_epoch().count();
    out.entries.push_back({rel, static_cast<int64_t>(size), static_cast<int64_t>(mtime)});
  };
  const auto st = fs::status(*p, ec);
  if (fs::is_regular_file(st)) {
    out.exists = true;
    add(*p, "");
  } else if (fs::is_directory(st)) {
    out.exists = true;
    for (auto it = fs::recursive_directory_iterator(*p, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file(ec)) add(it->path(), fs::relative(it->path(), *p, ec).string());
  }
  return out;
}

proto::FileInfoMsg FileServer::Stat(const proto::FileStatMsg& m) {
  proto::FileInfoMsg out;
  out.path = m.path;
  auto p = Resolve(m.path);
  if (!p.ok()) return out.error = p.status().message(), out;
  out.size = FileSize(*p);
  out.exists = out.size >= 0 && fs::is_regular_file(*p);
  if (!out.exists) return out.size = 0, out;
  // Hash a file once per version (size and modification time), not per fetch.
  std::error_code ec;
  const auto mtime = fs::last_write_time(*p, ec).time_since_epoch().count();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = hashes_.find(*p);
    if (it != hashes_.end() && it->second.size == out.size && it->second.mtime == mtime)
      return out.sha256 = it->second.sha256, out;
  }
  auto sha = Sha256OfFile(*p);
  if (!sha.ok()) return out.error = sha.status().message(), out;
  out.sha256 = *sha;
  std::lock_guard<std::mutex> lock(mu_);
  hashes_[*p] = {out.size, static_cast<int64_t>(mtime), *sha};
  return out;
}

proto::FileChunkMsg FileServer::Read(const proto::FileReadMsg& m) {
  proto::FileChunkMsg out;
  out.path = m.path;
  out.offset = m.offset;
  auto p = Resolve(m.path);
  if (!p.ok()) return out.error = p.status().message(), out;
  if (m.offset < 0 || m.length < 0 || m.length > kMaxChunk) return out.error = "bad offset or length", out;
  const int fd = ::open(p->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out.error = "cannot open " + m.path + ": " + std::strerror(errno), out;
  out.data.resize(static_cast<size_t>(m.length));
  const ssize_t n = ::pread(fd, out.data.data(), out.data.size(), m.offset);
  ::close(fd);
  if (n < 0) return out.error = "cannot read " + m.path + ": " + std::strerror(errno), out;
  out.data.resize(static_cast<size_t>(n));
  out.sha256 = Sha256Hex(out.data.data(), out.data.size());
  const int64_t sent = ++chunks_sent_;
  if (corrupt_every_ > 0 && sent % corrupt_every_ == 0 && !out.data.empty()) out.data[0] ^= 0x5a;
  return out;
}

proto::FileWrittenMsg FileServer::Write(const proto::FileWriteMsg& m) {
  proto::FileWrittenMsg out;
  out.path = m.path;
  auto p = ResolveWrite(m.path, m.task, m.attempt);
  if (!p.ok()) return out.error = p.status().message(), out;
  const std::string part = UploadPartPath(*p, m.task, m.attempt);
  std::error_code ec;
  fs::create_directories(fs::path(part).parent_path(), ec);
  // Offset 0 starts the upload over.
  if (m.offset == 0) {
    fs::remove(part, ec);
    std::lock_guard<std::mutex> lock(mu_);
    uploads_[part] = std::make_unique<Upload>();
  }
  out.size = std::max<int64_t>(0, FileSize(part));
  if (m.offset != out.size) return out;  // not where the part ends: the client resumes from out.size
  if (Sha256Hex(m.data.data(), m.data.size()) != m.sha256) return out.error = "chunk hash mismatch", out;
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return out.error = "cannot write " + part + ": " + std::strerror(errno), out;
  const bool ok = ::write(fd, m.data.data(), m.data.size()) == static_cast<ssize_t>(m.data.size());
  ::close(fd);
  if (!ok) return out.error = "cannot write " + part + ": " + std::strerror(errno), out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = uploads_.find(part);
    if (it != uploads_.end() && it->second->hashed == m.offset) {
      it->second->digest.Update(m.data.data(), m.data.size());
      it->second->hashed += static_cast<int64_t>(m.data.size());
    } else if (it != uploads_.end()) {
      uploads_.erase(it);
    }
  }
  out.size += static_cast<int64_t>(m.data.size());
  return out;
}

proto::FileWrittenMsg FileServer::Commit(const proto::FileCommitMsg& m) {
  proto::FileWrittenMsg out;
  out.path = m.path;
  auto p = ResolveWrite(m.path, m.task, m.attempt);
  if (!p.ok()) return out.error = p.status().message(), out;
  const std::string part = UploadPartPath(*p, m.task, m.attempt);
  out.size = FileSize(part);
  if (out.size != m.size) return out.error = "the upload has " + std::to_string(out.size) + " bytes, not " +
                                             std::to_string(m.size), out;
  Result<std::string> sha = std::string();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = uploads_.find(part);
    if (it != uploads_.end() && it->second->hashed == out.size) sha = it->second->digest.Hex();
    if (it != uploads_.end()) uploads_.erase(it);
  }
  if (sha.ok() && sha->empty()) sha = Sha256OfFile(part);  // no running digest: one pass over the file
  if (!sha.ok() || *sha != m.sha256) {
    std::error_code ec;
    fs::remove(part, ec);  // start over
    return out.error = "whole-file hash mismatch; upload again", out;
  }
  if (::rename(part.c_str(), p->c_str()) != 0) return out.error = "cannot rename " + part + ": " + std::strerror(errno), out;
  // The committed version's hash is known: the next FileStat needs no pass over it either.
  std::error_code ec;
  const auto mtime = fs::last_write_time(*p, ec).time_since_epoch().count();
  if (!ec) {
    std::lock_guard<std::mutex> lock(mu_);
    hashes_[*p] = {out.size, static_cast<int64_t>(mtime), *sha};
  }
  out.committed = true;
  return out;
}

// Decodes a `Request`, answers it with `handler`, or with an `Answer`
// carrying the decoding error.
template <typename Request, typename Answer, typename Handler>
std::string Answered(const proto::Decoded& req, Handler handler) {
  auto m = req.Body<Request>();
  if (m.ok()) return Reply(req, handler(*m));
  Answer bad;
  bad.error = m.status().message();
  return Reply(req, bad);
}

std::string FileServer::Handle(const proto::Decoded& req) {
  using namespace proto;
  switch (req.envelope.type) {
    case MsgType::kFileStat:
      return Answered<FileStatMsg, FileInfoMsg>(req, [this](const FileStatMsg& m) { return Stat(m); });
    case MsgType::kFileRead:
      return Answered<FileReadMsg, FileChunkMsg>(req, [this](const FileReadMsg& m) { return Read(m); });
    case MsgType::kFileWrite:
      return Answered<FileWriteMsg, FileWrittenMsg>(req, [this](const FileWriteMsg& m) { return Write(m); });
    case MsgType::kFileCommit:
      return Answered<FileCommitMsg, FileWrittenMsg>(req, [this](const FileCommitMsg& m) { return Commit(m); });
    case MsgType::kFileList:
      return Answered<FileListMsg, FileListingMsg>(req, [this](const FileListMsg& m) { return List(m); });
    default: {
      proto::FileInfoMsg bad;
      bad.error = std::string("not a file request: ") + proto::MsgTypeName(req.envelope.type);
      return Reply(req, bad);
    }
  }
}

}  // namespace nephron::net
