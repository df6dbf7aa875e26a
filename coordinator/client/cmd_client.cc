// The `nephron` commands that talk to a running coordinator over its HTTP API:
// submit, status, logs, cancel, retry, workers, results, drain.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "coordinator/client/client_flags.h"
#include "coordinator/client/format.h"
#include "coordinator/client/spec_text.h"
#include "jobs/cli/commands.h"

namespace nephron::cli {

using client::ApiClient;
using client::ConnectionFlags;
using client::Fail;
using client::ParseFlags;

int RunSubmit(int argc, char** argv) {
  CLI::App app{"Submit a job spec to the coordinator; prints the new experiment's id.\n"
               "A relative dataset.root is resolved against the spec file's folder first.",
               "nephron submit"};
  std::string spec_path;
  ConnectionFlags conn;
  app.add_option("SPEC", spec_path, "the job spec (YAML)")->required();
  AddConnectionFlags(app, &conn);
  if (int rc = ParseFlags(app, argc, argv); rc >= 0) return rc;
  auto spec = client::ReadSpecForSubmit(spec_path);
  if (!spec.ok()) return Fail("submit", spec.status());
  ApiClient api(conn.Resolve());
  const std::string source = std::filesystem::path(spec_path).filename().string();
  auto r = api.Post("/api/experiments", Json{{"spec", *spec}, {"source", source}});
  if (!r.ok() && r.status().code() == StatusCode::kInvalidArgument) {
    std::fprintf(stderr, "nephron submit: the coordinator rejected %s:\n%s\n", spec_path.c_str(),
                 r.status().message().c_str());
    return 1;
  }
  if (!r.ok()) return Fail("submit", r.status());
  const std::string id = client::Str((*r)["id"]);
  std::printf("%s\n", id.c_str());
  std::fprintf(stderr, "submitted %s as experiment %s; follow it with: nephron status %s\n", spec_path.c_str(),
               id.c_str(), id.c_str());
  return 0;
}

int RunStatus(int argc, char** argv) {
  CLI::App app{"Without EXP: every experiment (newest first). With EXP: its task graph by stage, with state,\n"
               "attempt, worker, progress and, for trainings, the latest epoch's pseudo Dice.",
               "nephron status"};
  int64_t exp = 0;
  ConnectionFlags conn;
  app.add_option("EXP", exp, "experiment id");
  AddConnectionFlags(app, &conn);
  if (int rc = ParseFlags(app, argc, argv); rc >= 0) return rc;
  ApiClient api(conn.Resolve());
  if (exp == 0) {
    auto list = api.Get("/api/experiments");
    if (!list.ok()) return Fail("status", list.status());
    std::fputs(client::ExperimentsTable(*list).c_str(), stdout);
    return 0;
  }
  const std::string base = "/api/experiments/" + std::to_string(exp);
  auto detail = api.Get(base);
  if (!detail.ok()) return Fail("status", detail.status());
  auto metrics = api.Get(base + "/metrics");
  if (!metrics.ok()) return Fail("status", metrics.status());
  std::fputs(client::ExperimentStatus(*detail, *metrics).c_str(), stdout);
  return 0;
}

int RunLogs(int argc, char** argv) {
  CLI::App app{"Print a task's log; with -f, keep printing new lines until the task has finished.",
               "nephron logs"};
  int64_t task = 0;
  bool follow = false;
  ConnectionFlags conn;
  app.add_option("TASK", task, "task id (nephron status EXP lists them)")->required();
  app.add_flag("-f,--follow", follow, "follow the log (polls every 0.5 s) until the task is finished");
  AddConnectionFlags(app, &conn);
  if (int rc = ParseFlags(app, argc, argv); rc >= 0) return rc;
  ApiClient api(conn.Resolve());
  constexpr int kPage = 5000;
  int64_t after = 0;
  int64_t attempt = -1;
  for (;;) {
    auto page = api.Get("/api/tasks/" + std::to_string(task) + "/log?after=" + std::to_string(after) +
                        "&limit=" + std::to_string(kPage));
    if (!page.ok()) return Fail("logs", page.status());
    const Json& lines = (*page)["lines"];
    for (const auto& l : lines) {
      const int64_t a = l.value("attempt", int64_t{0});
      if (attempt >= 0 && a != attempt) std::printf("--- attempt %lld ---\n", static_cast<long long>(a));
      attempt = a;
      std::printf("%s\n", l.value("line", std::string()).c_str());
    }
    std::fflush(stdout);
    after = page->value("next", after);
    if (static_cast<int>(lines.size()) == kPage) continue;  // more waiting
    const std::string state = page->value("state", std::string());
    if (!follow || state == "succeeded" || state == "failed" || state == "cancelled") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return 0;
}

int RunCancel(int argc, char** argv) {
  CLI::App app{"Cancel an experiment: its pending tasks never run, its running tasks stop (trainings keep their\n"
               "checkpoints). A cancelled task can be run again with nephron retry.",
               "nephron cancel"};
  int64_t exp = 0;
  ConnectionFlags conn;
  app.add_option("EXP", exp, "experiment id")->required();
  AddConnectionFlags(app, &conn);
  if (int rc = ParseFlags(app, argc, argv); rc >= 0) return rc;
  ApiClient api(conn.Resolve());
  auto r = api.Post("/api/experiments/" + std::to_string(exp) + "/cancel");
  if (!r.ok()) return Fail("cancel", r.status());
  std::printf("experiment %lld cancelled\n", static_cast<long long>(exp));
  return 0;
}

int RunRetry(int argc, char** argv) {
  CLI::App app{"Run a failed or cancelled task again (its attempt count continues; a training resumes from its\n"
               "last checkpoint). Its experiment runs again too.",
               "nephron retry"};
  int64_t task = 0;
  ConnectionFlags conn;
  app.add_option("TASK", task, "task id")->required();
  AddConnectionFlags(app, &conn);
  if (int rc = ParseFlags(app, argc, argv); rc >= 0) return rc;
  ApiClient api(conn.Resolve());
  auto r = api.Post("/api/tasks/" + std::to_string(task) + "/retry");
  if (!r.ok()) return Fail("retry", r.status());
  std::printf("task %lld queued to run again\n", static_cast<long long>(task));
  return 0;
}

int RunWorkers(int argc, char** argv) {
  CLI::App app{"List the workers: host, device, state, current task, seconds since the last heartbeat.",
               "nephron workers"};
  ConnectionFlags conn;
  AddConnectionFlags(app, &conn);
  if (int rc = ParseFlags(app, argc, argv); rc >= 0) return rc;
  ApiClient api(conn.Resolve());
  auto r = api.Get("/api/workers");
  if (!r.ok()) return Fail("workers", r.status());
  std::fputs(client::WorkersTable(*r).c_str(), stdout);
  return 0;
}

int RunResults(int argc, char** argv) {
  CLI::App app{"An experiment's results: per-fold cross-validation Dice, per-case test Dice of the fold ensemble,\n"
               "the means and the KiTS composite, and where the predictions are.",
               "nephron results"};
  int64_t exp = 0;
  bool json = false;
  ConnectionFlags conn;
  app.add_option("EXP", exp, "experiment id")->required();
  app.add_flag("--json", json, "print the results JSON (as in the experiment folder's results.json)");
  AddConnectionFlags(app, &conn);
  if (int rc = ParseFlags(app, argc, argv); rc >= 0) return rc;
  ApiClient api(conn.Resolve());
  auto r = api.Get("/api/experiments/" + std::to_string(exp) + "/results");
  if (!r.ok()) return Fail("results", r.status());
  if (json) {
    std::printf("%s\n", r->dump(2, ' ', false, Json::error_handler_t::replace).c_str());
  } else {
    std::fputs(client::ResultsTable(*r).c_str(), stdout);
  }
  return 0;
}

int RunDrain(int argc, char** argv) {
  CLI::App app{"Drain a worker: it finishes its current task and takes no more.", "nephron drain"};
  std::string worker;
  ConnectionFlags conn;
  app.add_option("WORKER", worker, "worker name (nephron workers lists them)")->required();
  AddConnectionFlags(app, &conn);
  if (int rc = ParseFlags(app, argc, argv); rc >= 0) return rc;
  ApiClient api(conn.Resolve());
  auto r = api.Post("/api/workers/" + client::PathSegment(worker) + "/drain");
  if (!r.ok()) return Fail("drain", r.status());
  std::printf("worker %s is draining: it finishes its current task and takes no more\n", worker.c_str());
  return 0;
}

}  // namespace nephron::cli
