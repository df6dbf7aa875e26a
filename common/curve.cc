#include "common/curve.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/fs_util.h"

namespace nephron::net {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool IsZ85Key(const std::string& s) {
  if (s.size() != 40) return false;
  uint8_t bin[32];
  return zmq_z85_decode(bin, s.c_str()) != nullptr;
}

// "name = value" lines (and a bare key) of a key file.
Result<std::map<std::string, std::string>> ParseKeyFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::map<std::string, std::string> fields;
  size_t pos = 0;
  int line_no = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    line.erase(0, line.find_first_not_of(" \t\r"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    // Z85 has '#' and '=' in its alphabet: a comment is a whole line, and a
    // bare 40-character key is taken as it is.
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    const bool bare = IsZ85Key(line);
    std::string name = bare || eq == std::string::npos ? "public" : line.substr(0, eq);
    std::string value = bare || eq == std::string::npos ? line : line.substr(eq + 1);
    name.erase(name.find_last_not_of(" \t") + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (name != "public" && name != "secret")
      return InvalidArgument(path + ":" + std::to_string(line_no) + ": unknown field '" + name +
                             "' (expected public = ... or secret = ...)");
    if (!IsZ85Key(value))
      return InvalidArgument(path + ":" + std::to_string(line_no) + ": field " + name +
                             ": not a CURVE key (40 Z85 characters); make keys with `nephron keygen`");
    fields[name] = value;
  }
  return fields;
}

Status WriteNew(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return errno == EEXIST ? Status(StatusCode::kAlreadyExists, path + " already exists; not replacing a key")
                           : Internal("cannot create " + path + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Internal("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    return Status(StatusCode::kFailedPrecondition, "this libzmq has no CURVE support (built without libsodium)");
  return CurveKeyPair{pub, sec};
}

Status WriteCurveKeyFiles(const std::string& prefix, const CurveKeyPair& keys) {
  const std::string key = prefix + ".key", pub = prefix + ".pub";
  if (FileExists(key)) return Status(StatusCode::kAlreadyExists, key + " already exists; not replacing a key");
  if (FileExists(pub)) return Status(StatusCode::kAlreadyExists, pub + " already exists; not replacing a key");
  const std::string parent = std::filesystem::path(prefix).parent_path().string();
  if (!parent.empty()) RETURN_IF_ERROR(MakeDirs(parent));
  RETURN_IF_ERROR(WriteNew(key,
                           "# Nephron CURVE key pair (ZeroMQ Z85). Secret: never share this file.\n"
                           "public = " + keys.public_key + "\nsecret = " + keys.secret_key + "\n",
                           0600));
  return WriteNew(pub, "# Nephron CURVE public key (ZeroMQ Z85)\npublic = " + keys.public_key + "\n", 0644);
}

Result<CurveKeyPair> ReadCurveSecretKey(const std::string& path) {
  ASSIGN_OR_RETURN(auto fields, ParseKeyFile(path));
  if (!fields.count("secret"))
    return InvalidArgument(path + ": field secret: missing (is this a .pub file? pass the .key file)");
  CurveKeyPair k;
  k.secret_key = fields["secret"];
  char pub[41];
  if (zmq_curve_public(pub, k.secret_key.c_str()) != 0) return InvalidArgument(path + ": field secret: not a CURVE key");
  k.public_key = pub;
  if (fields.count("public") && fields["public"] != k.public_key)
    return InvalidArgument(path + ": field public: does not belong to the secret key in the same file");
  return k;
}

Result<std::string> ReadCurvePublicKey(const std::string& path) {
  ASSIGN_OR_RETURN(auto fields, ParseKeyFile(path));
  if (fields.count("public")) return fields["public"];
  if (fields.count("secret")) {
    ASSIGN_OR_RETURN(CurveKeyPair k, ReadCurveSecretKey(path));
    return k.public_key;
  }
  return InvalidArgument(path + ": field public: missing");
}

Result<std::map<std::string, std::string>> ReadAuthorizedKeys(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return NotFound("authorized keys directory " + dir + " does not exist");
  std::map<std::string, std::string> keys;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".pub") continue;
    ASSIGN_OR_RETURN(std::string key, ReadCurvePublicKey(e.path().string()));
    keys[key] = e.path().stem().string();
  }
  if (ec) return Internal("cannot list " + dir + ": " + ec.message());
  return keys;
}

bool IsLoopbackEndpoint(const std::string& endpoint) {
  const std::string scheme = "tcp://";
  if (endpoint.compare(0, scheme.size(), scheme) != 0) return endpoint.rfind("ipc://", 0) == 0 ||
                                                               endpoint.rfind("inproc://", 0) == 0;
  std::string host = endpoint.substr(scheme.size());
  host = host.substr(0, host.rfind(':'));
  // "source;destination" form: both must be loopback.
  if (const auto semi = host.find(';'); semi != std::string::npos) host = host.substr(semi + 1);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

ZapAuthenticator::ZapAuthenticator(zmq::context_t& ctx, std::string authorized_dir)
    : ctx_(ctx), dir_(std::move(authorized_dir)) {}

ZapAuthenticator::~ZapAuthenticator() { Stop(); }

Status ZapAuthenticator::Start() {
  ASSIGN_OR_RETURN(keys_, ReadAuthorizedKeys(dir_));
  last_read_ms_ = NowMs();
  if (keys_.empty()) spdlog::warn("authorized keys: {} holds no *.pub file yet; every worker is refused", dir_);
  try {
    socket_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::rep);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return Internal(std::string("cannot start the ZAP handler: ") + e.what());
  }
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void ZapAuthenticator::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  socket_.reset();
}

std::string ZapAuthenticator::Lookup(const std::string& z85) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(z85);
  if (it != keys_.end()) return it->second;
  if (NowMs() - last_read_ms_ < 1000) return "";
  last_read_ms_ = NowMs();
  auto fresh = ReadAuthorizedKeys(dir_);
  if (!fresh.ok()) {
    spdlog::error("authorized keys: {}", fresh.status().message());
    return "";
  }
  keys_ = std::move(*fresh);
  it = keys_.find(z85);
  return it == keys_.end() ? "" : it->second;
}

void ZapAuthenticator::Serve() {
  while (!stop_) {
    zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(200));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return;
    }
    if (!(item.revents & ZMQ_POLLIN)) continue;
    // version, request id, domain, address, identity, mechanism, credentials...
    std::vector<zmq::message_t> req;
    try {
      while (true) {
        zmq::message_t m;
        if (!socket_->recv(m, zmq::recv_flags::none)) break;
        const bool more = m.more();
        req.push_back(std::move(m));
        if (!more) break;
      }
    } catch (const zmq::error_t&) {
      continue;
    }
    if (req.size() < 6) continue;
    const std::string request_id = req[1].to_string(), address = req[3].to_string(), mechanism = req[5].to_string();
    std::string status = "400", text = "no credentials", user;
    if (mechanism == "CURVE" && req.size() >= 7 && req[6].size() == 32) {
      char z85[41];
      zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
      user = Lookup(z85);
      if (!user.empty()) {
        status = "200", text = "OK";
      } else {
        text = "key not authorized";
        ++refused_;
        std::lock_guard<std::mutex> lock(mu_);
        int64_t& last = last_logged_ms_[z85];
        if (NowMs() - last > 60'000 || last == 0) {
          last = NowMs();
          spdlog::warn("refused a worker from {}: its key {} is not in {} (add its .pub there to let it in)",
                       address, z85, dir_);
        }
      }
    } else {
      ++refused_;
      spdlog::warn("refused a connection from {}: mechanism {} (CURVE required)", address, mechanism);
    }
    try {
      socket_->send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(status), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(text), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(user), zmq::send_flags::sndmore);
      socket_->send(zmq::str_buffer(""), zmq::send_flags::none);
    } catch (const zmq::error_t&) {
    }
  }
}

}  // namespace nephron::net
