#include "worker/artifacts.h"
#include "worker/executor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace nephron::worker {
namespace {

namespace fs = std::filesystem;

// A stand-in for the `nephron` binary: a shell script whose behaviour the
// test chooses through FAKE_MODE.
const char* kFakeEngine = R"(#!/bin/sh
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
  hang) trap 'echo "saving checkpoint"; exit 3' TERM; echo "[train] 0/10 started"; while true; do sleep 0.05; done;;
esac
)";

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
  Executor e({engine_, "cpu", 2, 30000, ""});
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
  Executor e({engine_, "cpu", 2, 30000, ""});
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
  Executor e({engine_, "cpu", 2, 30000, ""});
  e.Start(Train());
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_TRUE(ev.done->permanent);
  EXPECT_NE(ev.done->error.find("train.epochs"), std::string::npos);
}

TEST_F(ExecutorTest, CorruptInputIsPermanent) {
  setenv("FAKE_MODE", "corrupt", 1);
  Executor e({engine_, "cpu", 2, 30000, ""});
  e.Start(Train());
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_TRUE(ev.done->permanent);
  EXPECT_EQ(ev.done->exit_code, 4);
}

TEST_F(ExecutorTest, CancelSendsSigtermAndReportsCancelled) {
  setenv("FAKE_MODE", "hang", 1);
  Executor e({engine_, "cpu", 2, 30000, ""});
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
  Executor e({(dir_ / "no-such-binary").string(), "cpu", 2, 30000, ""});
  e.Start(Train());
  ExecEvents ev = RunToEnd(e);
  ASSERT_TRUE(ev.done);
  EXPECT_FALSE(ev.done->ok);
  EXPECT_EQ(ev.done->exit_code, 127);
  EXPECT_NE(ev.done->error.find("no-such-binary"), std::string::npos) << ev.done->error;
}

TEST_F(ExecutorTest, NoopTaskFinishesAndCanBeCancelled) {
  Executor e({engine_, "cpu", 1, 30000, ""});
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

TEST(EngineCommandTest, EveryKindMapsToAnEngineCommand) {
  ExecutorOptions o{"/bin/nephron", "cuda:1", 4, 1000, ""};
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
