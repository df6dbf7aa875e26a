#include "common/file_transfer.h"

#include <fcntl.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>

namespace nephron::net {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int64_t kMaxChunk = 8 << 20;

std::string Hex(const unsigned char* md, unsigned len) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) s += {kHex[md[i] >> 4], kHex[md[i] & 15]};
  return s;
}

class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    return net::Hex(md, len);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(n);
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

std::string Sha256Hex(const void* data, size_t size) {
  Digest d;
  d.Update(data, size);
  return d.Hex();
}

Result<std::string> Sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  Digest d;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) d.Update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Internal("cannot read " + path);
  return d.Hex();
}

// ---- server ------------------------------------------------------------------

std::string UploadPartPath(const std::string& path, int64_t task, int attempt) {
  if (task <= 0) return path + ".part";
  return path + "." + std::to_string(task) + "-" + std::to_string(attempt) + ".part";
}

bool IsPartFile(const std::string& name) { return name.size() > 5 && name.compare(name.size() - 5, 5, ".part") == 0; }

int RemoveUploadParts(const std::string& dir, int64_t task, int attempt) {
  const std::string suffix = fs::path(UploadPartPath("", task, attempt)).string();  // ".T-A.part"
  int removed = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        it->is_regular_file(ec)) {
      std::error_code rm;
      removed += fs::remove(it->path(), rm) ? 1 : 0;
    }
  }
  return removed;
}

struct FileServer::Upload {
  Digest digest;
  int64_t hashed = 0;  // bytes of the part the digest covers
};

FileServer::~FileServer() = default;

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

// ---- client ------------------------------------------------------------------

FileClient::FileClient(zmq::context_t& ctx, FileClientOptions options) : ctx_(ctx), options_(std::move(options)) {}

Status FileClient::Connect() {
  if (socket_) return Status::Ok();
  const std::string id = options_.name + "~files~" + std::to_string(std::random_device{}());
  ASSIGN_OR_RETURN(Socket s, Socket::ConnectDealer(ctx_, options_.endpoint, id, options_.curve));
  socket_ = std::make_unique<Socket>(std::move(s));
  return Status::Ok();
}

namespace {

// One request in flight: what it asked for.
struct Pending {
  int64_t offset = 0;
  int64_t length = 0;
  int retries = 0;
};

// The receiving side of a credit-window transfer (fetch and upload): waits
// for the next answer to one of `pending`'s requests and takes it out of
// `pending`; nullopt while nothing usable arrived. After timeout_ms of
// silence it calls `on_silence` (which asks again), at most max_retries
// times; a cancel stops it.
class AnswerWaiter {
 public:
  AnswerWaiter(Socket& socket, const FileClientOptions& o, std::string what)
      : socket_(socket), o_(o), what_(std::move(what)) {}

  using Answer = std::optional<std::pair<Pending, proto::Decoded>>;

  Result<Answer> Next(std::map<uint64_t, Pending>& pending, const std::function<Status()>& on_silence) {
    if (o_.cancel && o_.cancel->load()) return Cancelled(what_ + ": cancelled");
    ASSIGN_OR_RETURN(std::optional<Frames> r, socket_.Recv(100));
    if (!r.has_value() || r->empty()) {
      if (Clock::now() - last_answer_ < std::chrono::milliseconds(o_.timeout_ms)) return Answer();
      if (++silences_ > o_.max_retries) return Status(StatusCode::kUnavailable, what_ + ": no answer from " + o_.endpoint);
      RETURN_IF_ERROR(on_silence());
      last_answer_ = Clock::now();
      return Answer();
    }
    last_answer_ = Clock::now();
    auto dec = proto::Decode(r->back());
    if (!dec.ok()) return Answer();
    auto it = pending.find(dec->envelope.request_id);
    if (it == pending.end()) return Answer();  // an answer to a request asked again since
    Answer out = std::make_pair(it->second, std::move(*dec));
    pending.erase(it);
    return out;
  }

 private:
  Socket& socket_;
  const FileClientOptions& o_;
  std::string what_;
  Clock::time_point last_answer_ = Clock::now();
  int silences_ = 0;
};

// Waits for the answer with id `id` (answers to older ids are dropped);
// resends `request` on silence, up to `retries` times.
Result<proto::Decoded> Roundtrip(Socket& s, const std::string& request, uint64_t id, const FileClientOptions& o) {
  for (int attempt = 0; attempt <= o.max_retries; ++attempt) {
    RETURN_IF_ERROR(s.Send({request}));
    const auto deadline = Clock::now() + std::chrono::milliseconds(o.timeout_ms);
    while (Clock::now() < deadline) {
      if (o.cancel && o.cancel->load()) return Cancelled("transfer cancelled");
      auto r = s.Recv(100);
      if (!r.ok()) return r.status();
      if (!r->has_value() || (*r)->empty()) continue;
      auto d = proto::Decode((*r)->back());
      if (d.ok() && d->envelope.request_id == id) return d;
    }
  }
  return Status(StatusCode::kUnavailable, "no answer from " + o.endpoint + " after " +
                                              std::to_string(o.max_retries + 1) + " tries");
}

}  // namespace

Result<TransferStats> FileClient::Fetch(const std::string& remote, const std::string& local) {
  RETURN_IF_ERROR(Connect());
  TransferStats st;
  proto::FileStatMsg stat{remote};
  const uint64_t stat_id = next_id_++;
  ASSIGN_OR_RETURN(proto::Decoded d, Roundtrip(*socket_, proto::Encode(stat, stat_id), stat_id, options_));
  ASSIGN_OR_RETURN(proto::FileInfoMsg info, d.Body<proto::FileInfoMsg>());
  if (!info.error.empty()) return InvalidArgument("fetch " + remote + ": " + info.error);
  if (!info.exists) return NotFound("fetch " + remote + ": no such file on " + options_.endpoint);
  if (FileSize(local) == info.size) {
    auto have = Sha256OfFile(local);
    if (have.ok() && *have == info.sha256) {
      st.cached = true;
      return st;
    }
  }
  std::error_code ec;
  if (fs::path(local).has_parent_path()) fs::create_directories(fs::path(local).parent_path(), ec);
  const std::string part = local + ".part";
  int64_t next = std::max<int64_t>(0, FileSize(part));
  if (next > info.size) next = 0;
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot write " + part + ": " + std::strerror(errno));
  if (next == 0 && ::ftruncate(fd, 0) != 0) {
    ::close(fd);
    return Internal("cannot truncate " + part);
  }
  st.resumed_from = next;
  // The whole file's hash as chunks arrive in order (they do unless one is
  // asked for again): no second pass over the file at the end.
  Digest running;
  int64_t hashed = 0;
  if (next > 0) {
    std::ifstream in(part, std::ios::binary);
    std::vector<char> buf(1 << 20);
    while (hashed < next && in.read(buf.data(), static_cast<std::streamsize>(std::min<int64_t>(buf.size(), next - hashed)))) {
      running.Update(buf.data(), static_cast<size_t>(in.gcount()));
      hashed += in.gcount();
    }
  }
  std::map<uint64_t, Pending> pending;
  auto ask = [&](Pending p) {
    const uint64_t id = next_id_++;
    proto::FileReadMsg r{remote, p.offset, p.length};
    pending[id] = p;
    return socket_->Send({proto::Encode(r, id)});
  };
  auto fail = [&](Status s) {
    ::close(fd);
    return s;
  };
  AnswerWaiter waiter(*socket_, options_, "fetch " + remote);
  // Silence: ask again for everything outstanding (the server is stateless).
  auto ask_again = [&]() -> Status {
    std::vector<Pending> again;
    for (auto& [id, p] : pending) again.push_back(p);
    pending.clear();
    for (const auto& p : again) RETURN_IF_ERROR(ask(p));
    return Status::Ok();
  };
  while (next < info.size || !pending.empty()) {
    while (next < info.size && static_cast<int>(pending.size()) < options_.credit) {
      const int64_t len = std::min(options_.chunk_bytes, info.size - next);
      if (Status s = ask({next, len, 0}); !s.ok()) return fail(s);
      next += len;
    }
    auto answer = waiter.Next(pending, ask_again);
    if (!answer.ok()) return fail(answer.status());
    if (!answer->has_value()) continue;
    Pending p = (*answer)->first;
    const proto::Decoded* dec = &(*answer)->second;
    auto chunk = dec->Body<proto::FileChunkMsg>();
    if (chunk.ok() && !chunk->error.empty()) return fail(InvalidArgument("fetch " + remote + ": " + chunk->error));
    const bool good = chunk.ok() && static_cast<int64_t>(chunk->data.size()) == p.length &&
                      Sha256Hex(chunk->data.data(), chunk->data.size()) == chunk->sha256;
    if (!good) {
      ++st.chunks_refetched;
      if (++p.retries > options_.max_retries)
        return fail(Status(StatusCode::kDataLoss, "fetch " + remote + ": the chunk at " + std::to_string(p.offset) +
                                                     " arrived corrupted " + std::to_string(p.retries) + " times"));
      if (Status s = ask(p); !s.ok()) return fail(s);
      continue;
    }
    if (::pwrite(fd, chunk->data.data(), chunk->data.size(), p.offset) != static_cast<ssize_t>(chunk->data.size()))
      return fail(Internal("cannot write " + part + ": " + std::strerror(errno)));
    st.bytes += p.length;
    if (p.offset == hashed) {
      running.Update(chunk->data.data(), chunk->data.size());
      hashed += p.length;
    } else {
      hashed = -1;  // out of order: hash the file at the end
    }
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Internal("cannot sync " + part);
  std::string sha;
  if (hashed == info.size) {
    sha = running.Hex();
  } else {
    ASSIGN_OR_RETURN(sha, Sha256OfFile(part));
  }
  if (sha != info.sha256) {
    fs::remove(part, ec);
    return Status(StatusCode::kDataLoss, "fetch " + remote + ": the whole file's SHA-256 does not match; removed " +
                                             part + " (fetch again)");
  }
  if (::rename(part.c_str(), local.c_str()) != 0) return Internal("cannot rename " + part + ": " + std::strerror(errno));
  return st;
}

Result<TransferStats> FileClient::Upload(const std::string& local, const std::string& remote) {
  RETURN_IF_ERROR(Connect());
  TransferStats st;
  const int64_t size = FileSize(local);
  if (size < 0) return NotFound("upload: cannot read " + local);
  ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(local));
  const int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("upload: cannot open " + local);
  auto fail = [&](Status s) {
    ::close(fd);
    return s;
  };
  // Where the remote part ends: a write at offset -1 is never appended.
  proto::FileWriteMsg probe{remote, -1, "", Sha256Hex("", 0), options_.task, options_.attempt};
  const uint64_t probe_id = next_id_++;
  auto pd = Roundtrip(*socket_, proto::Encode(probe, probe_id), probe_id, options_);
  if (!pd.ok()) return fail(pd.status());
  auto pw = pd->Body<proto::FileWrittenMsg>();
  if (!pw.ok()) return fail(pw.status());
  if (!pw->error.empty()) return fail(InvalidArgument("upload " + remote + ": " + pw->error));
  int64_t next = pw->size <= size ? pw->size : 0;
  st.resumed_from = next;
  std::map<uint64_t, Pending> pending;
  auto send = [&](Pending p) -> Status {
    proto::FileWriteMsg w{remote, p.offset, std::string(static_cast<size_t>(p.length), '\0'), "", options_.task,
                         options_.attempt};
    if (::pread(fd, w.data.data(), w.data.size(), p.offset) != static_cast<ssize_t>(p.length))
      return Internal("upload: cannot read " + local);
    w.sha256 = Sha256Hex(w.data.data(), w.data.size());
    const uint64_t id = next_id_++;
    pending[id] = p;
    return socket_->Send({proto::Encode(w, id)});
  };
  int64_t confirmed = next;
  if (size == 0) {  // nothing to send, but the part must exist: a write at offset 0 creates it
    proto::FileWriteMsg empty{remote, 0, "", Sha256Hex("", 0), options_.task, options_.attempt};
    const uint64_t id = next_id_++;
    auto e = Roundtrip(*socket_, proto::Encode(empty, id), id, options_);
    if (!e.ok()) return fail(e.status());
  }
  AnswerWaiter waiter(*socket_, options_, "upload " + remote);
  auto resync = [&]() -> Status {  // silence: resynchronise from what the server has
    pending.clear();
    next = confirmed;
    return Status::Ok();
  };
  while (confirmed < size) {
    while (next < size && static_cast<int>(pending.size()) < options_.credit) {
      const int64_t len = std::min(options_.chunk_bytes, size - next);
      if (Status s = send({next, len, 0}); !s.ok()) return fail(s);
      next += len;
    }
    auto answer = waiter.Next(pending, resync);
    if (!answer.ok()) return fail(answer.status());
    if (!answer->has_value()) continue;
    Pending p = (*answer)->first;
    const proto::Decoded* dec = &(*answer)->second;
    auto w = dec->Body<proto::FileWrittenMsg>();
    if (!w.ok()) continue;
    if (!w->error.empty()) {
      if (w->error != "chunk hash mismatch" || ++p.retries > options_.max_retries)
        return fail(Status(StatusCode::kDataLoss, "upload " + remote + ": " + w->error));
      ++st.chunks_refetched;
      // The server kept nothing of it: everything after it is out of place too.
      pending.clear();
      next = w->size;
      confirmed = w->size;
      continue;
    }
    if (w->size == p.offset + p.length) {
      confirmed = std::max(confirmed, w->size);
      st.bytes += p.length;
    } else if (w->size <= p.offset) {
      // The server's part ends elsewhere (restart, lost chunk): continue from there.
      pending.clear();
      next = confirmed = w->size;
    }
  }
  ::close(fd);
  proto::FileCommitMsg commit{remote, size, sha, options_.task, options_.attempt};
  const uint64_t cid = next_id_++;
  ASSIGN_OR_RETURN(proto::Decoded cd, Roundtrip(*socket_, proto::Encode(commit, cid), cid, options_));
  ASSIGN_OR_RETURN(proto::FileWrittenMsg done, cd.Body<proto::FileWrittenMsg>());
  if (!done.committed) return Status(StatusCode::kDataLoss, "upload " + remote + ": " + done.error);
  return st;
}

Result<std::vector<proto::FileEntry>> FileClient::List(const std::string& remote) {
  RETURN_IF_ERROR(Connect());
  const uint64_t id = next_id_++;
  ASSIGN_OR_RETURN(proto::Decoded d, Roundtrip(*socket_, proto::Encode(proto::FileListMsg{remote}, id), id, options_));
  ASSIGN_OR_RETURN(proto::FileListingMsg m, d.Body<proto::FileListingMsg>());
  if (!m.error.empty()) return InvalidArgument("list " + remote + ": " + m.error);
  if (!m.exists) return NotFound("list " + remote + ": no such file or folder on " + options_.endpoint);
  return std::move(m.entries);
}

}  // namespace nephron::net
