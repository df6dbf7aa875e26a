// The coordinator's HTTP/JSON API: what the `nephron` client commands, the web
// UI and scripts read and change. Documented endpoint by endpoint in README
// ("HTTP API"); field names are the records' (coordinator/store.h) in
// snake_case, states by name ("pending", "running", ...).
//
//   GET  /api/health                      {"ok", "protocol_version", "version"}
//   GET  /api/experiments                 summaries, newest first
//   GET  /api/experiments/{id}            summary + error, tasks, results, events (last 200)
//   GET  /api/experiments/{id}/metrics    one row per (task, epoch)
//   GET  /api/experiments/{id}/results    the results JSON (404 until evaluation wrote it)
//   GET  /api/experiments/{id}/artifacts  files the tasks wrote: path, task_id, attempt, size, sha256
//   GET  /api/tasks/{id}                  one task
//   GET  /api/tasks/{id}/log?after=&limit=  {"lines": [...], "next": seq to pass as after}
//   GET  /api/workers                     every worker
//   POST /api/experiments                 spec YAML (text/yaml) or {"spec", "source"} -> 201 {"id"}
//   POST /api/experiments/{id}/cancel | /api/tasks/{id}/retry | /api/workers/{name}/drain -> {"ok": true}
//
// Beyond the records' fields: an experiment summary has elapsed_s, progress
// (succeeded tasks plus each running task's own fraction, over all tasks),
// tasks_total/done/running/failed and best_cv_dice (the best EMA pseudo Dice
// of its trainings, null before the first epoch); a worker has
// heartbeat_age_s (by the coordinator's clock); a log page has the task's
// state, so a follower knows when to stop.
//
// Errors are {"error": "..."} with 400 (malformed body, bad id or parameter,
// invalid spec: "problems" lists each), 401 (missing or wrong bearer token),
// 404 (unknown id or endpoint), 409 (the state forbids it), 415 (body type),
// 503 (coordinator unavailable), 500 (anything else; no exception escapes a
// handler, and none of them disturbs the running experiments).
//
// Security: every POST needs "Authorization: Bearer <token>"; GETs too when
// open_reads is false (/api/health is always open); a GET may carry the token
// as ?access_token= instead (EventSource cannot set headers). An empty token refuses
// every request that needs one: there is no unauthenticated write mode.
//
// Threading: reads go straight to the (thread-safe) Store, changes through
// Control; the server runs its own threads. Start/Stop from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "coordinator/control.h"
#include "coordinator/store.h"

namespace httplib {
struct Request;
struct Response;
}

namespace nephron::coord {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;          // 0: an ephemeral port (read it back with port())
  std::string token;     // bearer token for writes (and reads unless open_reads)
  bool open_reads = true;
  // Milliseconds since the epoch, for elapsed times and heartbeat ages;
  // the system clock when empty (tests inject a fixed one).
  std::function<int64_t()> clock_ms;
};

class HttpApi {
 public:
  // `store` and `control` must outlive this object.
  HttpApi(Store* store, Control* control, HttpOptions options);
  ~HttpApi();  // Stop()s
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds host:port (Unavailable naming them if that fails) and serves on a
  // thread of its own until Stop().
  Status Start();
  int port() const;  // the bound port; 0 before Start()
  // Stops serving and joins the server thread; idempotent.
  void Stop();

  // Routes served beside the API (web UI assets, server-sent events), with
  // the API's authentication and error handling: a GET needs the token
  // unless reads are open or `open` is set. Add them before Start().
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  void AddGet(const std::string& pattern, Handler handler, bool open = false);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads the bearer token from `path` (surrounding whitespace trimmed), or, if
// the file does not exist, generates 32 random bytes as 64 hex digits and
// writes them there with mode 0600 (atomically, creating its folder).
// InvalidArgument for an empty token file.
Result<std::string> LoadOrCreateToken(const std::string& path);

}  // namespace nephron::coord
