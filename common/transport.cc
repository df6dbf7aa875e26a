#include "common/transport.h"

#include <cerrno>

namespace nephron::net {

namespace {

std::string Normalize(const std::string& endpoint) {
  // ZeroMQ wants "*" or a port number; accept ":0" for an ephemeral port.
  const std::string suffix = ":0";
  if (endpoint.size() > suffix.size() && endpoint.compare(endpoint.size() - 2, 2, suffix) == 0)
    return endpoint.substr(0, endpoint.size() - 1) + "*";
  return endpoint;
}

}  // namespace

Result<Socket> Socket::BindRouter(zmq::context_t& ctx, const std::string& endpoint, const CurveOptions& curve) {
  try {
    zmq::socket_t s(ctx, zmq::socket_type::router);
    if (curve.enabled()) {
      s.set(zmq::sockopt::curve_server, 1);
      s.set(zmq::sockopt::curve_secretkey, curve.secret_key);
      s.set(zmq::sockopt::zap_domain, "nephron");
    }
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::router_mandatory, 1);  // sending to a gone peer fails instead of vanishing
    s.set(zmq::sockopt::sndhwm, 100000);
    s.set(zmq::sockopt::rcvhwm, 100000);
    s.bind(Normalize(endpoint));
    return Socket(std::move(s));
  } catch (const zmq::error_t& e) {
    return Status(StatusCode::kUnavailable, "cannot bind " + endpoint + ": " + e.what());
  }
}

Result<Socket> Socket::ConnectDealer(zmq::context_t& ctx, const std::string& endpoint, const std::string& identity,
                                     const CurveOptions& curve) {
  try {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    if (curve.enabled()) {
      s.set(zmq::sockopt::curve_serverkey, curve.server_public_key);
      s.set(zmq::sockopt::curve_publickey, curve.public_key);
      s.set(zmq::sockopt::curve_secretkey, curve.secret_key);
    }
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::routing_id, identity);
    s.set(zmq::sockopt::sndhwm, 10000);
    s.connect(endpoint);
    return Socket(std::move(s));
  } catch (const zmq::error_t& e) {
    return Status(StatusCode::kInvalidArgument, "cannot connect to " + endpoint + ": " + e.what());
  }
}

Status Socket::Send(const Frames& frames) {
  try {
    for (size_t i = 0; i < frames.size(); ++i) {
      const auto flags = (i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none) |
                         zmq::send_flags::dontwait;
      if (!socket_.send(zmq::buffer(frames[i]), flags))
        return Status(StatusCode::kUnavailable, "send would block (peer not reachable or queue full)");
    }
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Status(StatusCode::kUnavailable, std::string("send failed: ") + e.what());
  }
}

Result<std::optional<Frames>> Socket::Recv(int timeout_ms) {
  try {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
    if (!(item.revents & ZMQ_POLLIN)) return std::optional<Frames>();
    Frames frames;
    while (true) {
      zmq::message_t msg;
      if (!socket_.recv(msg, zmq::recv_flags::dontwait)) break;
      frames.push_back(msg.to_string());
      if (!msg.more()) {
        // Metadata rides on the frames the peer sent (not on ROUTER's routing-id frame).
        const char* user = zmq_msg_gets(msg.handle(), "User-Id");
        last_user_id_ = user != nullptr ? user : "";
        break;
      }
    }
    return std::optional<Frames>(std::move(frames));
  } catch (const zmq::error_t& e) {
    // A signal (SIGTERM to stop the daemon) interrupts the wait: a time-out to
    // the caller, who then checks its stop flag.
    if (e.num() == EINTR) return std::optional<Frames>();
    return Status(StatusCode::kUnavailable, std::string("receive failed: ") + e.what());
  }
}

std::string Socket::endpoint() const {
  try {
    return socket_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t&) {
    return "";
  }
}

std::string ConnectableEndpoint(const std::string& bound, const std::string& host) {
  const std::string any = "0.0.0.0";
  auto pos = bound.find(any);
  if (pos == std::string::npos) return bound;
  return bound.substr(0, pos) + host + bound.substr(pos + any.size());
}

}  // namespace nephron::net
