// nephron-worker: the worker daemon. Thin: flags, then Worker::Run.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cctype>
#include <filesystem>

#include "common/curve.h"
#include "common/device_plugin.h"
#include "common/logging.h"
#include "worker/worker.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// The `nephron` engine binary: --engine, $NEPHRON_ENGINE, next to this
// program, or the build tree's jobs/ folder beside worker/.
std::string FindEngine(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("NEPHRON_ENGINE")) return env;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (const auto& c : {self / "nephron", self.parent_path() / "jobs" / "nephron"})
    if (std::filesystem::exists(c, ec)) return c.string();
  return "";
}

std::string DefaultCacheDir(std::string name) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  std::string base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    base = std::string(h) + "/.cache";
  } else {
    base = "/tmp";
  }
  return base + "/nephron/worker-" + name;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nephron;
  CLI::App app{"nephron-worker: runs preprocessing, training, validation, prediction and evaluation tasks for a "
               "coordinator. One per GPU (or per CPU machine)."};
  worker::WorkerOptions o;
  std::string engine, level = "info", key_file, server_key_file;
  bool insecure = false;
  o.coordinator = "tcp://127.0.0.1:5555";
  app.add_option("--coordinator", o.coordinator, "the coordinator's ZeroMQ endpoint, tcp://HOST:PORT")
      ->capture_default_str();
  app.add_option("--device", o.executor.device, "cpu, cuda:N, or a plugin's device (npu:N with --device-plugin)")
      ->capture_default_str();
  app.add_option("--device-plugin", o.executor.device_plugin,
                 "LibTorch backend library every task loads first (e.g. Ascend's libtorch_npu.so)");
  app.add_option("--name", o.name, "unique worker name (default HOST:DEVICE:PID)");
  app.add_option("--threads", o.executor.threads, "engine threads per task (0 = all cores)")->capture_default_str();
  app.add_option("--engine", engine, "path of the `nephron` binary (default: $NEPHRON_ENGINE, or found beside this one)");
  app.add_option("--key", key_file, "CURVE: this worker's secret key file (from `nephron keygen`)");
  app.add_option("--server-key", server_key_file, "CURVE: the coordinator's public key file (its .pub)");
  app.add_flag("--insecure", insecure, "connect to a non-loopback coordinator over plain TCP");
  double cache_limit_gb = 50;
  app.add_option("--files", o.files,
                 "where task files come from: auto (the coordinator's data root if visible here, else fetch), shared, "
                 "or fetch (over the coordinator link, cached in --cache)")
      ->check(CLI::IsMember({"auto", "shared", "fetch"}))
      ->capture_default_str();
  app.add_option("--cache", o.executor.cache_dir,
                 "folder for fetched task files (default $XDG_CACHE_HOME or ~/.cache, /nephron/worker-NAME)");
  app.add_option("--cache-limit-gb", cache_limit_gb, "least recently used cached files go beyond this size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--protocol-version", o.protocol_version, "speak this protocol version (testing only)")
      ->group("");
  app.add_option("--log-level", level, "debug, info, warn or error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  SetUpLogging(level);
  o.executor.cache_limit_bytes = static_cast<int64_t>(cache_limit_gb * (1LL << 30));
  if (o.executor.cache_dir.empty()) o.executor.cache_dir = DefaultCacheDir(o.name.empty() ? o.executor.device : o.name);
  const std::string& dev = o.executor.device;
  if (!IsBuiltinDevice(dev) && o.executor.device_plugin.empty()) {
    std::fprintf(stderr,
                 "nephron-worker: --device: expected cpu or cuda:N (other accelerators need --device-plugin), got "
                 "'%s'\n",
                 dev.c_str());
    return 2;
  }
  if (key_file.empty() != server_key_file.empty()) {
    std::fprintf(stderr, "nephron-worker: CURVE needs both --key (this worker's .key) and --server-key (the "
                         "coordinator's .pub)\n");
    return 2;
  }
  if (!key_file.empty()) {
    auto keys = net::ReadCurveSecretKey(key_file);
    auto server = keys.ok() ? net::ReadCurvePublicKey(server_key_file) : Result<std::string>(keys.status());
    if (!server.ok()) {
      std::fprintf(stderr, "nephron-worker: %s\n", server.status().message().c_str());
      return 2;
    }
    o.curve.secret_key = keys->secret_key;
    o.curve.public_key = keys->public_key;
    o.curve.server_public_key = *server;
  } else if (!net::IsLoopbackEndpoint(o.coordinator)) {
    if (!insecure) {
      std::fprintf(stderr,
                   "nephron-worker: refusing to connect to %s over plain TCP: pass --key FILE --server-key FILE, "
                   "or accept the risk with --insecure\n",
                   o.coordinator.c_str());
      return 2;
    }
    spdlog::warn("INSECURE: talking to {} over plain TCP (no authentication, no encryption)", o.coordinator);
  }
  o.executor.engine = FindEngine(engine);
  if (o.executor.engine.empty() || access(o.executor.engine.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "nephron-worker: cannot find the `nephron` engine binary (pass --engine PATH)\n");
    return 1;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  worker::Worker w(o);
  Status s = w.Run(&g_stop);
  if (!s.ok()) {
    std::fprintf(stderr, "nephron-worker: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
