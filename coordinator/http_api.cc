#include "coordinator/http_api.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <thread>

#include "common/fs_util.h"
#include "common/json_util.h"
#include "common/protocol.h"
#include "coordinator/http_util.h"

namespace nephron::coord {
namespace {

using httplib::Request;
using httplib::Response;

constexpr char kVersion[] = "0.1.0";
constexpr int kEventsInDetail = 200;
constexpr int kDefaultLogLimit = 1000;
constexpr int kMaxLogLimit = 5000;
constexpr size_t kMaxBodyBytes = 4 << 20;  // a spec is a few KiB
constexpr size_t kServerThreads = 48;      // web UI event streams take at most 32 (web_ui.cc)

bool TokensEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// null for "" (not written yet) and for text that is not JSON.
Json ParsedOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? Json(nullptr) : j;
}

Json TaskJson(const TaskRecord& t) {
  return Json{{"id", t.id},
              {"experiment_id", t.experiment_id},
              {"kind", t.kind},
              {"name", t.name},
              {"fold", t.fold},
              {"shard", t.shard},
              {"num_shards", t.num_shards},
              {"deps", t.deps},
              {"device_kind", t.device_kind},
              {"memory_mb", t.memory_mb},
              {"max_attempts", t.max_attempts},
              {"state", TaskStateName(t.state)},
              {"attempt", t.attempt},
              {"worker", t.worker},
              {"created_ms", t.created_ms},
              {"started_ms", t.started_ms},
              {"finished_ms", t.finished_ms},
              {"not_before_ms", t.not_before_ms},
              {"error", t.error},
              {"permanent_error", t.permanent_error},
              {"progress", t.progress},
              {"progress_message", t.progress_message}};
}

Json WorkerJson(const WorkerRecord& w, int64_t now_ms) {
  return Json{{"name", w.name},
              {"host", w.host},
              {"device", w.device},
              {"memory_mb", w.memory_mb},
              {"threads", w.threads},
              {"engine_version", w.engine_version},
              {"state", w.state},
              {"draining", w.draining},
              {"task", w.task},
              {"attempt", w.attempt},
              {"registered_ms", w.registered_ms},
              {"last_heartbeat_ms", w.last_heartbeat_ms},
              // The server's clock, so that clients on other machines need not agree with it.
              {"heartbeat_age_s", w.last_heartbeat_ms > 0 ? Json((now_ms - w.last_heartbeat_ms) / 1000.0) : Json(nullptr)},
              {"tasks_done", w.tasks_done},
              {"key", w.key_name},
              {"files", w.files}};
}

Json MetricJson(const MetricRecord& m) {
  return Json{{"task_id", m.task_id}, {"fold", m.fold},         {"epoch", m.epoch},
              {"attempt", m.attempt}, {"train_loss", m.train_loss}, {"val_loss", m.val_loss},
              {"dice", m.dice},       {"ema_dice", m.ema_dice},  {"lr", m.lr},
              {"seconds", m.seconds}};
}

// The list view of an experiment; `tasks` and `metrics` are its own.
Json SummaryJson(const ExperimentRecord& e, const std::vector<TaskRecord>& tasks,
                 const std::vector<MetricRecord>& metrics, int64_t now_ms) {
  int done = 0, running = 0, failed = 0;
  double progress_sum = 0;
  std::map<int64_t, bool> is_train;
  for (const auto& t : tasks) {
    is_train[t.id] = t.kind == "train";
    if (t.state == TaskState::kSucceeded) ++done, progress_sum += 1;
    if (t.state == TaskState::kRunning) ++running, progress_sum += std::clamp(t.progress, 0.0, 1.0);
    if (t.state == TaskState::kFailed) ++failed;
  }
  Json best = nullptr;
  for (const auto& m : metrics) {
    if (!is_train[m.task_id] || !(m.ema_dice == m.ema_dice)) continue;  // skip NaN
    if (best.is_null() || m.ema_dice > best.get<double>()) best = m.ema_dice;
  }
  const int64_t end_ms = e.finished_ms > 0 ? e.finished_ms : now_ms;
  return Json{{"id", e.id},
              {"name", e.name},
              {"state", ExperimentStateName(e.state)},
              {"dir", e.dir},
              {"created_ms", e.created_ms},
              {"finished_ms", e.finished_ms},
              {"elapsed_s", std::max<int64_t>(0, end_ms - e.created_ms) / 1000.0},
              {"progress", tasks.empty() ? 0.0 : progress_sum / tasks.size()},
              {"tasks_total", tasks.size()},
              {"tasks_done", done},
              {"tasks_running", running},
              {"tasks_failed", failed},
              {"best_cv_dice", best}};
}

}  // namespace

struct HttpApi::Impl {
  Store* store;
  Control* control;
  HttpOptions opt;
  httplib::Server server;
  std::thread thread;
  int port = 0;

  using Handler = std::function<void(const Request&, Response&)>;

  int64_t Now() const {
    if (opt.clock_ms) return opt.clock_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  bool Authorized(const Request& req) const {
    if (opt.token.empty()) return false;
    if (req.method == "GET" && req.has_param("access_token"))
      return TokensEqual(req.get_param_value("access_token"), opt.token);
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.compare(0, prefix.size(), prefix) != 0) return false;
    return TokensEqual(header.substr(prefix.size()), opt.token);
  }

  // Every handler goes through here: authentication, then the handler with
  // every exception turned into a 500.
  Handler Wrap(bool needs_token, Handler h) {
    return [this, needs_token, h = std::move(h)](const Request& req, Response& res) {
      if (needs_token && !Authorized(req)) {
        res.set_header("WWW-Authenticate", "Bearer");
        return SendError(res, 401,
                         req.has_header("Authorization") || req.has_param("access_token") ? "bad bearer token"
                                                         : "missing bearer token (Authorization: Bearer <token>)");
      }
      try {
        h(req, res);
      } catch (const std::exception& e) {
        SendError(res, 500, std::string("internal error: ") + e.what());
      } catch (...) {
        SendError(res, 500, "internal error");
      }
    };
  }
  void Get(const char* pattern, Handler h) { server.Get(pattern, Wrap(!opt.open_reads, std::move(h))); }
  void Post(const char* pattern, Handler h) { server.Post(pattern, Wrap(true, std::move(h))); }

  // Parses req.matches[1] as an id; answers 400 and returns false if it is not one.
  static bool IdFrom(const Request& req, Response& res, const char* what, int64_t* id) {
    if (ParseInt64(req.matches[1].str(), id) && *id > 0) return true;
    SendError(res, 400, std::string("bad ") + what + " id '" + req.matches[1].str() + "'");
    return false;
  }

  Json LastEvents(int64_t experiment_id) {
    std::deque<Json> last;
    int64_t after = 0;
    for (;;) {
      auto page = store->Events(experiment_id, after, 1000);
      if (!page.ok() || page->empty()) break;
      for (const auto& ev : *page) {
        last.push_back(Json{{"seq", ev.seq}, {"task_id", ev.task_id}, {"ts_ms", ev.ts_ms}, {"text", ev.text}});
        if (last.size() > kEventsInDetail) last.pop_front();
      }
      after = page->back().seq;
      if (page->size() < 1000) break;
    }
    Json out = Json::array();
    for (auto& ev : last) out.push_back(std::move(ev));
    return out;
  }

  void ListExperiments(Response& res) {
    auto exps = store->ListExperiments();
    if (!exps.ok()) return SendStatus(res, exps.status());
    Json out = Json::array();
    const int64_t now = Now();
    for (const auto& e : *exps) {
      auto tasks = store->ListTasks(e.id);
      auto metrics = store->Metrics(e.id);
      if (!tasks.ok()) return SendStatus(res, tasks.status());
      if (!metrics.ok()) return SendStatus(res, metrics.status());
      out.push_back(SummaryJson(e, *tasks, *metrics, now));
    }
    SendJson(res, 200, out);
  }

  void GetExperiment(const Request& req, Response& res) {
    int64_t id;
    if (!IdFrom(req, res, "experiment", &id)) return;
    auto e = store->GetExperiment(id);
    if (!e.ok()) return SendStatus(res, e.status());
    auto tasks = store->ListTasks(id);
    auto metrics = store->Metrics(id);
    if (!tasks.ok()) return SendStatus(res, tasks.status());
    if (!metrics.ok()) return SendStatus(res, metrics.status());
    Json out = SummaryJson(*e, *tasks, *metrics, Now());
    out["error"] = e->error;
    out["tasks"] = Json::array();
    for (const auto& t : *tasks) out["tasks"].push_back(TaskJson(t));
    out["results"] = ParsedOrNull(e->results_json);
    out["events"] = LastEvents(id);
    SendJson(res, 200, out);
  }

  void GetMetrics(const Request& req, Response& res) {
    int64_t id;
    if (!IdFrom(req, res, "experiment", &id)) return;
    auto e = store->GetExperiment(id);
    if (!e.ok()) return SendStatus(res, e.status());
    auto metrics = store->Metrics(id);
    if (!metrics.ok()) return SendStatus(res, metrics.status());
    Json out = Json::array();
    for (const auto& m : *metrics) out.push_back(MetricJson(m));
    SendJson(res, 200, out);
  }

  void GetArtifacts(const Request& req, Response& res) {
    int64_t id;
    if (!IdFrom(req, res, "experiment", &id)) return;
    auto e = store->GetExperiment(id);
    if (!e.ok()) return SendStatus(res, e.status());
    auto artifacts = store->Artifacts(id);
    if (!artifacts.ok()) return SendStatus(res, artifacts.status());
    Json out = Json::array();
    for (const auto& a : *artifacts)
      out.push_back({{"path", a.path}, {"task_id", a.task_id}, {"attempt", a.attempt}, {"size", a.size},
                     {"sha256", a.sha256}});
    SendJson(res, 200, out);
  }

  void GetResults(const Request& req, Response& res) {
    int64_t id;
    if (!IdFrom(req, res, "experiment", &id)) return;
    auto e = store->GetExperiment(id);
    if (!e.ok()) return SendStatus(res, e.status());
    if (e->results_json.empty())
      return SendError(res, 404,
                       "experiment " + std::to_string(id) + " has no results yet (it is " +
                           ExperimentStateName(e->state) + "; evaluation writes them)");
    Json parsed = ParsedOrNull(e->results_json);
    if (parsed.is_null()) return SendError(res, 500, "the stored results of experiment " + std::to_string(id) +
                                                         " are not valid JSON");
    SendJson(res, 200, parsed);
  }

  void GetTask(const Request& req, Response& res) {
    int64_t id;
    if (!IdFrom(req, res, "task", &id)) return;
    auto t = store->GetTask(id);
    if (!t.ok()) return SendStatus(res, t.status());
    SendJson(res, 200, TaskJson(*t));
  }

  void GetLog(const Request& req, Response& res) {
    int64_t id, after = 0, limit = kDefaultLogLimit;
    if (!IdFrom(req, res, "task", &id)) return;
    if (req.has_param("after") && !ParseInt64(req.get_param_value("after"), &after))
      return SendError(res, 400, "after: expected a log sequence number >= 0, got '" +
                                     req.get_param_value("after") + "'");
    if (req.has_param("limit") && (!ParseInt64(req.get_param_value("limit"), &limit) || limit == 0))
      return SendError(res, 400, "limit: expected a number of lines >= 1, got '" + req.get_param_value("limit") + "'");
    limit = std::min<int64_t>(limit, kMaxLogLimit);
    auto task = store->GetTask(id);
    if (!task.ok()) return SendStatus(res, task.status());
    auto lines = store->Logs(id, after, static_cast<int>(limit));
    if (!lines.ok()) return SendStatus(res, lines.status());
    Json out{{"lines", Json::array()}, {"next", after}, {"state", TaskStateName(task->state)}};
    for (const auto& l : *lines)
      out["lines"].push_back(Json{{"seq", l.seq}, {"ts_ms", l.ts_ms}, {"attempt", l.attempt}, {"line", l.line}});
    if (!lines->empty()) out["next"] = lines->back().seq;
    SendJson(res, 200, out);
  }

  void ListWorkers(Response& res) {
    auto workers = store->ListWorkers();
    if (!workers.ok()) return SendStatus(res, workers.status());
    Json out = Json::array();
    const int64_t now = Now();
    for (const auto& w : *workers) out.push_back(WorkerJson(w, now));
    SendJson(res, 200, out);
  }

  void Submit(const Request& req, Response& res) {
    std::string type = req.get_header_value("Content-Type");
    type = type.substr(0, type.find(';'));
    std::string spec, source = "submitted spec";
    if (type == "application/json") {
      Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
      if (body.is_discarded()) return SendError(res, 400, "malformed JSON in the request body");
      if (!body.is_object() || !body.contains("spec") || !body["spec"].is_string())
        return SendError(res, 400, "expected {\"spec\": \"<the spec YAML>\", \"source\": \"name.yaml\"}");
      spec = body["spec"].get<std::string>();
      if (body.contains("source") && body["source"].is_string()) source = body["source"].get<std::string>();
    } else if (type.empty() || type == "text/yaml" || type == "application/x-yaml" ||
               type == "application/yaml" || type == "text/plain") {
      spec = req.body;
      if (req.has_param("source")) source = req.get_param_value("source");
    } else {
      return SendError(res, 415, "unsupported Content-Type '" + type +
                                     "': send the spec as text/yaml or as JSON {\"spec\", \"source\"}");
    }
    auto id = control->Submit(spec, source);
    if (!id.ok()) return SendStatus(res, id.status());
    SendJson(res, 201, Json{{"id", *id}});
  }

  void SendOk(Response& res, const Status& st) {
    if (!st.ok()) return SendStatus(res, st);
    SendJson(res, 200, Json{{"ok", true}});
  }

  void RegisterRoutes() {
    // Always open, even when reads need the token (liveness probes).
    server.Get("/api/health", Wrap(false, [](const Request&, Response& res) {
      SendJson(res, 200, Json{{"ok", true}, {"protocol_version", proto::kProtocolVersion}, {"version", kVersion}});
    }));
    Get("/api/experiments", [this](const Request&, Response& res) { ListExperiments(res); });
    Get(R"(/api/experiments/([^/]+))", [this](const Request& q, Response& r) { GetExperiment(q, r); });
    Get(R"(/api/experiments/([^/]+)/metrics)", [this](const Request& q, Response& r) { GetMetrics(q, r); });
    Get(R"(/api/experiments/([^/]+)/results)", [this](const Request& q, Response& r) { GetResults(q, r); });
    Get(R"(/api/experiments/([^/]+)/artifacts)", [this](const Request& q, Response& r) { GetArtifacts(q, r); });
    Get(R"(/api/tasks/([^/]+))", [this](const Request& q, Response& r) { GetTask(q, r); });
    Get(R"(/api/tasks/([^/]+)/log)", [this](const Request& q, Response& r) { GetLog(q, r); });
    Get("/api/workers", [this](const Request&, Response& res) { ListWorkers(res); });
    Post("/api/experiments", [this](const Request& q, Response& r) { Submit(q, r); });
    Post(R"(/api/experiments/([^/]+)/cancel)", [this](const Request& q, Response& r) {
      int64_t id;
      if (IdFrom(q, r, "experiment", &id)) SendOk(r, control->Cancel(id));
    });
    Post(R"(/api/tasks/([^/]+)/retry)", [this](const Request& q, Response& r) {
      int64_t id;
      if (IdFrom(q, r, "task", &id)) SendOk(r, control->Retry(id));
    });
    Post(R"(/api/workers/([^/]+)/drain)", [this](const Request& q, Response& r) {
      SendOk(r, control->Drain(q.matches[1].str()));
    });
    // Unrouted paths and errors without a body of their own get a JSON reason.
    server.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      SendError(res, res.status, res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                                                   : "HTTP " + std::to_string(res.status));
      return httplib::Server::HandlerResponse::Handled;
    }));
    server.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
      SendError(res, 500, "internal error");
    });
    server.set_payload_max_length(kMaxBodyBytes);
    // Each open event stream holds a thread: leave plenty for requests.
    server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
    // httplib's default is SO_REUSEPORT, which lets a second coordinator bind
    // the same port and silently share the traffic; SO_REUSEADDR only allows
    // a restart while old connections linger.
    server.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
  }
};

HttpApi::HttpApi(Store* store, Control* control, HttpOptions options) : impl_(new Impl) {
  impl_->store = store;
  impl_->control = control;
  impl_->opt = std::move(options);
}

HttpApi::~HttpApi() { Stop(); }

void HttpApi::AddGet(const std::string& pattern, Handler handler, bool open) {
  impl_->server.Get(pattern, impl_->Wrap(!open && !impl_->opt.open_reads, std::move(handler)));
}

int HttpApi::port() const { return impl_->port; }

Status HttpApi::Start() {
  Impl& m = *impl_;
  if (m.thread.joinable()) return FailedPrecondition("the HTTP API is already serving");
  m.RegisterRoutes();
  errno = 0;
  const int port = m.opt.port == 0 ? m.server.bind_to_any_port(m.opt.host)
                                   : (m.server.bind_to_port(m.opt.host, m.opt.port) ? m.opt.port : -1);
  if (port <= 0) {
    const std::string why = errno != 0 ? std::strerror(errno) : "the address is in use or not local";
    return Status(StatusCode::kUnavailable, "cannot serve the HTTP API on " + m.opt.host + ":" +
                                                std::to_string(m.opt.port) + ": " + why);
  }
  m.port = port;
  m.thread = std::thread([&m] { m.server.listen_after_bind(); });
  // Server::stop() only works once the accept loop runs; wait for it so that
  // an immediate Stop() cannot hang.
  for (int i = 0; i < 5000 && !m.server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::Ok();
}

void HttpApi::Stop() {
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  m.server.stop();
  m.thread.join();
}

Result<std::string> LoadOrCreateToken(const std::string& path) {
  auto trim = [](std::string s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return std::string();
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
  };
  if (FileExists(path)) {
    auto text = ReadFile(path);
    if (!text.ok()) return text.status();
    std::string token = trim(*text);
    if (token.empty()) return InvalidArgument("token file " + path + " is empty");
    return token;
  }
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Internal(std::string("getrandom failed: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) token += {kHex[b >> 4], kHex[b & 15]};

  const std::string parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) RETURN_IF_ERROR(MakeDirs(parent));
  const std::string tmp = TempPathFor(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot create token file " + tmp + ": " + std::strerror(errno));
  const std::string line = token + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return Internal("cannot write token file " + tmp + ": " + std::strerror(errno));
  }
  // link() never replaces: if another process created the token meanwhile, use theirs.
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0 && link_errno == EEXIST) return LoadOrCreateToken(path);
  if (linked != 0) return Internal("cannot create token file " + path + ": " + std::strerror(link_errno));
  return token;
}

}  // namespace nephron::coord
