// Checks shared by the tests that run a whole experiment on real daemons
// (orchestration_test, multihost_test), read from the coordinator's store.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "coordinator/store.h"
#include "tests/fakes/daemons.h"

namespace nephron::testing {

// Waits until experiment `exp` is no longer running.
inline bool WaitFinished(coord::Store& db, int64_t exp, double seconds) {
  return WaitFor(
      [&] {
        auto e = db.GetExperiment(exp);
        return e.ok() && e->state != coord::ExperimentState::kRunning;
      },
      seconds);
}

// The task's log file (EXPERIMENT/logs/<id>-<name>.log); "" if there is none.
inline std::string TaskLog(const std::string& exp_dir, int64_t task_id) {
  for (const auto& f : std::filesystem::directory_iterator(exp_dir + "/logs"))
    if (f.path().filename().string().rfind(std::to_string(task_id) + "-", 0) == 0) {
      std::ifstream in(f.path());
      return std::string(std::istreambuf_iterator<char>(in), {});
    }
  return "";
}

// The coordinator's events about one task, one per line (why an attempt ended).
inline std::string TaskEvents(coord::Store& db, const coord::TaskRecord& t) {
  std::string out;
  auto events = db.Events(t.experiment_id, 0, 100000);
  if (!events.ok()) return events.status().ToString();
  for (const auto& ev : *events)
    if (ev.task_id == t.id) out += std::to_string(ev.ts_ms) + " " + ev.text + "\n";
  return out;
}

// Every task succeeded, each at attempt 1 except `retried` (attempt 2), and
// every training task's epochs 1..epochs were recorded exactly once.
inline void ExpectEachTaskOnceAndEveryEpochOnce(coord::Store& db, int64_t exp, int64_t retried, int epochs,
                                                int expected_trainings) {
  auto tasks = db.ListTasks(exp);
  ASSERT_TRUE(tasks.ok());
  for (const auto& t : *tasks) {
    EXPECT_EQ(t.state, coord::TaskState::kSucceeded) << t.name;
    EXPECT_EQ(t.attempt, t.id == retried ? 2 : 1) << t.name << ": " << t.error << "\n" << TaskEvents(db, t);
  }
  auto metrics = db.Metrics(exp);
  ASSERT_TRUE(metrics.ok());
  std::map<int64_t, std::multiset<int>> seen;
  for (const auto& m : *metrics) seen[m.task_id].insert(m.epoch);
  std::multiset<int> want;
  for (int k = 1; k <= epochs; ++k) want.insert(k);
  int trainings = 0;
  for (const auto& t : *tasks) {
    if (t.kind != "train") continue;
    ++trainings;
    EXPECT_EQ(seen[t.id], want) << t.name;
  }
  EXPECT_EQ(trainings, expected_trainings);
}

}  // namespace nephron::testing
