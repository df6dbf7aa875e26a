// nephron-coordinator: the daemon. Thin: flags, store, HTTP API, event loop.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "common/fs_util.h"
#include "common/json_util.h"
#include "common/logging.h"
#include "coordinator/coordinator.h"
#include "coordinator/http_api.h"
#include "coordinator/observed_store.h"
#include "coordinator/web_ui.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

bool SplitHostPort(const std::string& s, std::string* host, int* port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = s.substr(0, colon);
  try {
    *port = std::stoi(s.substr(colon + 1));
  } catch (...) {
    return false;
  }
  return !host->empty() && *port >= 0 && *port < 65536;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nephron;
  CLI::App app{"nephron-coordinator: keeps every experiment's state in SQLite, hands tasks to workers over ZeroMQ "
               "and serves the HTTP API and web UI."};
  std::string db = "nephron.db", bind = "tcp://127.0.0.1:5555", http = "127.0.0.1:8470", data_root = ".";
  std::string ready_file, token_file, level = "info";
  int heartbeat_ms = 1000, liveness = 4, grace_ms = 2000;
  bool open_reads = true, insecure = false;
  std::string key_file, authorized_keys;
  app.add_option("--db", db, "SQLite database (created if missing)")->capture_default_str();
  app.add_option("--bind", bind, "ZeroMQ endpoint for workers (port 0: any free port)")->capture_default_str();
  app.add_option("--http", http, "HOST:PORT of the HTTP API and web UI (port 0: any free port)")->capture_default_str();
  app.add_option("--data-root", data_root, "folder that holds the experiments (workers that cannot see it fetch their files over the link)")
      ->capture_default_str();
  app.add_option("--token-file", token_file, "bearer token for state changes (default: DB.token; created if missing)");
  app.add_flag("!--closed-reads", open_reads, "require the token for reads too");
  app.add_option("--key", key_file, "CURVE: the coordinator's secret key file (from `nephron keygen`)");
  app.add_option("--authorized-keys", authorized_keys,
                 "CURVE: directory of the workers' *.pub files; only those workers may connect");
  app.add_flag("--insecure", insecure, "allow plain TCP from workers on a non-loopback --bind (logged loudly)");
  app.add_option("--ready-file", ready_file, "write {\"zmq\", \"http\", \"token_file\", \"pid\"} here once listening");
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval, both ways")->capture_default_str();
  app.add_option("--liveness", liveness, "missed heartbeats before a worker is lost")->capture_default_str();
  app.add_option("--grace-ms", grace_ms, "after a worker is lost, wait this long before requeueing its task")
      ->capture_default_str();
  app.add_option("--log-level", level, "debug, info, warn or error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  SetUpLogging(level);
  net::KeepChunkBuffersInHeap();  // it serves files in MiB chunks
  std::string http_host;
  int http_port = 0;
  if (!SplitHostPort(http, &http_host, &http_port)) {
    std::fprintf(stderr, "nephron-coordinator: --http: expected HOST:PORT, got '%s'\n", http.c_str());
    return 2;
  }
  if (token_file.empty()) token_file = db + ".token";
  auto store = coord::OpenSqliteStore(db);
  if (!store.ok()) {
    std::fprintf(stderr, "nephron-coordinator: %s\n", store.status().message().c_str());
    return 1;
  }
  auto token = coord::LoadOrCreateToken(token_file);
  if (!token.ok()) {
    std::fprintf(stderr, "nephron-coordinator: %s\n", token.status().message().c_str());
    return 1;
  }
  // Every write goes through `observed`, which tells the web UI's event streams.
  coord::ChangeFeed feed;
  coord::ObservedStore observed(store->get(), &feed);
  coord::CoordinatorOptions o;
  o.bind = bind;
  o.key_file = key_file;
  o.authorized_keys = authorized_keys;
  o.insecure = insecure;
  o.data_root = data_root;
  o.scheduler.heartbeat_ms = heartbeat_ms;
  o.scheduler.liveness = liveness;
  o.scheduler.lost_grace_ms = grace_ms;
  coord::Coordinator coordinator(&observed, o);
  Status st = coordinator.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "nephron-coordinator: %s\n", st.message().c_str());
    return 1;
  }
  coord::HttpOptions ho;
  ho.host = http_host;
  ho.port = http_port;
  ho.token = *token;
  ho.open_reads = open_reads;
  coord::HttpApi api(&observed, &coordinator, ho);
  coord::WebUi web_ui(&observed, &feed);
  web_ui.AddRoutes(&api);
  st = api.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "nephron-coordinator: %s\n", st.message().c_str());
    return 1;
  }
  const std::string http_addr = http_host + ":" + std::to_string(api.port());
  spdlog::info("coordinator: workers connect to {}; HTTP API and web UI on http://{}/ ; database {}",
               coordinator.endpoint(), http_addr, db);
  if (!ready_file.empty()) {
    Json r = {{"zmq", coordinator.endpoint()},
              {"http", http_addr},
              {"token_file", std::filesystem::absolute(token_file).string()},
              {"pid", static_cast<int>(getpid())}};
    st = WriteFileAtomic(ready_file, r.dump() + "\n");
    if (!st.ok()) {
      std::fprintf(stderr, "nephron-coordinator: %s\n", st.message().c_str());
      return 1;
    }
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  coordinator.Run(&g_stop);
  web_ui.Stop();
  api.Stop();
  spdlog::info("coordinator stopped");
  return 0;
}
