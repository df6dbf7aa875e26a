// A thin wrapper over cppzmq for the coordinator's ROUTER and the workers'
// DEALER sockets: multipart send/receive with a timeout, and errors as Status
// instead of exceptions. Move-only; like any ZeroMQ socket, one Socket is used
// by one thread at a time.
#pragma once

#include <zmq.hpp>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace nephron::net {

using Frames = std::vector<std::string>;

// CURVE on a socket (common/curve.h); empty keys: plain TCP.
struct CurveOptions {
  std::string secret_key;         // Z85, our own
  std::string public_key;         // Z85, our own (clients)
  std::string server_public_key;  // Z85, the server's (clients)
  bool enabled() const { return !secret_key.empty(); }
};

class Socket {
 public:
  // ROUTER bound to `endpoint` ("tcp://127.0.0.1:0" or "tcp://*:5555"; port 0
  // or * picks a free port — read it back with endpoint()). With `curve`
  // enabled it is a CURVE server: a ZapAuthenticator in the same context
  // decides who may connect.
  static Result<Socket> BindRouter(zmq::context_t& ctx, const std::string& endpoint, const CurveOptions& curve = {});
  // DEALER connected to `endpoint`; `identity` becomes its routing id.
  static Result<Socket> ConnectDealer(zmq::context_t& ctx, const std::string& endpoint, const std::string& identity,
                                      const CurveOptions& curve = {});

  Socket(Socket&&) = default;
  Socket& operator=(Socket&&) = default;

  // Non-blocking; Unavailable when the message cannot be queued (peer gone
  // with ROUTER_MANDATORY, or the high-water mark is reached).
  Status Send(const Frames& frames);
  // Waits at most `timeout_ms` (0: poll). nullopt on time-out or when a
  // signal interrupted the wait.
  Result<std::optional<Frames>> Recv(int timeout_ms);
  // The ZAP User-Id of the peer that sent the last message Recv() returned
  // (the authorized key's name under CURVE; "" without authentication).
  const std::string& last_user_id() const { return last_user_id_; }
  // The bound endpoint with the real port, e.g. "tcp://127.0.0.1:40123".
  std::string endpoint() const;

 private:
  explicit Socket(zmq::socket_t s) : socket_(std::move(s)) {}
  zmq::socket_t socket_;
  std::string last_user_id_;
};

// "tcp://*:5555" -> "tcp://0.0.0.0:5555" style normalisation for display;
// "0.0.0.0" in a bound endpoint is replaced by `host` for clients.
std::string ConnectableEndpoint(const std::string& bound, const std::string& host = "127.0.0.1");

}  // namespace nephron::net
