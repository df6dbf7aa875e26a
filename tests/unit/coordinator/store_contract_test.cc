// One contract suite for coordinator::Store, run against every backend
// (MemoryStore and SqliteStore). What only SQLite promises is in
// sqlite_store_test.cc.
#include <atomic>
#include <thread>

#include "tests/unit/coordinator/store_test_util.h"

namespace nephron::coord::test {
namespace {

class StoreContractTest : public ::testing::TestWithParam<std::string>, public TempDirTest {
 protected:
  void SetUp() override {
    db_path_ = (MakeDir() / "coord.db").string();
    store_ = GetParam() == "sqlite" ? Must(OpenSqliteStore(db_path_)) : NewMemoryStore();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  // An experiment with Graph(); returns the task ids in graph order.
  std::vector<int64_t> CreateGraph(int64_t* exp_id = nullptr) {
    const int64_t id = Must(store_->CreateExperiment(Experiment("kits", 1000), Graph()));
    if (exp_id != nullptr) *exp_id = id;
    std::vector<int64_t> ids;
    for (const TaskRecord& t : Must(store_->ListTasks(id))) ids.push_back(t.id);
    return ids;
  }

  std::string db_path_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContractTest, CreateExperimentStoresGraphWithDepIndexesTranslatedToIds) {
  Must(store_->CreateExperiment(Experiment("first", 1), {Task("plan", "plan")}));  // ids no longer start at 1
  int64_t exp_id = 0;
  const std::vector<int64_t> ids = CreateGraph(&exp_id);
  const ExperimentRecord e = Must(store_->GetExperiment(exp_id));
  EXPECT_EQ(e.id, exp_id);
  EXPECT_EQ(e.name, "kits");
  EXPECT_EQ(e.state, ExperimentState::kRunning);
  EXPECT_EQ(e.spec_yaml, "name: kits\n");
  EXPECT_EQ(e.dir, "/exp/kits");
  EXPECT_EQ(e.created_ms, 1000);

  const std::vector<TaskRecord> tasks = Must(store_->ListTasks(exp_id));
  ASSERT_EQ(tasks.size(), 4u);
  const std::vector<TaskRecord> given = Graph();
  for (size_t i = 0; i < tasks.size(); ++i) {
    SCOPED_TRACE(given[i].name);
    EXPECT_EQ(tasks[i].experiment_id, exp_id);
    EXPECT_EQ(tasks[i].name, given[i].name);
    EXPECT_EQ(tasks[i].kind, given[i].kind);
    EXPECT_EQ(tasks[i].fold, given[i].fold);
    EXPECT_EQ(tasks[i].shard, given[i].shard);
    EXPECT_EQ(tasks[i].num_shards, given[i].num_shards);
    EXPECT_EQ(tasks[i].device_kind, given[i].device_kind);
    EXPECT_EQ(tasks[i].memory_mb, given[i].memory_mb);
    EXPECT_EQ(tasks[i].max_attempts, given[i].max_attempts);
    EXPECT_EQ(tasks[i].noop_seconds, given[i].noop_seconds);
    EXPECT_EQ(tasks[i].state, TaskState::kPending);
    EXPECT_EQ(tasks[i].attempt, 0);
    EXPECT_EQ(tasks[i].created_ms, 1000);
    if (i > 0) {
      EXPECT_GT(tasks[i].id, tasks[i - 1].id);
    }
  }
  EXPECT_TRUE(tasks[0].deps.empty());
  EXPECT_EQ(tasks[1].deps, std::vector<int64_t>{ids[0]});
  EXPECT_EQ(tasks[3].deps, (std::vector<int64_t>{ids[2], ids[1]}));  // order kept
  EXPECT_EQ(Must(store_->GetTask(ids[3])).deps, (std::vector<int64_t>{ids[2], ids[1]}));
}

TEST_P(StoreContractTest, CreateExperimentRefusesBadGraphAndStoresNothing) {
  const Status bad_dep = store_->CreateExperiment(Experiment("x", 1), {Task("plan", "a", {1})}).status();
  EXPECT_EQ(bad_dep.code(), StatusCode::kInvalidArgument) << bad_dep.ToString();
  EXPECT_NE(bad_dep.message().find("deps"), std::string::npos) << bad_dep.message();
  const Status dup = store_->CreateExperiment(Experiment("x", 1), {Task("plan", "a"), Task("plan", "a")}).status();
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument) << dup.ToString();
  EXPECT_TRUE(Must(store_->ListExperiments()).empty());
}

TEST_P(StoreContractTest, ListExperimentsNewestFirst) {
  const int64_t a = Must(store_->CreateExperiment(Experiment("a", 10), {}));
  const int64_t b = Must(store_->CreateExperiment(Experiment("b", 20), {}));
  const int64_t c = Must(store_->CreateExperiment(Experiment("c", 30), {}));
  const std::vector<ExperimentRecord> list = Must(store_->ListExperiments());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, c);
  EXPECT_EQ(list[1].id, b);
  EXPECT_EQ(list[2].id, a);
  EXPECT_EQ(list[2].name, "a");
}

TEST_P(StoreContractTest, UnknownIdsAreNotFound) {
  EXPECT_EQ(store_->GetExperiment(42).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetTask(42).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetWorker("w9").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ClaimTask(42, 0, "w", 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FinishTask(42, 1, TaskState::kSucceeded, "", false, 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CancelExperiment(42, 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetExperimentState(42, ExperimentState::kFailed, "x", 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->AppendLogs(42, 1, {"x"}, 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->AddEvent(42, 0, "x", 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->AddMetric(MetricRecord{42, 0, 0, 1, 1, 0, 0, {}, 0, 0, 0}).code(), StatusCode::kNotFound);
}

TEST_P(StoreContractTest, ExperimentStateDirAndResultsAreUpdated) {
  int64_t exp = 0;
  CreateGraph(&exp);
  ASSERT_OK(store_->SetExperimentDir(exp, "/data/exp/7"));
  ASSERT_OK(store_->SetResults(exp, R"({"dice":0.9})"));
  ASSERT_OK(store_->SetExperimentState(exp, ExperimentState::kFailed, "plan failed", 5000));
  const ExperimentRecord e = Must(store_->GetExperiment(exp));
  EXPECT_EQ(e.dir, "/data/exp/7");
  EXPECT_EQ(e.results_json, R"({"dice":0.9})");
  EXPECT_EQ(e.state, ExperimentState::kFailed);
  EXPECT_EQ(e.error, "plan failed");
  EXPECT_EQ(e.finished_ms, 5000);
}

TEST_P(StoreContractTest, ClaimSucceedsOnceAndRefusesStaleAttempts) {
  const std::vector<int64_t> ids = CreateGraph();
  EXPECT_TRUE(Must(store_->ClaimTask(ids[0], 0, "w1", 2000)));
  TaskRecord t = Must(store_->GetTask(ids[0]));
  EXPECT_EQ(t.state, TaskState::kRunning);
  EXPECT_EQ(t.attempt, 1);
  EXPECT_EQ(t.worker, "w1");
  EXPECT_EQ(t.started_ms, 2000);

  EXPECT_FALSE(Must(store_->ClaimTask(ids[0], 0, "w2", 2001)));  // already running
  EXPECT_EQ(Must(store_->GetTask(ids[0])).worker, "w1");

  ASSERT_TRUE(Must(store_->RequeueTask(ids[0], 1, 9000, "worker lost")));
  EXPECT_FALSE(Must(store_->ClaimTask(ids[0], 0, "w2", 3000)));  // pending, but attempt 1 now
  EXPECT_TRUE(Must(store_->ClaimTask(ids[0], 1, "w2", 3000)));
  t = Must(store_->GetTask(ids[0]));
  EXPECT_EQ(t.attempt, 2);
  EXPECT_EQ(t.worker, "w2");
  EXPECT_EQ(t.started_ms, 3000);
}

TEST_P(StoreContractTest, ConcurrentClaimsHaveOneWinner) {
  const std::vector<int64_t> ids = CreateGraph();
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->ClaimTask(ids[1], 0, "w" + std::to_string(i), 100);
      if (r.ok() && *r) ++wins;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(Must(store_->GetTask(ids[1])).attempt, 1);
}

TEST_P(StoreContractTest, ActiveTasksArePendingOrRunningOfEveryExperiment) {
  const std::vector<int64_t> a = CreateGraph();
  const std::vector<int64_t> b = CreateGraph();
  ASSERT_TRUE(Must(store_->ClaimTask(a[0], 0, "w", 1)));
  ASSERT_TRUE(Must(store_->FinishTask(a[0], 1, TaskState::kSucceeded, "", false, 2)));
  ASSERT_TRUE(Must(store_->ClaimTask(b[0], 0, "w", 3)));
  std::vector<int64_t> active;
  for (const TaskRecord& t : Must(store_->ActiveTasks())) active.push_back(t.id);
  EXPECT_EQ(active, (std::vector<int64_t>{a[1], a[2], a[3], b[0], b[1], b[2], b[3]}));
  EXPECT_EQ(Must(store_->ActiveTasks())[6].deps, (std::vector<int64_t>{b[2], b[1]}));
}

TEST_P(StoreContractTest, FinishRefusesStaleAttemptsAndKeepsHistory) {
  const std::vector<int64_t> ids = CreateGraph();
  EXPECT_FALSE(Must(store_->FinishTask(ids[0], 0, TaskState::kSucceeded, "", false, 5)));  // not running
  ASSERT_TRUE(Must(store_->ClaimTask(ids[0], 0, "w1", 10)));
  EXPECT_FALSE(Must(store_->FinishTask(ids[0], 2, TaskState::kSucceeded, "", false, 20)));  // wrong attempt
  EXPECT_EQ(store_->FinishTask(ids[0], 1, TaskState::kRunning, "", false, 20).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(Must(store_->FinishTask(ids[0], 1, TaskState::kFailed, "out of memory", true, 30)));
  EXPECT_FALSE(Must(store_->FinishTask(ids[0], 1, TaskState::kSucceeded, "", false, 40)));  // repeat
  const TaskRecord t = Must(store_->GetTask(ids[0]));
  EXPECT_EQ(t.state, TaskState::kFailed);
  EXPECT_EQ(t.error, "out of memory");
  EXPECT_TRUE(t.permanent_error);
  EXPECT_EQ(t.attempt, 1);
  EXPECT_EQ(t.worker, "w1");
  EXPECT_EQ(t.started_ms, 10);
  EXPECT_EQ(t.finished_ms, 30);
}

TEST_P(StoreContractTest, RequeueReturnsToPendingWithBackOff) {
  const std::vector<int64_t> ids = CreateGraph();
  ASSERT_TRUE(Must(store_->ClaimTask(ids[0], 0, "w1", 10)));
  EXPECT_FALSE(Must(store_->RequeueTask(ids[0], 0, 500, "stale")));
  EXPECT_TRUE(Must(store_->RequeueTask(ids[0], 1, 500, "worker w1 lost")));
  EXPECT_FALSE(Must(store_->RequeueTask(ids[0], 1, 600, "again")));  // no longer running
  const TaskRecord t = Must(store_->GetTask(ids[0]));
  EXPECT_EQ(t.state, TaskState::kPending);
  EXPECT_EQ(t.not_before_ms, 500);
  EXPECT_EQ(t.error, "worker w1 lost");
  EXPECT_EQ(t.attempt, 1);
  EXPECT_EQ(t.worker, "w1");
}

TEST_P(StoreContractTest, RetryOnlyRevivesFailedOrCancelledAndReopensExperiment) {
  int64_t exp = 0;
  const std::vector<int64_t> ids = CreateGraph(&exp);
  EXPECT_FALSE(Must(store_->RetryTask(ids[0], 1)));  // pending
  ASSERT_TRUE(Must(store_->ClaimTask(ids[0], 0, "w", 1)));
  EXPECT_FALSE(Must(store_->RetryTask(ids[0], 2)));  // running
  ASSERT_TRUE(Must(store_->FinishTask(ids[0], 1, TaskState::kSucceeded, "", false, 3)));
  EXPECT_FALSE(Must(store_->RetryTask(ids[0], 4)));  // succeeded

  ASSERT_TRUE(Must(store_->ClaimTask(ids[1], 0, "w", 5)));
  ASSERT_TRUE(Must(store_->RequeueTask(ids[1], 1, 99, "lost")));
  ASSERT_TRUE(Must(store_->ClaimTask(ids[1], 1, "w", 6)));
  ASSERT_TRUE(Must(store_->FinishTask(ids[1], 2, TaskState::kFailed, "diverged", true, 7)));
  ASSERT_OK(store_->SetExperimentState(exp, ExperimentState::kFailed, "train fold 0 failed", 8));

  EXPECT_TRUE(Must(store_->RetryTask(ids[1], 9)));
  const TaskRecord t = Must(store_->GetTask(ids[1]));
  EXPECT_EQ(t.state, TaskState::kPending);
  EXPECT_EQ(t.error, "");
  EXPECT_FALSE(t.permanent_error);
  EXPECT_EQ(t.not_before_ms, 0);
  EXPECT_EQ(t.attempt, 2);  // the count continues
  EXPECT_EQ(Must(store_->GetExperiment(exp)).state, ExperimentState::kRunning);
  EXPECT_TRUE(Must(store_->ClaimTask(ids[1], 2, "w", 10)));
}

TEST_P(StoreContractTest, CancelExperimentCancelsEverythingUnfinishedAndStaysCancelled) {
  int64_t exp = 0;
  const std::vector<int64_t> ids = CreateGraph(&exp);
  const std::vector<int64_t> other = CreateGraph();
  ASSERT_TRUE(Must(store_->ClaimTask(ids[0], 0, "w1", 1)));
  ASSERT_TRUE(Must(store_->FinishTask(ids[0], 1, TaskState::kSucceeded, "", false, 2)));
  ASSERT_TRUE(Must(store_->ClaimTask(ids[1], 0, "w2", 3)));

  const std::vector<TaskRecord> was_running = Must(store_->CancelExperiment(exp, 50));
  ASSERT_EQ(was_running.size(), 1u);
  EXPECT_EQ(was_running[0].id, ids[1]);
  EXPECT_EQ(was_running[0].attempt, 1);
  EXPECT_EQ(was_running[0].worker, "w2");

  const std::vector<TaskRecord> tasks = Must(store_->ListTasks(exp));
  EXPECT_EQ(tasks[0].state, TaskState::kSucceeded);
  for (size_t i = 1; i < tasks.size(); ++i) {
    EXPECT_EQ(tasks[i].state, TaskState::kCancelled) << tasks[i].name;
    EXPECT_EQ(tasks[i].finished_ms, 50) << tasks[i].name;
  }
  ExperimentRecord e = Must(store_->GetExperiment(exp));
  EXPECT_EQ(e.state, ExperimentState::kCancelled);
  EXPECT_EQ(e.finished_ms, 50);

  // The stopped worker's late report and a scheduler's late claim change nothing.
  EXPECT_FALSE(Must(store_->FinishTask(ids[1], 1, TaskState::kSucceeded, "", false, 60)));
  EXPECT_FALSE(Must(store_->ClaimTask(ids[2], 0, "w3", 60)));
  EXPECT_EQ(Must(store_->GetTask(ids[1])).state, TaskState::kCancelled);
  EXPECT_TRUE(Must(store_->CancelExperiment(exp, 70)).empty());
  EXPECT_EQ(Must(store_->GetExperiment(exp)).finished_ms, 50);
  // Other experiments are untouched.
  EXPECT_EQ(Must(store_->ActiveTasks()).size(), other.size());
}

TEST_P(StoreContractTest, ProgressOnlyForTheCurrentAttempt) {
  const std::vector<int64_t> ids = CreateGraph();
  EXPECT_FALSE(Must(store_->SetProgress(ids[0], 0, 0.5, "not started")));
  ASSERT_TRUE(Must(store_->ClaimTask(ids[0], 0, "w", 1)));
  EXPECT_TRUE(Must(store_->SetProgress(ids[0], 1, 0.25, "epoch 1/4")));
  EXPECT_FALSE(Must(store_->SetProgress(ids[0], 2, 0.75, "from the future")));
  const TaskRecord t = Must(store_->GetTask(ids[0]));
  EXPECT_DOUBLE_EQ(t.progress, 0.25);
  EXPECT_EQ(t.progress_message, "epoch 1/4");
}

TEST_P(StoreContractTest, MetricsKeepOneRowPerEpochFromTheLatestAttempt) {
  int64_t exp = 0;
  const std::vector<int64_t> ids = CreateGraph(&exp);
  const std::vector<int64_t> other = CreateGraph();
  ASSERT_OK(store_->AddMetric(Metric(ids[2], 1, 1, 0.9)));
  ASSERT_OK(store_->AddMetric(Metric(ids[1], 0, 1, 1.0)));
  ASSERT_OK(store_->AddMetric(Metric(ids[1], 1, 1, 0.7)));
  ASSERT_OK(store_->AddMetric(Metric(ids[1], 1, 2, 0.6)));  // a later attempt replaces
  ASSERT_OK(store_->AddMetric(Metric(ids[1], 1, 1, 0.1)));  // an earlier one does not
  ASSERT_OK(store_->AddMetric(Metric(ids[1], 0, 1, 0.2)));  // nor does a repeat
  ASSERT_OK(store_->AddMetric(Metric(other[1], 0, 1, 5.0)));

  const std::vector<MetricRecord> rows = Must(store_->Metrics(exp));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].task_id, ids[1]);
  EXPECT_EQ(rows[0].epoch, 0);
  EXPECT_DOUBLE_EQ(rows[0].train_loss, 1.0);
  EXPECT_EQ(rows[1].epoch, 1);
  EXPECT_EQ(rows[1].attempt, 2);
  EXPECT_DOUBLE_EQ(rows[1].train_loss, 0.6);
  EXPECT_DOUBLE_EQ(rows[1].val_loss, 1.1);
  EXPECT_EQ(rows[2].task_id, ids[2]);
  EXPECT_EQ(rows[1].experiment_id, exp);
  ASSERT_EQ(rows[1].dice.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[1].dice[0], 0.875);
  EXPECT_TRUE(std::isnan(rows[1].dice[1]));
  EXPECT_DOUBLE_EQ(rows[1].ema_dice, 0.8);
  EXPECT_DOUBLE_EQ(rows[1].lr, 0.01);
  EXPECT_DOUBLE_EQ(rows[1].seconds, 12.5);
}

TEST_P(StoreContractTest, LogsArePagedPerTaskOldestFirst) {
  const std::vector<int64_t> ids = CreateGraph();
  ASSERT_OK(store_->AppendLogs(ids[1], 1, {"a", "b"}, 100));
  ASSERT_OK(store_->AppendLogs(ids[2], 1, {"other"}, 150));
  ASSERT_OK(store_->AppendLogs(ids[1], 2, {"c", "d", "e"}, 200));
  ASSERT_OK(store_->AppendLogs(ids[1], 2, {}, 300));

  const std::vector<LogRecord> all = Must(store_->Logs(ids[1], 0, 100));
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].line, std::string(1, static_cast<char>('a' + i)));
    EXPECT_EQ(all[i].task_id, ids[1]);
    if (i > 0) {
      EXPECT_GT(all[i].seq, all[i - 1].seq);
    }
  }
  EXPECT_EQ(all[1].attempt, 1);
  EXPECT_EQ(all[1].ts_ms, 100);
  EXPECT_EQ(all[2].attempt, 2);
  EXPECT_EQ(all[2].ts_ms, 200);

  const std::vector<LogRecord> page = Must(store_->Logs(ids[1], all[1].seq, 2));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].line, "c");
  EXPECT_EQ(page[1].line, "d");
  EXPECT_TRUE(Must(store_->Logs(ids[1], all[4].seq, 10)).empty());
  EXPECT_TRUE(Must(store_->Logs(ids[1], 0, 0)).empty());
  const std::vector<LogRecord> other = Must(store_->Logs(ids[2], 0, 10));
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].line, "other");
}

TEST_P(StoreContractTest, EventsArePagedPerExperiment) {
  int64_t exp = 0;
  const std::vector<int64_t> ids = CreateGraph(&exp);
  int64_t other = 0;
  CreateGraph(&other);
  ASSERT_OK(store_->AddEvent(exp, 0, "submitted", 10));
  ASSERT_OK(store_->AddEvent(other, 0, "elsewhere", 15));
  ASSERT_OK(store_->AddEvent(exp, ids[0], "plan started on w1", 20));
  ASSERT_OK(store_->AddEvent(exp, ids[0], "plan succeeded", 30));

  const std::vector<EventRecord> all = Must(store_->Events(exp, 0, 10));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].text, "submitted");
  EXPECT_EQ(all[0].task_id, 0);
  EXPECT_EQ(all[0].experiment_id, exp);
  EXPECT_EQ(all[1].task_id, ids[0]);
  EXPECT_EQ(all[1].ts_ms, 20);
  EXPECT_GT(all[2].seq, all[1].seq);
  const std::vector<EventRecord> page = Must(store_->Events(exp, all[0].seq, 1));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].text, "plan started on w1");
}

TEST_P(StoreContractTest, WorkersAreUpsertedByName) {
  ASSERT_OK(store_->UpsertWorker(Worker("w2", "idle")));
  ASSERT_OK(store_->UpsertWorker(Worker("w1", "idle")));
  WorkerRecord busy = Worker("w2", "busy");
  busy.task = 7;
  busy.attempt = 2;
  busy.draining = true;
  busy.last_heartbeat_ms = 900;
  busy.tasks_done = 3;
  busy.key_name = "gpu-node-1";
  busy.files = "fetch";
  ASSERT_OK(store_->UpsertWorker(busy));

  const WorkerRecord w = Must(store_->GetWorker("w2"));
  EXPECT_EQ(w.host, "node-w2");
  EXPECT_EQ(w.device, "cuda:0");
  EXPECT_EQ(w.memory_mb, 24000);
  EXPECT_EQ(w.threads, 8);
  EXPECT_EQ(w.engine_version, "0.1.0");
  EXPECT_EQ(w.state, "busy");
  EXPECT_TRUE(w.draining);
  EXPECT_EQ(w.task, 7);
  EXPECT_EQ(w.attempt, 2);
  EXPECT_EQ(w.registered_ms, 100);
  EXPECT_EQ(w.last_heartbeat_ms, 900);
  EXPECT_EQ(w.tasks_done, 3);
  EXPECT_EQ(w.key_name, "gpu-node-1");
  EXPECT_EQ(w.files, "fetch");
  const std::vector<WorkerRecord> all = Must(store_->ListWorkers());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "w1");
  EXPECT_EQ(all[1].name, "w2");
}

TEST_P(StoreContractTest, ArtifactsKeepOneRowPerPathFromTheLatestWrite) {
  int64_t exp = 0;
  const std::vector<int64_t> ids = CreateGraph(&exp);
  EXPECT_TRUE(Must(store_->Artifacts(exp)).empty());
  ASSERT_TRUE(store_->AddArtifacts(ids[0], 1, {{0, "fold_0/checkpoint_final.pt", 0, 0, 1000, "aa"},
                                              {0, "plans.json", 0, 0, 10, "bb"}}).ok());
  ASSERT_TRUE(store_->AddArtifacts(ids[1], 2, {{0, "fold_0/checkpoint_final.pt", 0, 0, 2000, "cc"}}).ok());
  const std::vector<ArtifactRecord> a = Must(store_->Artifacts(exp));
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].path, "fold_0/checkpoint_final.pt");  // by path
  EXPECT_EQ(a[0].experiment_id, exp);
  EXPECT_EQ(a[0].task_id, ids[1]);
  EXPECT_EQ(a[0].attempt, 2);
  EXPECT_EQ(a[0].size, 2000);
  EXPECT_EQ(a[0].sha256, "cc");
  EXPECT_EQ(a[1].path, "plans.json");
  EXPECT_EQ(a[1].task_id, ids[0]);
  EXPECT_EQ(store_->AddArtifacts(9999, 1, {{0, "x", 0, 0, 1, "dd"}}).code(), StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest, ::testing::Values("memory", "sqlite"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });


}  // namespace
}  // namespace nephron::coord::test
