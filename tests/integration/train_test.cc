// The training engine end to end on tiny synthetic cases: it learns, resumes
// exactly, and refuses bad input without overwriting anything.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/json_util.h"
#include "jobs/train/trainer.h"

namespace nephron::train {
namespace {

namespace fs = std::filesystem;

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::path(::testing::TempDir()) / ("train_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    // Data and preprocessing come from the real CLI, in child processes.
    const std::string spec_text =
        "plan:\n  patch_size: [16, 32, 32]\n  batch_size: 2\n  base_features: 8\n  max_features: 32\n"
        "train:\n  loader_threads: 1\n  checkpoint_every: 1\n";
    fs::create_directories(root_);
    std::ofstream((root_ / "spec.yaml").string()) << spec_text;
    const std::string bin = NEPHRON_BINARY;
    ASSERT_EQ(std::system((bin + " synth --out " + (root_ / "data").string() + " --cases 5 --seed 21 > /dev/null 2>&1").c_str()), 0);
    ASSERT_EQ(std::system((bin + " preprocess --data " + (root_ / "data").string() + " --experiment " +
                           (root_ / "base").string() + " --spec " + (root_ / "spec.yaml").string() + " > /dev/null 2>&1").c_str()), 0);
    spec_ = *ParseJobSpec(spec_text, "test-spec");
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A fresh experiment folder (plans, splits, preprocessed cases; no folds).
  static std::string Fresh(const std::string& name) {
    const fs::path d = root_ / name;
    fs::remove_all(d);
    fs::copy(root_ / "base", d, fs::copy_options::recursive);
    return d.string();
  }
  static TrainOptions Options(const std::string& exp, int epochs, int iterations) {
    TrainOptions o;
    o.experiment_dir = exp;
    o.fold = "0";
    o.epochs = epochs;
    o.iterations = iterations;
    o.val_iterations = 2;
    o.threads = 2;
    o.spec = spec_;
    return o;
  }
  static std::string Digest(const std::string& path) {
    auto info = ReadCheckpointInfo(path);
    EXPECT_TRUE(info.ok()) << info.status().message();
    return info.ok() ? info->weights_digest : "";
  }

  static fs::path root_;
  static JobSpec spec_;
};
fs::path TrainTest::root_;
JobSpec TrainTest::spec_;

TEST_F(TrainTest, LearnsKidneysOnTinyPhantoms) {
  // Augmentation is off here so that a few hundred iterations suffice; it is
  // tested on its own (augment_test) and on in the resume tests.
  TrainOptions o = Options(Fresh("learn"), 16, 25);
  o.spec.train.augmentation = false;
  o.fold = "all";
  o.val_iterations = 10;
  auto r = TrainFold(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->log.size(), 16u);
  const EpochRecord& last = r->log.back();
  ASSERT_TRUE(last.pseudo_dice[0].has_value());
  EXPECT_GE(*last.pseudo_dice[0], 0.9) << EpochLine(last, 16);
  EXPECT_LT(last.train_loss, r->log.front().train_loss);
  EXPECT_LT(last.lr, r->log.front().lr);
  for (const char* f : {"checkpoint_latest.pt", "checkpoint_best.pt", "checkpoint_final.pt", "training_log.jsonl"})
    EXPECT_TRUE(fs::exists(fs::path(r->fold_dir) / f)) << f;
  std::ifstream log(fs::path(r->fold_dir) / "training_log.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line);) {
    auto j = Json::parse(line);
    EXPECT_EQ(j["epoch"], ++lines);
    EXPECT_TRUE(j.contains("data_wait_fraction"));
  }
  EXPECT_EQ(lines, 16);
}

TEST_F(TrainTest, ResumeAfterAnEpochOrMidEpochGivesIdenticalWeights) {
  const std::string straight = Fresh("straight");
  auto a = TrainFold(Options(straight, 4, 3));
  ASSERT_TRUE(a.ok()) << a.status().message();
  const std::string want = Digest(straight + "/fold_0/checkpoint_final.pt");

  // Stopped after epoch 2, resumed.
  const std::string split = Fresh("split");
  TrainOptions first = Options(split, 4, 3);
  first.stop_after_epoch = 2;
  auto b = TrainFold(first);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_TRUE(b->interrupted);
  EXPECT_FALSE(fs::exists(split + "/fold_0/checkpoint_final.pt"));
  TrainOptions second = Options(split, 4, 3);
  second.resume = true;
  auto c = TrainFold(second);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->log.size(), 4u);
  EXPECT_EQ(Digest(split + "/fold_0/checkpoint_final.pt"), want);

  // Stopped by a signal somewhere inside an epoch, resumed.
  const std::string mid = Fresh("mid");
  std::atomic<bool> stop{false};
  TrainOptions third = Options(mid, 4, 3);
  third.stop_flag = &stop;
  std::thread stopper([&] {
    while (!fs::exists(mid + "/fold_0/checkpoint_best.pt")) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop = true;
  });
  auto d = TrainFold(third);
  stopper.join();
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_TRUE(d->interrupted);
  TrainOptions fourth = Options(mid, 4, 3);
  fourth.resume = true;
  auto e = TrainFold(fourth);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_FALSE(e->interrupted);
  EXPECT_EQ(Digest(mid + "/fold_0/checkpoint_final.pt"), want);
  // The log holds each epoch exactly once.
  std::ifstream log(mid + "/fold_0/training_log.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line);) EXPECT_EQ(Json::parse(line)["epoch"], ++lines);
  EXPECT_EQ(lines, 4);
}

// The way a user or a scheduler interrupts training: the `nephron train`
// process gets SIGTERM (saves at the current iteration, exit 3) or SIGKILL
// (loses at most the epoch in progress); `--resume` then ends with the same
// weights as an uninterrupted run.
TEST_F(TrainTest, CliSurvivesSigtermAndSigkill) {
  const std::string straight = Fresh("cli_straight");
  auto a = TrainFold(Options(straight, 5, 4));
  ASSERT_TRUE(a.ok()) << a.status().message();
  const std::string want = Digest(straight + "/fold_0/checkpoint_final.pt");
  const std::string bin = NEPHRON_BINARY;
  for (int sig : {SIGTERM, SIGKILL}) {
    const std::string exp = Fresh(sig == SIGTERM ? "cli_term" : "cli_kill");
    const std::string args = " --experiment " + exp + " --fold 0 --epochs 5 --iterations 4 --val-iterations 2 --threads 2 --spec " +
                             (root_ / "spec.yaml").string();
    const pid_t pid = fork();
    if (pid == 0) {
      const std::string cmd = "exec " + bin + " train" + args + " > " + exp + "/train.out 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Wait for the second epoch's checkpoint, then interrupt.
    for (int i = 0; i < 6000; ++i) {
      std::ifstream log(exp + "/fold_0/training_log.jsonl");
      int lines = 0;
      for (std::string l; std::getline(log, l);) ++lines;
      if (lines >= 2) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    if (sig == SIGTERM) {
      ASSERT_TRUE(WIFEXITED(status));
      EXPECT_EQ(WEXITSTATUS(status), 3);
    } else {
      EXPECT_TRUE(WIFSIGNALED(status));
    }
    ASSERT_TRUE(fs::exists(exp + "/fold_0/checkpoint_latest.pt"));
    EXPECT_FALSE(fs::exists(exp + "/fold_0/checkpoint_final.pt"));
    ASSERT_EQ(std::system((bin + " train" + args + " --resume > " + exp + "/resume.out 2>&1").c_str()), 0);
    EXPECT_EQ(Digest(exp + "/fold_0/checkpoint_final.pt"), want) << (sig == SIGTERM ? "SIGTERM" : "SIGKILL");
    std::ifstream log(exp + "/fold_0/training_log.jsonl");
    int lines = 0;
    for (std::string line; std::getline(log, line);) EXPECT_EQ(Json::parse(line)["epoch"], ++lines);
    EXPECT_EQ(lines, 5);
  }
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

int CountLines(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// `--continue` is what a worker runs on every attempt of a training task:
// fresh fold -> trains; stopped fold -> resumes (does not restart); finished
// fold -> exit 0 at once, nothing rewritten; more epochs asked -> continues.
TEST_F(TrainTest, ContinueStartsResumesOrLeavesAFinishedFoldAlone) {
  const std::string exp = Fresh("continue");
  const std::string bin = NEPHRON_BINARY, fold = exp + "/fold_0";
  auto train = [&](const std::string& extra, const std::string& out) {
    const std::string cmd = bin + " train --experiment " + exp + " --fold 0 --iterations 2 --val-iterations 2 --threads 2 --spec " +
                            (root_ / "spec.yaml").string() + " " + extra + " > " + exp + "/" + out + " 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  auto slurp = [&](const std::string& out) {
    std::ifstream in(exp + "/" + out);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };

  // Fresh fold: trains (stopped after its first epoch, as a crash would leave it).
  ASSERT_EQ(train("--epochs 3 --continue --stop-after-epoch 1", "a.out"), 3) << slurp("a.out");
  ASSERT_TRUE(fs::exists(fold + "/checkpoint_latest.pt"));
  ASSERT_FALSE(fs::exists(fold + "/checkpoint_final.pt"));
  const std::string epoch1 = FirstLine(fold + "/training_log.jsonl");
  ASSERT_FALSE(epoch1.empty());

  // Stopped fold: resumes at epoch 2; epoch 1's record (with its timing) is kept, not redone.
  ASSERT_EQ(train("--epochs 3 --continue", "b.out"), 0) << slurp("b.out");
  EXPECT_EQ(slurp("b.out").find("] 1/3 epoch 1/3"), std::string::npos) << slurp("b.out");
  EXPECT_NE(slurp("b.out").find("] 3/3 epoch 3/3"), std::string::npos) << slurp("b.out");
  EXPECT_EQ(FirstLine(fold + "/training_log.jsonl"), epoch1);
  EXPECT_EQ(CountLines(fold + "/training_log.jsonl"), 3);
  const std::string final_path = fold + "/checkpoint_final.pt";
  ASSERT_TRUE(fs::exists(final_path));
  const std::string digest = Digest(final_path);
  const auto final_time = fs::last_write_time(final_path);
  const auto latest_time = fs::last_write_time(fold + "/checkpoint_latest.pt");
  const auto log_time = fs::last_write_time(fold + "/training_log.jsonl");

  // Finished fold: exit 0, says so, writes nothing.
  ASSERT_EQ(train("--epochs 3 --continue", "c.out"), 0) << slurp("c.out");
  EXPECT_NE(slurp("c.out").find("already complete (3/3 epochs"), std::string::npos) << slurp("c.out");
  EXPECT_EQ(fs::last_write_time(final_path), final_time);
  EXPECT_EQ(fs::last_write_time(fold + "/checkpoint_latest.pt"), latest_time);
  EXPECT_EQ(fs::last_write_time(fold + "/training_log.jsonl"), log_time);
  EXPECT_EQ(Digest(final_path), digest);

  // More epochs than the final checkpoint covers: continues from it.
  ASSERT_EQ(train("--epochs 4 --continue", "d.out"), 0) << slurp("d.out");
  EXPECT_NE(slurp("d.out").find("] 4/4 epoch 4/4"), std::string::npos) << slurp("d.out");
  EXPECT_EQ(CountLines(fold + "/training_log.jsonl"), 4);
  EXPECT_NE(Digest(final_path), digest);

  EXPECT_EQ(train("--epochs 4 --continue --resume", "e.out"), 2) << slurp("e.out");  // one or the other
}

TEST_F(TrainTest, BadInputIsRefusedAndNothingIsOverwritten) {
  const std::string exp = Fresh("bad");
  TrainOptions o = Options(exp, 1, 1);
  o.fold = "7";
  auto f = TrainFold(o);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("has 5 folds"), std::string::npos) << f.status().message();

  o.fold = "0";
  o.device = "tpu";
  EXPECT_EQ(TrainFold(o).status().code(), StatusCode::kInvalidArgument);
  o.device = "cpu";

  ASSERT_TRUE(TrainFold(o).ok());
  const std::string latest = exp + "/fold_0/checkpoint_latest.pt";
  const auto before = fs::last_write_time(latest);
  auto again = TrainFold(o);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(fs::last_write_time(latest), before);

  fs::resize_file(latest, fs::file_size(latest) / 2);
  o.resume = true;
  o.epochs = 2;
  auto corrupt = TrainFold(o);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(corrupt.status().message().find("checkpoint_latest.pt"), std::string::npos);
  auto info = ReadCheckpointInfo(latest);
  EXPECT_FALSE(info.ok());

  fs::remove(exp + "/plans.json");
  auto noplan = TrainFold(Options(exp, 1, 1));
  ASSERT_FALSE(noplan.ok());
  EXPECT_NE(noplan.status().message().find("plans.json"), std::string::npos);
}

TEST_F(TrainTest, TrainsOnGpu_CUDA) {
  if (!CheckDevice("cuda:0").ok()) GTEST_SKIP() << "no CUDA device";
  TrainOptions o = Options(Fresh("cuda"), 2, 3);
  o.device = "cuda:0";
  auto r = TrainFold(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->log.size(), 2u);
}

}  // namespace
}  // namespace nephron::train
