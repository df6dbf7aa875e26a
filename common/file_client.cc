// FileClient (common/file_transfer.h): fetches, uploads and lists files on a
// FileServer over a DEALER of its own, with credit-based flow control.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>

#include "common/file_transfer.h"
#include "common/fs_util.h"

namespace nephron::net {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

}  // namespace

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
  Sha256 running;
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
