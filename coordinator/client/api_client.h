// The client side of the coordinator's HTTP/JSON API (coordinator/http_api.h),
// used by the `nephron` client commands and by `nephron local`.
//
// Where the coordinator is and which token to send, first found wins:
//   coordinator: --coordinator URL, $NEPHRON_COORDINATOR, `coordinator = URL`
//                in the config file, http://127.0.0.1:8470
//   token:       --token, $NEPHRON_TOKEN, `token = ...` in the config file,
//                the contents of `token_file = PATH` in the config file
// The config file is $NEPHRON_CONFIG, else ~/.config/nephron/config: lines of
// `key = value`, `#` comments; a relative token_file is relative to it.
//
// Errors come back as Status: Unavailable "cannot reach the coordinator at
// URL: ..." when nothing answers; otherwise the server's {"error"} message
// with the code its HTTP status maps to (400 InvalidArgument, 401
// FailedPrecondition naming where the token came from, 404 NotFound, 409
// FailedPrecondition, 5xx Internal/Unavailable).
//
// Not thread-safe: one ApiClient per thread.
#pragma once

#include <memory>
#include <string>

#include "common/json_util.h"
#include "common/status.h"

namespace nephron::client {

inline constexpr char kDefaultCoordinator[] = "http://127.0.0.1:8470";

struct ClientConfig {
  std::string coordinator = kDefaultCoordinator;  // base URL
  std::string token;
  std::string token_source = "none";  // for messages: "--token", "NEPHRON_TOKEN", "token_file PATH", ...
};

// Percent-encodes one path segment (a worker name) for a URL.
std::string PathSegment(const std::string& text);

// $NEPHRON_CONFIG, else ~/.config/nephron/config (may not exist).
std::string ConfigFilePath();
// Fills in what the flags leave empty from the environment and the config file.
ClientConfig ResolveClientConfig(const std::string& coordinator_flag, const std::string& token_flag);

class ApiClient {
 public:
  explicit ApiClient(ClientConfig config);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // `path` starts with /api/. The parsed JSON body of a 2xx answer.
  Result<Json> Get(const std::string& path) const;
  Result<Json> Post(const std::string& path, const Json& body = Json::object()) const;

  const std::string& url() const { return config_.coordinator; }

 private:
  ClientConfig config_;
  std::string base_path_;  // a path prefix in the URL (behind a reverse proxy)
  struct Http;
  std::unique_ptr<Http> http_;
};

}  // namespace nephron::client
