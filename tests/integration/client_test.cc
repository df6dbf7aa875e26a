// The `nephron` client commands as a user runs them: the real binary against
// nothing listening (clear message, exit 1), and against a real HTTP API
// served from this test process over an in-memory store and a fake Control
// (what the commands print, send and exit with).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/fs_util.h"
#include "common/json_util.h"
#include "coordinator/http_api.h"
#include "tests/fakes/fake_control.h"
#include "tests/fakes/run_nephron.h"

namespace nephron {
namespace {

using testing::Nephron;

constexpr char kToken[] = "client-test-token";

// A loopback port that nothing listens on (bound, read back, closed).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Keeps the developer's own environment and config file out of the tests.
class ClientEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nephron_client_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ::setenv("NEPHRON_CONFIG", (dir_ / "no-config").c_str(), 1);
    ::unsetenv("NEPHRON_COORDINATOR");
    ::unsetenv("NEPHRON_TOKEN");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

using ClientOfflineTest = ClientEnvTest;

TEST_F(ClientOfflineTest, UnreachableCoordinatorIsAClearErrorForEveryCommand) {
  const std::string url = "http://127.0.0.1:" + std::to_string(FreePort());
  ASSERT_TRUE(WriteFileAtomic((dir_ / "spec.yaml").string(), "name: x\n").ok());
  for (const std::string& cmd : std::vector<std::string>{"status", "status 3", "workers",
                                                          "submit " + (dir_ / "spec.yaml").string(), "logs 5",
                                                          "logs 5 -f", "cancel 3", "retry 5", "results 3",
                                                          "results 3 --json", "drain w1"}) {
    auto r = Nephron(cmd + " --coordinator " + url);
    EXPECT_EQ(r.code, 1) << cmd << "\n" << r.out;
    EXPECT_TRUE(Contains(r.out, "cannot reach the coordinator at " + url + ": ")) << cmd << "\n" << r.out;
    EXPECT_TRUE(Contains(r.out, "start it with nephron-coordinator or pass --coordinator")) << r.out;
  }
}

TEST_F(ClientOfflineTest, CoordinatorComesFromEnvThenConfigFile) {
  const std::string from_env = "http://127.0.0.1:" + std::to_string(FreePort());
  ::setenv("NEPHRON_COORDINATOR", from_env.c_str(), 1);
  EXPECT_TRUE(Contains(Nephron("workers").out, "coordinator at " + from_env + ":"));
  ::unsetenv("NEPHRON_COORDINATOR");

  const std::string from_file = "http://127.0.0.1:" + std::to_string(FreePort());
  ASSERT_TRUE(WriteFileAtomic((dir_ / "config").string(), "# mine\ncoordinator = " + from_file + "\n").ok());
  ::setenv("NEPHRON_CONFIG", (dir_ / "config").c_str(), 1);
  EXPECT_TRUE(Contains(Nephron("workers").out, "coordinator at " + from_file + ":"));
  // The flag wins over both.
  const std::string from_flag = "127.0.0.1:" + std::to_string(FreePort());
  EXPECT_TRUE(Contains(Nephron("workers --coordinator " + from_flag).out, "coordinator at http://" + from_flag + ":"));
}

TEST_F(ClientOfflineTest, EveryClientCommandHasHelp) {
  for (const char* cmd : {"submit", "status", "logs", "cancel", "retry", "workers", "results", "drain", "local"}) {
    auto r = Nephron(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd << "\n" << r.out;
    EXPECT_TRUE(Contains(r.out, std::string("nephron ") + cmd)) << r.out;
    if (std::string(cmd) != "local") {
      EXPECT_TRUE(Contains(r.out, "--coordinator")) << cmd;
    }
  }
  EXPECT_TRUE(Contains(Nephron("--help").out, "submit"));
}

TEST_F(ClientOfflineTest, UsageErrorsExit2) {
  EXPECT_EQ(Nephron("status notanumber").code, 2);
  EXPECT_EQ(Nephron("logs").code, 2);
  EXPECT_EQ(Nephron("submit").code, 2);
  EXPECT_EQ(Nephron("cancel 1 --bogus").code, 2);
  auto local = Nephron("local");  // neither SPEC nor --demo
  EXPECT_EQ(local.code, 2);
  EXPECT_TRUE(Contains(local.out, "SPEC.yaml or --demo")) << local.out;
  EXPECT_EQ(Nephron("local x.yaml --demo").code, 2);
  EXPECT_EQ(Nephron("local --demo --workers 0").code, 2);
}

TEST_F(ClientOfflineTest, SubmitOfAMissingSpecNamesIt) {
  auto r = Nephron("submit " + (dir_ / "nope.yaml").string() + " --coordinator http://127.0.0.1:1");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.out, (dir_ / "nope.yaml").string())) << r.out;
}

// A real HTTP API in this process: experiment 1 with a finished plan, a
// running training with two epochs of metrics and log lines, results, a worker.
class ClientServerTest : public ClientEnvTest {
 protected:
  void SetUp() override {
    ClientEnvTest::SetUp();
    store_ = coord::NewMemoryStore();
    coord::TaskRecord plan, train;
    plan.kind = "plan", plan.name = "plan";
    train.kind = "train", train.name = "train fold 0", train.fold = 0, train.deps = {0};
    coord::ExperimentRecord e;
    e.name = "demo";
    e.dir = "/exp/1-demo";
    e.created_ms = 1000;
    ASSERT_TRUE(store_->CreateExperiment(e, {plan, train}).ok());
    ASSERT_TRUE(*store_->ClaimTask(1, 0, "local-1", 2000));
    ASSERT_TRUE(*store_->FinishTask(1, 1, coord::TaskState::kSucceeded, "", false, 3000));
    ASSERT_TRUE(*store_->ClaimTask(2, 0, "local-2", 4000));
    ASSERT_TRUE(*store_->SetProgress(2, 1, 0.25, "epoch 2/8"));
    for (int epoch = 0; epoch < 2; ++epoch) {
      coord::MetricRecord m;
      m.task_id = 2, m.experiment_id = 1, m.fold = 0, m.epoch = epoch, m.attempt = 1;
      m.dice = {0.8 + 0.1 * epoch, 0.25};
      m.ema_dice = 0.4 + 0.1 * epoch;
      ASSERT_TRUE(store_->AddMetric(m).ok());
    }
    ASSERT_TRUE(store_->AppendLogs(2, 1, {"epoch 0 done", "epoch 1 done"}, 5000).ok());
    coord::WorkerRecord w;
    w.name = "local-2", w.host = "box", w.device = "cpu", w.state = "busy", w.task = 2, w.attempt = 1;
    w.files = "fetch";
    w.last_heartbeat_ms = 1;
    ASSERT_TRUE(store_->UpsertWorker(w).ok());
    ASSERT_TRUE(store_->SetResults(1, R"({"experiment_id": 1, "name": "demo", "state": "succeeded",
      "folds": [{"fold": 0, "kidney_dice": 0.9, "tumor_dice": 0.5, "composite": 0.7, "cases": 4}],
      "cv": {"kidney_dice": 0.9, "tumor_dice": 0.5, "composite": 0.7},
      "cases": [{"id": "case_00020", "kidney_dice": 0.93, "tumor_dice": null, "composite": 0.93}],
      "kidney_dice": 0.93, "tumor_dice": null, "composite": 0.93,
      "predictions_dir": "/exp/1-demo/predictions", "previews_dir": "/exp/1-demo/previews"})")
                    .ok());
    coord::HttpOptions o;
    o.token = kToken;
    api_ = std::make_unique<coord::HttpApi>(store_.get(), &control_, o);
    ASSERT_TRUE(api_->Start().ok());
    conn_ = " --coordinator http://127.0.0.1:" + std::to_string(api_->port()) + " --token " + kToken;
  }
  void TearDown() override {
    api_.reset();
    ClientEnvTest::TearDown();
  }

  std::unique_ptr<coord::Store> store_;
  testing::FakeControl control_;
  std::unique_ptr<coord::HttpApi> api_;
  std::string conn_;
};

TEST_F(ClientServerTest, SubmitResolvesARelativeDatasetRootAndPrintsTheId) {
  const std::string spec = (dir_ / "spec.yaml").string();
  ASSERT_TRUE(WriteFileAtomic(spec, "name: x  # mine\ndataset:\n  root: ../data   # relative\n  layout: kits19\n").ok());
  auto r = Nephron("submit " + spec + conn_);
  EXPECT_EQ(r.code, 0) << r.out;
  // The id alone on its own line (stdout), for EXP=$(nephron submit ...).
  EXPECT_TRUE(r.out.rfind("42\n", 0) == 0 || Contains(r.out, "\n42\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "nephron status 42")) << r.out;
  EXPECT_EQ(control_.Calls(), std::vector<std::string>{"submit spec.yaml"});
  const std::string root = (dir_.parent_path() / "data").lexically_normal().string();
  EXPECT_EQ(control_.LastSpec(), "name: x  # mine\ndataset:\n  root: \"" + root + "\"   # relative\n  layout: kits19\n");
}

TEST_F(ClientServerTest, RejectedSpecListsEveryProblem) {
  const std::string spec = (dir_ / "bad.yaml").string();
  ASSERT_TRUE(WriteFileAtomic(spec, "plan: {x: 1}\n").ok());
  control_.next = InvalidArgument("bad.yaml: invalid job spec (2 problems):\n  plan.x: unknown key\n  name: empty");
  auto r = Nephron("submit " + spec + conn_);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.out, "rejected " + spec)) << r.out;
  EXPECT_TRUE(Contains(r.out, "plan.x: unknown key")) << r.out;
  EXPECT_TRUE(Contains(r.out, "name: empty")) << r.out;
}

TEST_F(ClientServerTest, AWrongTokenIsRefusedWithAHint) {
  auto r = Nephron("cancel 1 --coordinator http://127.0.0.1:" + std::to_string(api_->port()) + " --token wrong");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.out, "refused the token (from --token)")) << r.out;
  ::setenv("NEPHRON_TOKEN", kToken, 1);
  EXPECT_EQ(Nephron("cancel 1 --coordinator http://127.0.0.1:" + std::to_string(api_->port())).code, 0);
  EXPECT_EQ(control_.Calls(), std::vector<std::string>{"cancel 1"});
}

TEST_F(ClientServerTest, TokenFromTheConfigFilesTokenFile) {
  ASSERT_TRUE(WriteFileAtomic((dir_ / "token").string(), std::string(kToken) + "\n").ok());
  ASSERT_TRUE(WriteFileAtomic((dir_ / "config").string(), "coordinator = http://127.0.0.1:" +
                                                              std::to_string(api_->port()) + "\ntoken_file = token\n")
                  .ok());
  ::setenv("NEPHRON_CONFIG", (dir_ / "config").c_str(), 1);
  auto r = Nephron("retry 2");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(control_.Calls(), std::vector<std::string>{"retry 2"});
}

TEST_F(ClientServerTest, StatusListsExperimentsAndTheTaskGraph) {
  auto list = Nephron("status" + conn_);
  EXPECT_EQ(list.code, 0) << list.out;
  EXPECT_TRUE(Contains(list.out, "demo")) << list.out;
  EXPECT_TRUE(Contains(list.out, "running")) << list.out;
  EXPECT_TRUE(Contains(list.out, "0.500")) << list.out;  // best CV Dice (EMA)

  auto one = Nephron("status 1" + conn_);
  EXPECT_EQ(one.code, 0) << one.out;
  EXPECT_TRUE(Contains(one.out, "train fold 0")) << one.out;
  EXPECT_TRUE(Contains(one.out, "local-2")) << one.out;
  EXPECT_TRUE(Contains(one.out, "25%")) << one.out;
  EXPECT_TRUE(Contains(one.out, "epoch 2/8")) << one.out;
  EXPECT_TRUE(Contains(one.out, "epoch 1: pseudo Dice 0.900/0.250, EMA 0.500")) << one.out;
  EXPECT_LT(one.out.find("\nplan"), one.out.find("\ntrain")) << one.out;

  auto missing = Nephron("status 99" + conn_);
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(Contains(missing.out, "99")) << missing.out;
}

TEST_F(ClientServerTest, LogsPrintsAndFollowStopsAtTheEnd) {
  auto r = Nephron("logs 2" + conn_);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "epoch 0 done\nepoch 1 done\n");
  ASSERT_TRUE(*store_->FinishTask(2, 1, coord::TaskState::kSucceeded, "", false, 6000));
  auto f = Nephron("logs 2 -f" + conn_);  // a finished task: follows no further
  EXPECT_EQ(f.code, 0);
  EXPECT_EQ(f.out, "epoch 0 done\nepoch 1 done\n");
}

TEST_F(ClientServerTest, ResultsTableAndJson) {
  auto t = Nephron("results 1" + conn_);
  EXPECT_EQ(t.code, 0) << t.out;
  for (const char* part : {"case_00020", "0.930", "0.700", "/exp/1-demo/predictions", "KiTS composite"})
    EXPECT_TRUE(Contains(t.out, part)) << part << "\n" << t.out;
  auto j = Nephron("results 1 --json" + conn_);
  EXPECT_EQ(j.code, 0);
  Json parsed = Json::parse(j.out);
  EXPECT_DOUBLE_EQ(parsed["kidney_dice"].get<double>(), 0.93);
  EXPECT_EQ(parsed["folds"][0]["cases"], 4);
  EXPECT_TRUE(Contains(j.out, "\n  \"cases\"")) << "pretty-printed";
}

TEST_F(ClientServerTest, WorkersAndDrain) {
  auto w = Nephron("workers" + conn_);
  EXPECT_EQ(w.code, 0);
  for (const char* part : {"local-2", "box", "cpu", "fetch", "busy", "2 (attempt 1)", "s ago"})
    EXPECT_TRUE(Contains(w.out, part)) << part << "\n" << w.out;
  auto d = Nephron("drain 'node a'" + conn_);
  EXPECT_EQ(d.code, 0) << d.out;
  EXPECT_EQ(control_.Calls(), std::vector<std::string>{"drain node a"});
  control_.next = NotFound("worker ghost is not registered");
  auto g = Nephron("drain ghost" + conn_);
  EXPECT_EQ(g.code, 1);
  EXPECT_TRUE(Contains(g.out, "worker ghost is not registered")) << g.out;
}

}  // namespace
}  // namespace nephron
