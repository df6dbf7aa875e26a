// Builders and helpers shared by the coordinator store tests (the contract
// suite and the SQLite-only tests).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/store.h"

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    const ::nephron::Status _st = (expr);                \
    ASSERT_TRUE(_st.ok()) << _st.ToString();             \
  } while (0)

namespace nephron::coord::test {

namespace fs = std::filesystem;

// The value of `r`; a failed Result throws, which GoogleTest reports as a
// failure of the test with the Status text.
template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) throw std::runtime_error(r.status().ToString());
  return std::move(r).value();
}

inline TaskRecord Task(const std::string& kind, const std::string& name, std::vector<int64_t> deps = {}) {
  TaskRecord t;
  t.kind = kind;
  t.name = name;
  t.deps = std::move(deps);
  t.created_ms = 1000;
  return t;
}

// plan <- train fold 0, train fold 1 <- evaluate (deps as indexes).
inline std::vector<TaskRecord> Graph() {
  std::vector<TaskRecord> tasks = {Task("plan", "plan"), Task("train", "train fold 0", {0}),
                                   Task("train", "train fold 1", {0}), Task("evaluate", "evaluate", {2, 1})};
  tasks[1].fold = 0;
  tasks[2].fold = 1;
  tasks[1].device_kind = tasks[2].device_kind = "cuda";
  tasks[1].memory_mb = 8000;
  tasks[3].shard = 1;
  tasks[3].num_shards = 4;
  tasks[3].max_attempts = 5;
  tasks[3].noop_seconds = 0.25;
  return tasks;
}

inline ExperimentRecord Experiment(const std::string& name, int64_t created_ms) {
  ExperimentRecord e;
  e.name = name;
  e.spec_yaml = "name: " + name + "\n";
  e.dir = "/exp/" + name;
  e.created_ms = created_ms;
  return e;
}

// A per-test directory under GoogleTest's temp dir, removed afterwards.
class TempDirTest {
 protected:
  fs::path MakeDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name)
      if (c == '/') c = '_';
    dir_ = fs::path(::testing::TempDir()) / ("store_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    return dir_;
  }
  fs::path dir_;
};

inline MetricRecord Metric(int64_t task, int epoch, int attempt, double loss) {
  MetricRecord m;
  m.task_id = task;
  m.fold = 0;
  m.epoch = epoch;
  m.attempt = attempt;
  m.train_loss = loss;
  m.val_loss = loss + 0.5;
  m.dice = {0.875, std::nan("")};  // NaN: a class absent from both masks
  m.ema_dice = 0.8;
  m.lr = 0.01;
  m.seconds = 12.5;
  return m;
}


inline WorkerRecord Worker(const std::string& name, const std::string& state) {
  WorkerRecord w;
  w.name = name;
  w.host = "node-" + name;
  w.device = "cuda:0";
  w.memory_mb = 24000;
  w.threads = 8;
  w.engine_version = "0.1.0";
  w.state = state;
  w.registered_ms = 100;
  w.last_heartbeat_ms = 200;
  return w;
}


}  // namespace nephron::coord::test
