// ZeroMQ CURVE keys for the coordinator-worker link: generating, writing and
// reading key files, the directory of authorized worker keys, and the ZAP
// handler that checks a connecting worker's key against it.
//
// Files (text, Z85 = ZeroMQ's 40-character encoding of a 32-byte key):
//   PREFIX.key   "public = <z85>\nsecret = <z85>\n" (mode 0600) — keep it private
//   PREFIX.pub   "public = <z85>\n" — give it to the other side
// Lines starting with `#` are comments (Z85 itself uses `#` and `=`); a file
// holding just the 40 characters is accepted too.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace nephron::net {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

Result<CurveKeyPair> GenerateCurveKeyPair();
// Writes PREFIX.key (0600) and PREFIX.pub; AlreadyExists if either exists
// (a key is never silently replaced).
Status WriteCurveKeyFiles(const std::string& prefix, const CurveKeyPair& keys);
// The secret key file: both halves (the public one derived if absent).
// InvalidArgument naming the file for anything that is not a valid key.
Result<CurveKeyPair> ReadCurveSecretKey(const std::string& path);
// A public key file (a .pub, or a .key: its public half).
Result<std::string> ReadCurvePublicKey(const std::string& path);
// Every *.pub in `dir`: public key -> name (the file name without .pub).
// InvalidArgument naming the file for a bad one; NotFound for no directory.
Result<std::map<std::string, std::string>> ReadAuthorizedKeys(const std::string& dir);

// True when every host in a tcp:// endpoint is a loopback address
// (127.x.x.x, ::1, localhost); plain TCP is allowed there without --insecure.
bool IsLoopbackEndpoint(const std::string& endpoint);

// The ZAP handler (ZeroMQ RFC 27) of a CURVE server: accepts a client whose
// public key is in the authorized directory, with the key's name as its
// User-Id; refuses (and logs, at most once a minute per key) every other
// one. The directory is read again when an unknown key knocks (at most once
// a second), so adding a worker's .pub needs no restart. Start it before the
// server socket binds; it lives in the same ZeroMQ context.
class ZapAuthenticator {
 public:
  ZapAuthenticator(zmq::context_t& ctx, std::string authorized_dir);
  ~ZapAuthenticator();  // Stop()s
  Status Start();       // reads the directory once (errors name the file) and serves
  void Stop();
  int refused() const { return refused_.load(); }

 private:
  void Serve();
  // The key's name, or "" when it is not authorized.
  std::string Lookup(const std::string& z85);

  zmq::context_t& ctx_;
  std::string dir_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> refused_{0};
  std::mutex mu_;
  std::map<std::string, std::string> keys_;
  int64_t last_read_ms_ = 0;
  std::map<std::string, int64_t> last_logged_ms_;
};

}  // namespace nephron::net
