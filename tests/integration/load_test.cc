// Load test: one coordinator (SQLite store, real ZeroMQ on loopback) and 50
// workers (threads running the no-op engine) work through 10 000 tiny tasks.
// Asserts that every task ran exactly once; prints dispatch throughput and
// latency (a measurement, not a pass/fail criterion). NEPHRON_LOAD_TASKS and
// NEPHRON_LOAD_WORKERS override the sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "coordinator/coordinator.h"
#include "coordinator/graph.h"
#include "worker/worker.h"

namespace nephron {
namespace {

namespace fs = std::filesystem;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

TEST(LoadTest, FiftyWorkersTenThousandTasksEachRunOnce) {
  const int num_tasks = EnvInt("NEPHRON_LOAD_TASKS", 10000);
  const int num_workers = EnvInt("NEPHRON_LOAD_WORKERS", 50);
  const fs::path dir = fs::temp_directory_path() / ("nephron_load_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto store = coord::OpenSqliteStore((dir / "load.db").string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  coord::CoordinatorOptions o;
  o.data_root = dir.string();
  o.scheduler.heartbeat_ms = 500;
  coord::Coordinator c(store->get(), o);
  ASSERT_TRUE(c.Start().ok());
  std::atomic<bool> stop_coord{false}, stop_workers{false};
  std::thread loop([&] { c.Run(&stop_coord); });

  std::vector<std::thread> workers;
  for (int i = 0; i < num_workers; ++i) {
    workers.emplace_back([&, i] {
      worker::WorkerOptions w;
      w.coordinator = c.endpoint();
      w.name = "load-" + std::to_string(i);
      w.executor.engine = "/nonexistent";  // noop tasks never start the engine
      worker::Worker(w).Run(&stop_workers);
    });
  }
  // Let the workers register, so the measurement is of dispatch, not start-up.
  for (int i = 0; i < 200; ++i) {
    auto ws = (*store)->ListWorkers();
    if (ws.ok() && static_cast<int>(ws->size()) == num_workers) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto exp = c.SubmitTasks("load", coord::NoopGraph(num_tasks, 0));
  ASSERT_TRUE(exp.ok()) << exp.status().ToString();
  bool done = false;
  while (!done && std::chrono::steady_clock::now() - t0 < std::chrono::minutes(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto e = (*store)->GetExperiment(*exp);
    done = e.ok() && e->state != coord::ExperimentState::kRunning;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop_workers = true;
  for (auto& t : workers) t.join();
  stop_coord = true;
  loop.join();
  ASSERT_TRUE(done) << "the experiment did not finish within 20 minutes";

  auto tasks = (*store)->ListTasks(*exp);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(static_cast<int>(tasks->size()), num_tasks);
  std::vector<double> latency_ms;  // submit -> start of the task's only attempt
  std::vector<double> run_ms;      // start -> finish as the coordinator saw it (dispatch + report round trip)
  for (const auto& t : *tasks) {
    EXPECT_EQ(t.state, coord::TaskState::kSucceeded) << t.name;
    EXPECT_EQ(t.attempt, 1) << t.name << " ran more than once";
    run_ms.push_back(static_cast<double>(t.finished_ms - t.started_ms));
    latency_ms.push_back(static_cast<double>(t.started_ms - t.created_ms));
  }
  auto ws = (*store)->ListWorkers();
  ASSERT_TRUE(ws.ok());
  int64_t total = 0;
  for (const auto& w : *ws) total += w.tasks_done;
  EXPECT_EQ(total, num_tasks);
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
  };
  std::printf("\n| workers | tasks | seconds | tasks/s | assign->done p50 ms | p99 ms | queue wait p50 s | max s |\n");
  std::printf("|---------|-------|---------|---------|---------------------|--------|------------------|-------|\n");
  std::printf("| %7d | %5d | %7.1f | %7.0f | %19.1f | %6.1f | %16.1f | %5.1f |\n", num_workers, num_tasks, seconds,
              num_tasks / seconds, pct(run_ms, 0.5), pct(run_ms, 0.99), pct(latency_ms, 0.5) / 1000,
              pct(latency_ms, 1.0) / 1000);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nephron
