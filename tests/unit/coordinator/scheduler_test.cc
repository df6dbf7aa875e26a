#include "coordinator/scheduler.h"

#include <gtest/gtest.h>

#include "coordinator/graph.h"

namespace nephron::coord {
namespace {

TaskRecord Task(int64_t id, int64_t exp, std::vector<int64_t> deps = {}, std::string device = "any") {
  TaskRecord t;
  t.id = id;
  t.experiment_id = exp;
  t.deps = std::move(deps);
  t.device_kind = std::move(device);
  return t;
}

WorkerView Worker(const std::string& name, const std::string& device = "cpu", int64_t mem = 16000) {
  WorkerView w;
  w.name = name;
  w.device = device;
  w.memory_mb = mem;
  return w;
}

TEST(SchedulerTest, DispatchesOlderExperimentsFirstInGraphOrder) {
  std::vector<TaskRecord> tasks = {Task(30, 2), Task(11, 1), Task(10, 1)};
  auto d = PlanDispatch(tasks, {}, {1, 2}, {Worker("a"), Worker("b"), Worker("c")}, 0);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].task_id, 10);
  EXPECT_EQ(d[0].worker, "a");
  EXPECT_EQ(d[1].task_id, 11);
  EXPECT_EQ(d[2].task_id, 30);
}

TEST(SchedulerTest, OneTaskPerWorkerAndBusyOrDrainingWorkersGetNothing) {
  std::vector<TaskRecord> tasks = {Task(1, 1), Task(2, 1), Task(3, 1)};
  WorkerView busy = Worker("busy"), draining = Worker("draining");
  busy.busy = true;
  draining.draining = true;
  auto d = PlanDispatch(tasks, {}, {1}, {busy, draining, Worker("idle")}, 0);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].worker, "idle");
  EXPECT_EQ(d[0].task_id, 1);
}

TEST(SchedulerTest, DependenciesReleaseOnlyWhenAllSucceeded) {
  std::vector<TaskRecord> tasks = {Task(3, 1, {1, 2})};
  std::map<int64_t, TaskState> deps = {{1, TaskState::kSucceeded}, {2, TaskState::kRunning}};
  EXPECT_TRUE(PlanDispatch(tasks, deps, {1}, {Worker("a")}, 0).empty());
  deps[2] = TaskState::kFailed;
  EXPECT_TRUE(PlanDispatch(tasks, deps, {1}, {Worker("a")}, 0).empty());
  deps[2] = TaskState::kSucceeded;
  EXPECT_EQ(PlanDispatch(tasks, deps, {1}, {Worker("a")}, 0).size(), 1u);
  // An unknown dependency never counts as done.
  EXPECT_TRUE(PlanDispatch({Task(4, 1, {99})}, deps, {1}, {Worker("a")}, 0).empty());
}

TEST(SchedulerTest, OnlyRunningExperimentsAndPendingTasksAreDispatched) {
  TaskRecord running = Task(1, 1);
  running.state = TaskState::kRunning;
  EXPECT_TRUE(PlanDispatch({running}, {}, {1}, {Worker("a")}, 0).empty());
  EXPECT_TRUE(PlanDispatch({Task(2, 5)}, {}, {1}, {Worker("a")}, 0).empty());  // experiment 5 not running
}

TEST(SchedulerTest, BackoffDelaysReadiness) {
  TaskRecord t = Task(1, 1);
  t.not_before_ms = 5000;
  EXPECT_FALSE(IsReady(t, {}, {1}, 4999));
  EXPECT_TRUE(IsReady(t, {}, {1}, 5000));
}

TEST(SchedulerTest, CapabilityMatching) {
  EXPECT_TRUE(Fits(Task(1, 1, {}, "cuda"), Worker("g", "cuda:1")));
  EXPECT_FALSE(Fits(Task(1, 1, {}, "cuda"), Worker("c", "cpu")));
  EXPECT_FALSE(Fits(Task(1, 1, {}, "cpu"), Worker("g", "cuda:0")));
  EXPECT_TRUE(Fits(Task(1, 1, {}, "any"), Worker("g", "cuda:0")));
  TaskRecord big = Task(1, 1);
  big.memory_mb = 24000;
  EXPECT_FALSE(Fits(big, Worker("small", "cuda:0", 16000)));
  EXPECT_TRUE(Fits(big, Worker("large", "cuda:0", 80000)));
  // A CUDA task waits for a GPU worker even when a CPU worker is idle.
  auto d = PlanDispatch({Task(1, 1, {}, "cuda"), Task(2, 1)}, {}, {1}, {Worker("c", "cpu")}, 0);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].task_id, 2);
}

TEST(SchedulerTest, ClaimCarriesTheAttemptItSaw) {
  TaskRecord t = Task(1, 1);
  t.attempt = 2;
  auto d = PlanDispatch({t}, {}, {1}, {Worker("a")}, 0);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].expected_attempt, 2);
}

TEST(SchedulerTest, LeaseExpiryWithAFakeClock) {
  SchedulerConfig c;
  c.heartbeat_ms = 1000;
  c.liveness = 3;
  c.lost_grace_ms = 2000;
  EXPECT_FALSE(WorkerExpired(10'000, 13'000, c));
  EXPECT_TRUE(WorkerExpired(10'000, 13'001, c));
  EXPECT_EQ(RequeueAt(13'001, c), 15'001);
}

TEST(SchedulerTest, RetryBackoffDoublesUpToTheCapAndStopsAtMaxAttempts) {
  RetryPolicy p;
  p.max_attempts = 5;
  p.backoff_ms = 1000;
  p.backoff_cap_ms = 3000;
  EXPECT_EQ(BackoffMs(1, p), 1000);
  EXPECT_EQ(BackoffMs(2, p), 2000);
  EXPECT_EQ(BackoffMs(3, p), 3000);
  EXPECT_EQ(BackoffMs(10, p), 3000);
  FailureDecision d = OnFailure(1, false, p, 100);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.not_before_ms, 1100);
  EXPECT_FALSE(OnFailure(5, false, p, 100).retry);   // attempts used up
  EXPECT_FALSE(OnFailure(1, true, p, 100).retry);    // permanent: never retried
}

TEST(GraphTest, ExpandsTheDesignGraph) {
  JobSpec s;
  s.plan.num_folds = 5;
  s.resources.fingerprint_shards = 2;
  s.resources.preprocess_shards = 3;
  s.resources.predict_shards = 2;
  s.retry.max_attempts = 4;
  s.dataset.test_cases = {"case_00007"};
  auto g = ExpandSpec(s);
  // 2 fingerprint + plan + 3 preprocess + 5 train + 5 validate + crossval + 2 predict + evaluate
  ASSERT_EQ(g.size(), 20u);
  EXPECT_EQ(g[0].kind, "fingerprint");
  EXPECT_EQ(g[0].name, "fingerprint 1/2");
  EXPECT_EQ(g[2].kind, "plan");
  EXPECT_EQ(g[2].deps, (std::vector<int64_t>{0, 1}));
  for (int i = 3; i < 6; ++i) EXPECT_EQ(g[i].deps, (std::vector<int64_t>{2}));
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(g[6 + k].kind, "train");
    EXPECT_EQ(g[6 + k].fold, k);
    EXPECT_EQ(g[6 + k].deps, (std::vector<int64_t>{3, 4, 5}));
    EXPECT_EQ(g[11 + k].kind, "validate");
    EXPECT_EQ(g[11 + k].deps, (std::vector<int64_t>{6 + k}));
  }
  EXPECT_EQ(g[16].kind, "crossval");
  EXPECT_EQ(g[16].deps, (std::vector<int64_t>{11, 12, 13, 14, 15}));
  EXPECT_EQ(g[17].kind, "predict");
  EXPECT_EQ(g[17].deps, (std::vector<int64_t>{6, 7, 8, 9, 10, 16}));
  EXPECT_EQ(g[19].kind, "evaluate");
  EXPECT_EQ(g[19].deps, (std::vector<int64_t>{17, 18}));
  for (const auto& t : g) EXPECT_EQ(t.max_attempts, 4);
}

TEST(GraphTest, SelectedFoldsOnly) {
  JobSpec s;
  s.folds = {1, 3};
  s.resources.fingerprint_shards = s.resources.preprocess_shards = s.resources.predict_shards = 1;
  auto g = ExpandSpec(s);
  std::vector<int> trained;
  for (const auto& t : g)
    if (t.kind == "train") trained.push_back(t.fold);
  EXPECT_EQ(trained, (std::vector<int>{1, 3}));
  EXPECT_EQ(g[0].name, "fingerprint");  // one shard: no "1/1"
  EXPECT_EQ(g.back().kind, "predict");  // no labelled test cases: nothing to evaluate
}

}  // namespace
}  // namespace nephron::coord
