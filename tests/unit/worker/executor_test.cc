#include "worker/artifacts.h"
#include "worker/executor.h"
#include "worker/mirror.h"
#include "worker/worker.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <filesystem>
#include <fstream>
#include <thread>

namespace nephron::worker {
namespace {

namespace fs = std::filesystem;

// A stand-in for the `nephron` binary: a shell script whose behaviour the
// test chooses through FAKE_MODE.
const char* kFakeEngine = R"sh(#!/bin/sh
exp=""; fold=""
while [ $# -gt 0 ]; do
  case "$1" in --experiment) exp="$2"; shift;; --fold) fold="$2"; shift;; esac; shift
done
case "$FAKE_MODE" in
  ok)
    mkdir -p "$exp/fold_$fold"
    echo '{"epoch":0,"train_loss":0.9,"val_loss":0.8,"pseudo_dice":[0.5,null],"ema_dice":0.5,"lr":0.01,"seconds":1.5}' >> "$exp/fold_$fold/training_log.jsonl"
    echo "[train] 1/2 epoch 1 loss 0.9"
    echo '{"epoch":1,"train_loss":0.7,"val_loss":0.6,"pseudo_dice":[0.7,0.2],"ema_dice":0.52,"lr":0.005,"seconds":1.4}' >> "$exp/fold_$fold/training_log.jsonl"
    echo "[train] 2/2 epoch 2 loss 0.7"
    exit 0;;
  fail) echo "reading case_00003"; echo "nephron train: case_00003/imaging.nii.gz: truncated" >&2; exit 1;;
  usage) echo "nephron train: spec.yaml: train.epochs: must be positive" >&2; exit 2;;
  corrupt) echo "nephron train: fold_0/checkpoint_latest.pt: truncated" >&2; exit 4;;
  remote)
    echo "mirror root: $NEPHRON_MIRROR_ROOT"
    echo "resuming from: $(cat "$exp/fold_$fold/checkpoint_latest.pt")"
    echo "checkpoint of attempt 2" > "$exp/fold_$fold/checkpoint_latest.pt"
    echo '{"epoch":1,"train_loss":0.7}' >> "$exp/fold_$fold/training_log.jsonl"
    exit 0;;
  hang) trap 'echo "saving checkpoint"; exit 3' TERM; echo "[train] 0/10 started"; while true; do sleep 0.05; done;;
esac
)sh";

ExecutorOptions Opts(const std::string& engine) {
  ExecutorOptions o;
  o.engine = engine;
  o.threads = 2;
  return o;
}

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("executor_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "exp");
    engine_ = (dir_ / "fake-nephron").string();
    std::ofstream(engine_) << kFakeEngine;
    chmod(engine_.c_str(), 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }

  proto::AssignMsg Train() {
    proto::AssignMsg a;
    a.task = 7;
    a.attempt = 2;
    a.kind = "train";
    a.fold = 1;
    a.experiment_dir = (dir_ / "exp").string();
    a.spec_path = (dir_ / "exp/spec.yaml").string();
    a.log_path = (dir_ / "exp/logs/7-train.log").string();
    return a;
  }

  // Polls until the task is done, collecting everything.
  ExecEvents RunToEnd(Executor& e, std::chrono::seconds limit = std::chrono::seconds(20)) {
    ExecEvents all;
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      ExecEvents ev = e.Poll();
      all.progress.insert(all.progress.end(), ev.progress.begin(), ev.progress.end());
      all.log_lines.insert(all.log_lines.end(), ev.log_lines.begin(), ev.log_lines.end());
      all.metrics.insert(all.metrics.end(), ev.metrics.begin(), ev.metrics.end());
      if (ev.done) {
        all.done = ev.done;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return all;
  }

  fs::path dir_;
  std::string engine_;
};

TEST_F(ExecutorTest, SuccessfulTrainingStreamsProgressLogAndMetrics) {
  setenv("FAKE_MODE", "ok", 1);
  Executor e(Opts(engine_));
  e.Start(Train());
  EXPECT_TRUE(e.busy());
  EXPECT_EQ(e.task(), 7);
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_TRUE(ev.done->ok) << ev.done->error;
  EXPECT_EQ(ev.done->task, 7);
  EXPECT_EQ(ev.done->attempt, 2);
  EXPECT_FALSE(e.busy());
  ASSERT_EQ(ev.progress.size(), 2u);
  EXPECT_EQ(ev.progress[1].stage, "train");
  EXPECT_EQ(ev.progress[1].done, 2);
  EXPECT_EQ(ev.progress[1].total, 2);
  EXPECT_EQ(ev.progress[1].message, "epoch 2 loss 0.7");
  ASSERT_EQ(ev.metrics.size(), 2u);
  EXPECT_EQ(ev.metrics[0].epoch, 0);
  EXPECT_EQ(ev.metrics[0].task, 7);
  EXPECT_EQ(ev.metrics[0].attempt, 2);
  EXPECT_EQ(ev.metrics[0].dice, (std::vector<double>{0.5, -1.0}));  // null: class absent
  EXPECT_DOUBLE_EQ(ev.metrics[1].lr, 0.005);
  std::ifstream log(Train().log_path);
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("== attempt 2: " + engine_ + " train"), std::string::npos) << text;
  EXPECT_NE(text.find("[train] 2/2 epoch 2"), std::string::npos);
  EXPECT_NE(text.find("== attempt 2 succeeded"), std::string::npos);
  // The files the training wrote, with size and SHA-256.
  ASSERT_EQ(ev.done->artifacts.size(), 1u);
  EXPECT_EQ(ev.done->artifacts[0].path, "fold_1/training_log.jsonl");
  EXPECT_EQ(ev.done->artifacts[0].size, static_cast<int64_t>(fs::file_size(dir_ / "exp/fold_1/training_log.jsonl")));
  EXPECT_EQ(ev.done->artifacts[0].sha256.size(), 64u);
}

TEST_F(ExecutorTest, Sha256OfKnownContent) {
  std::ofstream(dir_ / "abc") << "abc";
  auto h = Sha256File((dir_ / "abc").string());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256File((dir_ / "missing").string()).status().code(), StatusCode::kNotFound);
}

TEST_F(ExecutorTest, OnlyNewOrChangedFilesAreArtifacts) {
  fs::create_directories(dir_ / "exp/fingerprint");
  std::ofstream(dir_ / "exp/fingerprint/case_00000.json") << "{}";
  proto::AssignMsg a;
  a.kind = "fingerprint";
  const auto roots = OutputRoots(a);
  const Snapshot before = TakeSnapshot((dir_ / "exp").string(), roots);
  std::ofstream(dir_ / "exp/fingerprint/case_00001.json") << "{\"a\": 1}";
  std::ofstream(dir_ / "exp/plans.json") << "{}";  // not a fingerprint output
  const auto changed = ChangedFiles((dir_ / "exp").string(), roots, before);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].path, "fingerprint/case_00001.json");
  EXPECT_EQ(changed[0].size, 8);
}

TEST_F(ExecutorTest, FailureCarriesTheLastLinesAndIsRetryable) {
  setenv("FAKE_MODE", "fail", 1);
  Executor e(Opts(engine_));
  e.Start(Train());
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_FALSE(ev.done->ok);
  EXPECT_FALSE(ev.done->permanent);
  EXPECT_EQ(ev.done->exit_code, 1);
  EXPECT_NE(ev.done->error.find("case_00003/imaging.nii.gz: truncated"), std::string::npos) << ev.done->error;
}

TEST_F(ExecutorTest, UsageErrorIsPermanent) {
  setenv("FAKE_MODE", "usage", 1);
  Executor e(Opts(engine_));
  e.Start(Train());
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_TRUE(ev.done->permanent);
  EXPECT_NE(ev.done->error.find("train.epochs"), std::string::npos);
}

TEST_F(ExecutorTest, CorruptInputIsPermanent) {
  setenv("FAKE_MODE", "corrupt", 1);
  Executor e(Opts(engine_));
  e.Start(Train());
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_TRUE(ev.done->permanent);
  EXPECT_EQ(ev.done->exit_code, 4);
}

TEST_F(ExecutorTest, CancelSendsSigtermAndReportsCancelled) {
  setenv("FAKE_MODE", "hang", 1);
  Executor e(Opts(engine_));
  e.Start(Train());
  // Wait until the child is running its loop.
  ExecEvents first;
  for (int i = 0; i < 200 && first.progress.empty(); ++i) {
    ExecEvents ev = e.Poll();
    first.progress.insert(first.progress.end(), ev.progress.begin(), ev.progress.end());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(first.progress.empty());
  const auto t0 = std::chrono::steady_clock::now();
  e.Cancel();
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_TRUE(ev.done->cancelled);
  EXPECT_FALSE(ev.done->ok);
  EXPECT_EQ(ev.done->exit_code, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  bool saved = false;
  for (const auto& l : ev.log_lines) saved = saved || l == "saving checkpoint";
  EXPECT_TRUE(saved);
}

TEST_F(ExecutorTest, MissingEngineFailsClearly) {
  Executor e(Opts((dir_ / "no-such-binary").string()));
  e.Start(Train());
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_FALSE(ev.done->ok);
  EXPECT_EQ(ev.done->exit_code, 127);
  EXPECT_NE(ev.done->error.find("no-such-binary"), std::string::npos) << ev.done->error;
}

TEST_F(ExecutorTest, NoopTaskFinishesAndCanBeCancelled) {
  Executor e(Opts(engine_));
  proto::AssignMsg a;
  a.task = 1;
  a.attempt = 1;
  a.kind = "noop";
  a.noop_seconds = 0.05;
  e.Start(a);
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_TRUE(ev.done->ok);
  a.noop_seconds = 60;
  e.Start(a);
  e.Cancel();
  ev = RunToEnd(e, std::chrono::seconds(5));
  ASSERT_TRUE(ev.done);
  EXPECT_TRUE(ev.done->cancelled);
}

// A worker without the coordinator's files: the executor fetches the task's
// inputs into its cache, runs the engine there and uploads the outputs.
class RemoteFilesTest : public ExecutorTest {
 protected:
  void SetUp() override {
    ExecutorTest::SetUp();
    served_ = dir_ / "coordinator";
    fs::create_directories(served_ / "exp/fold_1");
    std::ofstream(served_ / "exp/spec.yaml") << "name: remote\n";
    std::ofstream(served_ / "exp/plans.json") << "{}";
    std::ofstream(served_ / "exp/fold_1/checkpoint_latest.pt") << "checkpoint of attempt 1";
    std::ofstream(served_ / "exp/fold_0/checkpoint_latest.pt") << "another fold";
    server_ = std::make_unique<net::FileServer>(std::vector<std::string>{served_.string()});
    server_->set_write_guard([this](const std::string&, int64_t task, int attempt) -> Status {
      if (task != 7 || attempt != current_attempt_) return FailedPrecondition("attempt " + std::to_string(attempt) + " is stale");
      return Status::Ok();
    });
    auto s = net::Socket::BindRouter(ctx_, "tcp://127.0.0.1:0");
    ASSERT_TRUE(s.ok());
    endpoint_ = s->endpoint();
    thread_ = std::thread([this, sock = std::make_shared<net::Socket>(std::move(*s))] {
      net::ServeFiles(*sock, *server_, stop_);
    });
  }
  void TearDown() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ExecutorTest::TearDown();
  }
  ExecutorOptions Options() {
    ExecutorOptions o = Opts(engine_);
    o.files.endpoint = endpoint_;
    o.files.timeout_ms = 2000;
    o.files.max_retries = 1;
    o.cache_dir = (dir_ / "cache").string();
    return o;
  }
  proto::AssignMsg RemoteTrain() {
    proto::AssignMsg a = Train();
    a.experiment_dir = (served_ / "exp").string();
    a.spec_path = (served_ / "exp/spec.yaml").string();
    a.log_path = (served_ / "exp/logs/7-train.log").string();
    return a;
  }
  std::string Read(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path served_;
  zmq::context_t ctx_;
  std::unique_ptr<net::FileServer> server_;
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int current_attempt_ = 2;
};

TEST_F(RemoteFilesTest, FetchesInputsRunsOnTheMirrorAndUploadsOutputs) {
  setenv("FAKE_MODE", "remote", 1);
  Executor e(Options());
  e.Start(RemoteTrain(), /*remote_files=*/true);
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done.has_value());
  std::string log;
  for (const auto& l : ev.log_lines) log += l + "\n";
  ASSERT_TRUE(ev.done->ok) << ev.done->error << "\n" << log;
  const std::string mirror = (dir_ / "cache/mirror").string();
  EXPECT_NE(log.find("mirror root: " + mirror), std::string::npos) << log;
  EXPECT_NE(log.find("--experiment " + mirror + served_.string() + "/exp"), std::string::npos) << log;
  // The engine saw the coordinator's checkpoint (fetched), and only what a fold-1 training reads.
  EXPECT_NE(log.find("resuming from: checkpoint of attempt 1"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(mirror + served_.string() + "/exp/plans.json"));
  EXPECT_FALSE(fs::exists(mirror + served_.string() + "/exp/fold_0"));
  // Its outputs and the log are on the coordinator's side, and reported.
  EXPECT_EQ(Read(served_ / "exp/fold_1/checkpoint_latest.pt"), "checkpoint of attempt 2\n");
  EXPECT_NE(Read(served_ / "exp/fold_1/training_log.jsonl").find("\"epoch\":1"), std::string::npos);
  const std::string task_log = Read(served_ / "exp/logs/7-train.log");
  EXPECT_NE(task_log.find("== attempt 2"), std::string::npos) << task_log;
  EXPECT_NE(task_log.find("== fetched 3 files"), std::string::npos) << task_log;  // spec, plans, checkpoint
  std::set<std::string> paths;
  for (const auto& f : ev.done->artifacts) paths.insert(f.path);
  EXPECT_EQ(paths, (std::set<std::string>{"fold_1/checkpoint_latest.pt", "fold_1/training_log.jsonl"}));
}

TEST_F(RemoteFilesTest, RefusedUploadsFailTheTaskAndNothingIsOverwritten) {
  setenv("FAKE_MODE", "remote", 1);
  current_attempt_ = 3;  // the coordinator gave the task to someone else meanwhile
  Executor e(Options());
  e.Start(RemoteTrain(), /*remote_files=*/true);
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done.has_value());
  EXPECT_FALSE(ev.done->ok);
  EXPECT_NE(ev.done->error.find("stale"), std::string::npos) << ev.done->error;
  EXPECT_TRUE(ev.done->artifacts.empty());
  EXPECT_EQ(Read(served_ / "exp/fold_1/checkpoint_latest.pt"), "checkpoint of attempt 1");
}

TEST_F(RemoteFilesTest, AnUnreachableCoordinatorFailsTheTaskBeforeItRuns) {
  setenv("FAKE_MODE", "remote", 1);
  ExecutorOptions o = Options();
  o.files.endpoint = "tcp://127.0.0.1:1";  // nobody there
  o.files.timeout_ms = 200;
  Executor e(o);
  e.Start(RemoteTrain(), /*remote_files=*/true);
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done.has_value());
  EXPECT_FALSE(ev.done->ok);
  EXPECT_FALSE(ev.done->permanent);  // another worker, or later, may reach it
  EXPECT_NE(ev.done->error.find("fetching the task's files"), std::string::npos) << ev.done->error;
}

TEST(ExperimentInputsTest, EachKindPullsWhatItReadsAndWrites) {
  proto::AssignMsg a;
  a.kind = "train";
  a.fold = 3;
  std::vector<std::string> p = ExperimentInputs(a);
  EXPECT_TRUE(MatchesAny("fold_3/checkpoint_latest.pt", p));
  EXPECT_TRUE(MatchesAny("nnUNetPlans_3d_fullres/case_00001.npy", p));
  EXPECT_TRUE(MatchesAny("plans.json", p));
  EXPECT_FALSE(MatchesAny("fold_2/checkpoint_latest.pt", p));
  EXPECT_FALSE(MatchesAny("predictions/case_00009.nii.gz", p));
  EXPECT_FALSE(ReadsRawData(a));
  a.kind = "predict";
  a.checkpoint = "best";
  p = ExperimentInputs(a);
  EXPECT_TRUE(MatchesAny("fold_0/checkpoint_best.pt", p));
  EXPECT_FALSE(MatchesAny("fold_0/checkpoint_final.pt", p));
  EXPECT_FALSE(MatchesAny("nnUNetPlans_3d_fullres/case_00001.npy", p));
  EXPECT_TRUE(ReadsRawData(a));
  a.checkpoint.clear();
  EXPECT_TRUE(MatchesAny("fold_4/checkpoint_final.pt", ExperimentInputs(a)));
}

TEST(NeedsRemoteFilesTest, TheTokenDecides) {
  const fs::path root = fs::temp_directory_path() / ("nephron_token_" + std::to_string(getpid()));
  fs::create_directories(root);
  std::ofstream(root / ".nephron-root") << "0123456789abcdef0123456789abcdef";
  EXPECT_FALSE(NeedsRemoteFiles("auto", root.string(), "0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(NeedsRemoteFiles("auto", root.string(), "ffffffffffffffffffffffffffffffff"));  // another machine's folder
  EXPECT_TRUE(NeedsRemoteFiles("auto", (root / "missing").string(), "0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(NeedsRemoteFiles("auto", (root / "missing").string(), ""));  // a coordinator without the token
  EXPECT_TRUE(NeedsRemoteFiles("fetch", root.string(), "0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(NeedsRemoteFiles("shared", (root / "missing").string(), "0123"));
  fs::remove_all(root);
}

TEST(EngineCommandTest, EveryKindMapsToAnEngineCommand) {
  ExecutorOptions o;
  o.engine = "/bin/nephron";
  o.device = "cuda:1";
  o.threads = 4;
  o.kill_after_ms = 1000;
  proto::AssignMsg a;
  a.experiment_dir = "/e";
  a.data_dir = "/d";
  a.spec_path = "/e/spec.yaml";
  a.output_dir = "/e/predictions";
  a.fold = 3;
  a.shard = 1;
  a.num_shards = 2;
  auto cmd = [&](const std::string& kind) {
    a.kind = kind;
    std::string s;
    for (const auto& x : EngineCommand(a, o)) s += (s.empty() ? "" : " ") + x;
    return s;
  };
  EXPECT_EQ(cmd("fingerprint"), "/bin/nephron fingerprint --data /d --experiment /e --spec /e/spec.yaml --shard 1/2 --threads 4");
  EXPECT_EQ(cmd("plan"), "/bin/nephron plan --data /d --experiment /e --spec /e/spec.yaml --threads 4");
  EXPECT_EQ(cmd("train"),
            "/bin/nephron train --experiment /e --fold 3 --spec /e/spec.yaml --device cuda:1 --threads 4 --continue");
  EXPECT_EQ(cmd("validate"), "/bin/nephron validate --experiment /e --fold 3 --spec /e/spec.yaml --device cuda:1 --threads 4");
  EXPECT_EQ(cmd("predict"),
            "/bin/nephron predict --experiment /e --input /d --test-set --spec /e/spec.yaml --output /e/predictions "
            "--shard 1/2 --device cuda:1 --threads 4");
  EXPECT_EQ(cmd("evaluate"), "/bin/nephron evaluate --pred /e/predictions --gt /d --out /e/predictions/evaluation.json --threads 4");
  EXPECT_TRUE(EngineCommand([&] { a.kind = "format-disk"; return a; }(), o).empty());
  a.threads = 1;  // the spec's resources.threads wins over the worker's --threads
  EXPECT_EQ(cmd("plan"), "/bin/nephron plan --data /d --experiment /e --spec /e/spec.yaml --threads 1");
  // A worker with a device plugin passes it to every task.
  o.device = "npu:0";
  o.device_plugin = "/opt/ascend/libtorch_npu.so";
  EXPECT_EQ(cmd("train"), "/bin/nephron train --experiment /e --fold 3 --spec /e/spec.yaml --device npu:0 --threads 1 "
                          "--continue --device-plugin /opt/ascend/libtorch_npu.so");
  EXPECT_EQ(cmd("plan"), "/bin/nephron plan --data /d --experiment /e --spec /e/spec.yaml --threads 1 --device-plugin "
                         "/opt/ascend/libtorch_npu.so");
}

TEST(ParseTest, ProgressAndMetricLines) {
  proto::ProgressMsg p;
  ASSERT_TRUE(ParseProgressLine("[preprocess] 3/12 case_00004 done", &p));
  EXPECT_EQ(p.stage, "preprocess");
  EXPECT_EQ(p.done, 3);
  EXPECT_EQ(p.total, 12);
  EXPECT_EQ(p.message, "case_00004 done");
  EXPECT_FALSE(ParseProgressLine("[12:00:01 I] worker registered", &p));
  EXPECT_FALSE(ParseProgressLine("plain output", &p));
  proto::MetricMsg m;
  EXPECT_FALSE(ParseMetricLine("{not json", &m));
  EXPECT_FALSE(ParseMetricLine("{\"train_loss\": 1}", &m));  // no epoch
}

}  // namespace
}  // namespace nephron::worker
