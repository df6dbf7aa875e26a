#include "coordinator/client/api_client.h"

#include <httplib.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "common/fs_util.h"

namespace nephron::client {
namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string ExpandHome(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) return Env("HOME") + path.substr(1);
  return path;
}

struct ConfigFile {
  std::string path;
  std::string coordinator, token, token_file;
};

// `key = value` lines; values may be quoted; unknown keys are left to other tools.
ConfigFile ReadConfigFile() {
  ConfigFile c;
  c.path = ConfigFilePath();
  std::ifstream in(c.path);
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0])
      value = value.substr(1, value.size() - 2);
    if (key == "coordinator") c.coordinator = value;
    if (key == "token") c.token = value;
    if (key == "token_file") c.token_file = value;
  }
  return c;
}

std::string Reason(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "could not connect (nothing listens there, or the host is unreachable)";
    case httplib::Error::ConnectionTimeout: return "the connection timed out";
    case httplib::Error::Read: return "the connection closed before an answer came";
    case httplib::Error::Write: return "the request could not be sent";
    case httplib::Error::SSLConnection: return "the TLS handshake failed";
    case httplib::Error::SSLServerVerification: return "its TLS certificate was not accepted";
    default: return "HTTP client error " + httplib::to_string(e);
  }
}

}  // namespace

std::string PathSegment(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

std::string ConfigFilePath() {
  const std::string env = Env("NEPHRON_CONFIG");
  if (!env.empty()) return env;
  return Env("HOME") + "/.config/nephron/config";
}

ClientConfig ResolveClientConfig(const std::string& coordinator_flag, const std::string& token_flag) {
  const ConfigFile file = ReadConfigFile();
  ClientConfig c;
  if (!coordinator_flag.empty()) {
    c.coordinator = coordinator_flag;
  } else if (!Env("NEPHRON_COORDINATOR").empty()) {
    c.coordinator = Env("NEPHRON_COORDINATOR");
  } else if (!file.coordinator.empty()) {
    c.coordinator = file.coordinator;
  }
  if (!token_flag.empty()) {
    c.token = token_flag, c.token_source = "--token";
  } else if (!Env("NEPHRON_TOKEN").empty()) {
    c.token = Env("NEPHRON_TOKEN"), c.token_source = "NEPHRON_TOKEN";
  } else if (!file.token.empty()) {
    c.token = file.token, c.token_source = "token in " + file.path;
  } else if (!file.token_file.empty()) {
    std::filesystem::path p = ExpandHome(file.token_file);
    if (p.is_relative()) p = std::filesystem::path(file.path).parent_path() / p;
    auto text = ReadFile(p.string());
    c.token = text.ok() ? Trim(*text) : "";
    c.token_source = "token_file " + p.string() + (text.ok() ? "" : " (unreadable)");
  }
  return c;
}

struct ApiClient::Http {
  std::unique_ptr<httplib::Client> client;
  Status invalid;  // a URL httplib refused
};

ApiClient::ApiClient(ClientConfig config) : config_(std::move(config)), http_(new Http) {
  std::string url = Trim(config_.coordinator);
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.find("://") == std::string::npos) url = "http://" + url;
  config_.coordinator = url;
  const size_t path_start = url.find('/', url.find("://") + 3);
  if (path_start != std::string::npos) base_path_ = url.substr(path_start);
  try {
    http_->client = std::make_unique<httplib::Client>(url.substr(0, path_start));
  } catch (const std::exception& e) {
    http_->invalid = InvalidArgument("--coordinator: '" + url + "' is not an http:// or https:// URL");
    return;
  }
  if (!http_->client->is_valid()) {
    http_->invalid = InvalidArgument("--coordinator: '" + url + "' is not a usable URL");
    return;
  }
  http_->client->set_connection_timeout(5);
  http_->client->set_read_timeout(60);
  http_->client->set_write_timeout(30);
}

ApiClient::~ApiClient() = default;

namespace {

Result<Json> Answer(const ClientConfig& config, const httplib::Result& r) {
  if (!r) {
    return Status(StatusCode::kUnavailable, "cannot reach the coordinator at " + config.coordinator + ": " +
                                                Reason(r.error()) +
                                                " (start it with nephron-coordinator or pass --coordinator)");
  }
  const Json body = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (r->status >= 200 && r->status < 300) {
    if (body.is_discarded())
      return Internal("the coordinator at " + config.coordinator + " answered HTTP " + std::to_string(r->status) +
                      " with a body that is not JSON");
    return body;
  }
  std::string msg = body.is_object() && body.contains("error") && body["error"].is_string()
                        ? body["error"].get<std::string>()
                        : "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200);
  switch (r->status) {
    case 400: return InvalidArgument(msg);
    case 401:
      return FailedPrecondition(msg + ": the coordinator at " + config.coordinator + " refused the token (from " +
                                config.token_source + "); pass --token, set NEPHRON_TOKEN, or put `token_file = PATH` "
                                "in " + ConfigFilePath());
    case 404: return NotFound(msg);
    case 409: return FailedPrecondition(msg);
    case 503: return Status(StatusCode::kUnavailable, msg);
    default: return Internal("the coordinator answered HTTP " + std::to_string(r->status) + ": " + msg);
  }
}

}  // namespace

Result<Json> ApiClient::Get(const std::string& path) const {
  if (!http_->invalid.ok()) return http_->invalid;
  httplib::Headers h;
  if (!config_.token.empty()) h.emplace("Authorization", "Bearer " + config_.token);
  return Answer(config_, http_->client->Get(base_path_ + path, h));
}

Result<Json> ApiClient::Post(const std::string& path, const Json& body) const {
  if (!http_->invalid.ok()) return http_->invalid;
  httplib::Headers h;
  if (!config_.token.empty()) h.emplace("Authorization", "Bearer " + config_.token);
  return Answer(config_, http_->client->Post(base_path_ + path, h, body.dump(), "application/json"));
}

}  // namespace nephron::client
