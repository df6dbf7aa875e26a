// `nephron local`: the whole system on one machine. Starts a coordinator and N
// workers as child processes on loopback (local_daemons.h), submits the spec
// through the HTTP API, prints progress until the experiment ends, then the
// results table; stops the daemons unless --keep-running.
#include <signal.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/fs_util.h"
#include "common/spec.h"
#include "coordinator/client/client_flags.h"
#include "coordinator/client/demo_spec.h"
#include "coordinator/client/format.h"
#include "coordinator/client/local_daemons.h"
#include "coordinator/client/local_monitor.h"
#include "coordinator/client/spec_text.h"
#include "jobs/cli/commands.h"

namespace nephron::cli {
namespace {

namespace fs = std::filesystem;
using client::ApiClient;
using client::ChildProcess;

volatile std::sig_atomic_t g_signal = 0;
void OnSignal(int sig) { g_signal = sig; }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// Sleeps up to `ms`, returning early on Ctrl-C / SIGTERM.
void Nap(int ms) {
  for (int i = 0; i < ms / 50 && !g_signal; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct LocalFlags {
  std::string spec, http = "127.0.0.1:0", workdir = "./nephron-local";
  int workers = 2, threads = 0;
  bool demo = false, keep_running = false;
};

struct Ready {
  std::string zmq, http, token;
};

std::string WithLogTail(const std::string& message, const std::string& log) {
  const std::string tail = client::TailOfFile(log, 15);
  return message + (tail.empty() ? "" : "; last lines of " + log + ":\n" + tail);
}

// Waits for the coordinator's ready file, its exit, or 30 s.
Result<Ready> WaitForReady(ChildProcess& coordinator, const std::string& ready_file) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!FileExists(ready_file)) {
    if (!coordinator.Running())
      return FailedPrecondition(WithLogTail("the coordinator exited before it was ready (" +
                                                client::DescribeExit(coordinator.wait_status()) + ")",
                                            coordinator.log_path()));
    if (g_signal) return Cancelled("interrupted");
    if (std::chrono::steady_clock::now() > deadline)
      return Status(StatusCode::kUnavailable,
                    WithLogTail("the coordinator was not ready after 30 s", coordinator.log_path()));
    Nap(100);
  }
  auto r = ReadJsonFile(ready_file);
  if (!r.ok()) return r.status();
  Ready ready{r->value("zmq", std::string()), r->value("http", std::string()), ""};
  auto token = ReadFile(r->value("token_file", std::string()));
  if (!token.ok()) return token.status().WithContext("reading the coordinator's token");
  ready.token = token->substr(0, token->find_last_not_of(" \r\n\t") + 1);
  return ready;
}

// The address a client on this machine uses for the HTTP API.
std::string ClientUrl(const std::string& http) {
  const size_t colon = http.rfind(':');
  std::string host = http.substr(0, colon);
  if (host == "0.0.0.0" || host == "*" || host.empty()) host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "[::1]";
  return "http://" + host + http.substr(colon);
}

bool DemoDataPresent(const std::string& dir) {
  for (int i = 0; i < client::kDemoCases; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/case_%05d", i);
    if (!FileExists(dir + name + "/imaging.nii.gz") || !FileExists(dir + name + "/segmentation.nii.gz")) return false;
  }
  return true;
}

// Writes the demo data set once (into a temporary folder renamed into place,
// so an interrupted run never leaves a half data set that looks complete).
Status PrepareDemoData(const std::string& self, const std::string& data) {
  if (DemoDataPresent(data)) {
    std::printf("demo data: %s (already there)\n", data.c_str());
    return Status::Ok();
  }
  const std::string tmp = data + ".partial";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  std::printf("demo data: writing %d synthetic cases to %s\n", client::kDemoCases, data.c_str());
  std::fflush(stdout);
  auto st = client::RunForeground(self, {"synth", "--out", tmp, "--cases", std::to_string(client::kDemoCases), "--seed",
                                         std::to_string(client::kDemoSeed), "--size", client::kDemoSize},
                                  &g_signal);
  if (!st.ok()) return st.status();
  if (g_signal) return Cancelled("interrupted");
  if (*st != 0) return Internal("nephron synth failed (" + client::DescribeExit(*st) + ")");
  fs::remove_all(data, ec);
  return RenameInto(tmp, data);
}

// Refuses a workdir whose coordinator from an earlier --keep-running still runs.
Status CheckNoLiveCoordinator(const std::string& ready_file) {
  auto r = ReadJsonFile(ready_file);
  if (!r.ok()) return Status::Ok();
  const int pid = r->value("pid", 0);
  std::error_code ec;
  const std::string exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename().string();
  if (pid > 0 && !ec && exe == "nephron-coordinator")
    return FailedPrecondition("a coordinator from an earlier run (pid " + std::to_string(pid) + ", " +
                              r->value("http", std::string()) + ") still uses this workdir; stop it (kill " +
                              std::to_string(pid) + ") or pass another --workdir");
  return Status::Ok();
}

// Starts the coordinator and the workers; `children[0]` is the coordinator.
Result<Ready> StartDaemons(const LocalFlags& f, const std::string& self, const std::string& work,
                           std::vector<ChildProcess>* children) {
  ASSIGN_OR_RETURN(const std::string coordinator_bin, client::FindDaemon("nephron-coordinator", "coordinator"));
  ASSIGN_OR_RETURN(const std::string worker_bin, client::FindDaemon("nephron-worker", "worker"));
  const std::string ready_file = work + "/coordinator.ready";
  RETURN_IF_ERROR(CheckNoLiveCoordinator(ready_file));
  std::error_code ec;
  fs::remove(ready_file, ec);
  ASSIGN_OR_RETURN(ChildProcess coordinator,
                   ChildProcess::Spawn("coordinator", coordinator_bin,
                                       {"--db", work + "/nephron.db", "--bind", "tcp://127.0.0.1:0", "--http", f.http,
                                        "--data-root", work, "--ready-file", ready_file, "--token-file",
                                        work + "/token"},
                                       work + "/coordinator.log", f.keep_running));
  children->push_back(std::move(coordinator));
  ASSIGN_OR_RETURN(Ready ready, WaitForReady(children->front(), ready_file));
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = f.threads > 0 ? f.threads : std::max(1, static_cast<int>(cores) / f.workers);
  for (int i = 1; i <= f.workers; ++i) {
    const std::string name = "local-" + std::to_string(i);
    ASSIGN_OR_RETURN(ChildProcess w,
                     ChildProcess::Spawn(name, worker_bin,
                                         {"--coordinator", ready.zmq, "--device", "cpu", "--name", name, "--threads",
                                          std::to_string(threads), "--engine", self},
                                         work + "/worker-" + std::to_string(i) + ".log", f.keep_running));
    children->push_back(std::move(w));
  }
  std::printf("coordinator (pid %d) and %d worker%s (%d thread%s each); logs in %s\n", children->front().pid(),
              f.workers, f.workers > 1 ? "s" : "", threads, threads > 1 ? "s" : "", work.c_str());
  return ready;
}

// Follows the experiment until it ends; returns its last snapshot. Cancelled
// on Ctrl-C; an error if the coordinator or every worker died.
Result<Json> Follow(ApiClient& api, int64_t id, std::vector<ChildProcess>& children) {
  client::ExperimentMonitor monitor;
  std::vector<bool> reported(children.size(), false);
  int failures = 0;
  for (;;) {
    if (g_signal) return Cancelled("interrupted");
    if (!children[0].Running())
      return Internal(WithLogTail("the coordinator exited (" + client::DescribeExit(children[0].wait_status()) + ")",
                                  children[0].log_path()));
    int alive = 0;
    for (size_t i = 1; i < children.size(); ++i) {
      if (children[i].Running()) {
        ++alive;
      } else if (!reported[i]) {
        reported[i] = true;
        std::printf("%s\n", WithLogTail("[" + client::ClockTime(NowMs()) + "] worker " + children[i].name() +
                                            " exited (" + client::DescribeExit(children[i].wait_status()) + ")",
                                        children[i].log_path())
                                .c_str());
      }
    }
    if (alive == 0) return Internal("every worker exited; see the logs above");
    auto e = api.Get("/api/experiments/" + std::to_string(id));
    if (!e.ok()) {
      if (++failures >= 30) return e.status();
    } else {
      failures = 0;
      std::fputs(monitor.Update(*e, NowMs()).c_str(), stdout);
      std::fflush(stdout);
      if (e->value("state", std::string("running")) != "running") return *e;
    }
    Nap(1000);
  }
}

// At most `max_lines` lines of `text`, each indented.
std::string Indented(const std::string& text, int max_lines) {
  std::string out;
  size_t start = 0;
  for (int n = 0; n < max_lines && start < text.size(); ++n) {
    const size_t end = text.find('\n', start);
    out += "      " + text.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
    start = end == std::string::npos ? text.size() : end + 1;
  }
  if (start < text.size()) out += "      ...\n";
  return out;
}

// The last lines of a failed task's log.
std::string LogTail(ApiClient& api, int64_t task, size_t lines) {
  std::vector<std::string> all;
  int64_t after = 0;
  for (int page = 0; page < 100; ++page) {
    auto r = api.Get("/api/tasks/" + std::to_string(task) + "/log?after=" + std::to_string(after) + "&limit=5000");
    if (!r.ok() || (*r)["lines"].empty()) break;
    for (const auto& l : (*r)["lines"]) all.push_back(l.value("line", std::string()));
    after = r->value("next", after);
  }
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "    | " + all[i] + "\n";
  return out;
}

// The end of a run: results table, results.json, failed tasks. Exit code.
int Report(ApiClient& api, const Json& e) {
  const int64_t id = e.value("id", int64_t{0});
  const std::string state = e.value("state", std::string());
  auto results = api.Get("/api/experiments/" + std::to_string(id) + "/results");
  if (results.ok()) {
    std::printf("\n%s", client::ResultsTable(*results).c_str());
    const std::string dir = e.value("dir", std::string());
    if (!dir.empty() && !FileExists(dir + "/results.json")) {
      Status st = WriteJsonFile(dir + "/results.json", *results);
      if (!st.ok()) std::fprintf(stderr, "nephron local: %s\n", st.message().c_str());
    }
  }
  std::printf("\nexperiment %lld %s: %s after %s\n", static_cast<long long>(id), e.value("name", std::string()).c_str(),
              state.c_str(), client::Duration(e.value("elapsed_s", 0.0)).c_str());
  if (state == "succeeded") return 0;
  bool any_failed = false;
  for (const auto& t : e.value("tasks", Json::array())) {
    if (t.value("state", std::string()) != "failed") continue;
    any_failed = true;
    const std::string error = t.value("error", std::string());
    std::printf("  task %lld %s failed (attempt %lld):\n%s", static_cast<long long>(t.value("id", int64_t{0})),
                t.value("name", std::string()).c_str(), static_cast<long long>(t.value("attempt", int64_t{0})),
                Indented(error, 12).c_str());
    // The end of its log, unless the error already quotes it.
    const std::string tail = LogTail(api, t.value("id", int64_t{0}), 10);
    const std::string last = tail.substr(tail.rfind("| ", tail.size() - 2) + 2);
    if (!tail.empty() && error.find(last.substr(0, last.size() - 1)) == std::string::npos)
      std::printf("    log:\n%s", tail.c_str());
  }
  if (!any_failed && !e.value("error", std::string()).empty())
    std::printf("error:\n%s", Indented(e.value("error", std::string()), 12).c_str());
  return 1;
}

// A workdir's database may hold experiments of an earlier, killed run: the
// coordinator resumes them, and they share the workers with this one.
void NoteEarlierExperiments(ApiClient& api) {
  auto list = api.Get("/api/experiments");
  if (!list.ok()) return;
  for (const auto& e : *list) {
    if (e.value("state", std::string()) != "running") continue;
    const long long id = e.value("id", 0LL);
    std::printf("note: experiment %lld (%s) of an earlier run in this workdir runs again; stop it with "
                "nephron cancel %lld --coordinator %s\n",
                id, e.value("name", std::string()).c_str(), id, api.url().c_str());
  }
}

void PrintKeepRunning(const Ready& ready, const std::string& work, std::vector<ChildProcess>& children) {
  std::string pids;
  for (auto& c : children)
    if (c.Running()) pids += " " + std::to_string(c.pid());
  std::printf("\nthe daemons keep running:\n"
              "  web UI and API:  %s/#token=%s\n"
              "  client commands: nephron status --coordinator %s   (token: %s/token)\n"
              "  more workers:    nephron-worker --coordinator %s\n"
              "  stop them:       kill%s\n",
              ClientUrl(ready.http).c_str(), ready.token.c_str(), ClientUrl(ready.http).c_str(), work.c_str(),
              ready.zmq.c_str(),
              pids.c_str());
}

int ParseLocalFlags(int argc, char** argv, LocalFlags* f) {
  CLI::App app{"Run an experiment on this machine: a coordinator and N workers as child processes on loopback,\n"
               "the web UI on --http, progress lines here, the results table at the end. Exit code 0 only if the\n"
               "experiment succeeded; Ctrl-C cancels it (exit 130). State lives in WORKDIR (nephron.db, logs).",
               "nephron local"};
  app.add_option("SPEC", f->spec, "the job spec (YAML); not with --demo");
  app.add_option("--workers", f->workers, "number of workers")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--http", f->http, "HOST:PORT of the web UI and API (port 0: any free port)")->capture_default_str();
  app.add_option("--workdir", f->workdir, "database, logs, token and experiments")->capture_default_str();
  app.add_option("--threads", f->threads, "engine threads per worker (default: cores / workers)");
  app.add_flag("--demo", f->demo, "generate the synthetic demo data set (once) and run the built-in demo spec");
  app.add_flag("--keep-running", f->keep_running, "leave the coordinator and workers running at the end");
  if (int rc = client::ParseFlags(app, argc, argv); rc >= 0) return rc;
  if (f->demo == !f->spec.empty()) {
    std::fprintf(stderr, "nephron local: give a SPEC.yaml or --demo (not both)\n%s", app.help().c_str());
    return 2;
  }
  return -1;
}

struct SpecToRun {
  std::string text, source;
};

// The spec to submit (with --demo, after writing the data set). The daemons
// are this build too, so an invalid spec is rejected before they start.
Result<SpecToRun> PrepareSpec(const LocalFlags& f, const std::string& self, const std::string& work) {
  SpecToRun s{"", "demo.yaml"};
  if (f.demo) {
    RETURN_IF_ERROR(PrepareDemoData(self, work + "/data"));
    s.text = client::DemoSpec(work + "/data");
  } else {
    ASSIGN_OR_RETURN(s.text, client::ReadSpecForSubmit(f.spec));
    s.source = fs::path(f.spec).filename().string();
  }
  if (auto parsed = ParseJobSpec(s.text, s.source); !parsed.ok()) return parsed.status();
  return s;
}

// Submits, follows and reports; the daemons run. Exit code.
int RunExperiment(ApiClient& api, const std::string& token, const SpecToRun& spec,
                  std::vector<ChildProcess>& children) {
  NoteEarlierExperiments(api);
  auto id = api.Post("/api/experiments", Json{{"spec", spec.text}, {"source", spec.source}});
  if (!id.ok() && id.status().code() == StatusCode::kInvalidArgument) {
    std::fprintf(stderr, "nephron local: the coordinator rejected %s:\n%s\n", spec.source.c_str(),
                 id.status().message().c_str());
    return 1;
  }
  if (!id.ok()) return client::Fail("local", id.status());
  const long long exp = (*id)["id"].get<int64_t>();
  // The fragment never reaches the server: the page keeps the token (for its
  // cancel/retry/drain buttons) and drops it from the address bar.
  std::printf("web UI: %s/#token=%s\nexperiment %lld submitted (nephron status %lld --coordinator %s)\n",
              api.url().c_str(), token.c_str(), exp, exp, api.url().c_str());
  std::fflush(stdout);
  auto last = Follow(api, exp, children);
  if (last.ok()) return Report(api, *last);
  if (!g_signal) return client::Fail("local", last.status());
  std::printf("\ninterrupted: cancelling experiment %lld and stopping the daemons\n", exp);
  auto c = api.Post("/api/experiments/" + std::to_string(exp) + "/cancel");
  if (!c.ok()) std::fprintf(stderr, "nephron local: could not cancel: %s\n", c.status().message().c_str());
  return 128 + g_signal;
}

}  // namespace

int RunLocal(int argc, char** argv) {
  LocalFlags f;
  if (int rc = ParseLocalFlags(argc, argv, &f); rc >= 0) return rc;
  const std::string work = fs::absolute(f.workdir).lexically_normal().string();
  const std::string self = client::SelfExe();
  if (Status st = MakeDirs(work); !st.ok()) return client::Fail("local", st);
  InstallSignalHandlers();
  auto spec = PrepareSpec(f, self, work);
  if (g_signal) return 128 + g_signal;
  if (!spec.ok()) return client::Fail("local", spec.status());

  std::vector<ChildProcess> children;
  auto ready = StartDaemons(f, self, work, &children);
  int rc = 1;
  if (ready.ok()) {
    client::ClientConfig config;
    config.coordinator = ClientUrl(ready->http);
    config.token = ready->token;
    config.token_source = work + "/token";
    ApiClient api(config);
    rc = RunExperiment(api, ready->token, *spec, children);
  } else if (!g_signal) {
    client::Fail("local", ready.status());
  }
  if (g_signal) rc = 128 + g_signal;
  if (ready.ok() && f.keep_running && !g_signal && children[0].Running()) {
    PrintKeepRunning(*ready, work, children);
  } else {
    client::StopChildren(children, std::chrono::seconds(10));
  }
  return rc;
}

}  // namespace nephron::cli
