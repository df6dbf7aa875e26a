// The coordinator and workers as real processes on loopback, running a tiny
// experiment end to end: two workers, a worker killed with SIGKILL in the
// middle of a fold training, the coordinator killed with SIGKILL and
// restarted; cancellation that survives a restart; protocol refusal.
// State is checked in the coordinator's SQLite database (read through the
// Store) and in the experiment folder.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/curve.h"
#include "common/file_transfer.h"
#include "coordinator/store.h"
#include "tests/fakes/daemons.h"
#include "tests/fakes/experiment_checks.h"
#include "tests/fakes/run_nephron.h"

namespace nephron {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::CoordinatorInfo;
using testing::Daemon;
using testing::Nephron;
using testing::WaitFor;

class OrchestrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nephron_orch_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    const CmdResult r = Nephron("synth --out " + (root_ / "data").string() + " --cases 7 --seed 5 --size tiny");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() {
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(root_);
  }

  void SetUp() override {
    dir_ = root_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  std::string P(const std::string& name) const { return (dir_ / name).string(); }

  // A tiny experiment: 2 folds, 6 training cases and one held-out test case.
  std::string WriteSpec(int epochs) {
    std::ofstream(P("spec.yaml")) << "name: tiny\n"
                                  << "dataset:\n  root: " << (root_ / "data").string()
                                  << "\n  test_cases: [case_00006]\n"
                                     "plan:\n  num_folds: 2\n  patch_size: [16, 32, 32]\n  batch_size: 2\n"
                                     "  base_features: 8\n  max_features: 32\n"
                                     "train:\n  epochs: "
                                  << epochs
                                  << "\n  iterations_per_epoch: 10\n  val_iterations: 2\n  checkpoint_every: 1\n"
                                     "inference:\n  tta: false\n"
                                     "resources:\n  fingerprint_shards: 2\n  preprocess_shards: 2\n  predict_shards: 1\n"
                                     "retry:\n  backoff_seconds: 0.5\n";
    return P("spec.yaml");
  }

  // Starts (or restarts, on the same ports) the coordinator.
  void StartCoordinator(const std::string& zmq_port = "0", const std::string& http_port = "0",
                        const std::vector<std::string>& extra = {}) {
    fs::remove(P("ready"));
    std::vector<std::string> argv = {NEPHRON_COORDINATOR, "--db", P("nephron.db"), "--bind",
                                     "tcp://127.0.0.1:" + zmq_port, "--http", "127.0.0.1:" + http_port,
                                     "--data-root", dir_.string(), "--ready-file", P("ready"), "--heartbeat-ms",
                                     "300", "--liveness", "4", "--grace-ms", "500"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    coordinator_ = Daemon(argv, P("coordinator.log"));
    ASSERT_TRUE(testing::WaitReady(P("ready"), &info_)) << coordinator_.Log();
  }
  Daemon StartWorker(const std::string& name, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {NEPHRON_WORKER, "--coordinator", info_.zmq, "--name", name, "--threads", "1",
                                     "--engine", NEPHRON_BINARY};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Daemon(argv, P(name + ".log"));
  }
  int64_t Submit(const std::string& spec) {
    const CmdResult r = Nephron("submit " + spec + " --coordinator " + info_.url() + " --token " + info_.token());
    EXPECT_EQ(r.code, 0) << r.out;
    const auto at = r.out.find("as experiment ");
    return at == std::string::npos ? 0 : std::atoll(r.out.c_str() + at + 14);
  }
  // Opens the coordinator's database (WAL: readers beside the daemon are fine).
  std::unique_ptr<coord::Store> Db() {
    auto s = coord::OpenSqliteStore(P("nephron.db"));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::string Logs() {
    std::string s = "--- coordinator ---\n" + coordinator_.Log();
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().extension() == ".log" && e.path().filename() != "coordinator.log") {
        std::ifstream in(e.path());
        s += "--- " + e.path().filename().string() + " ---\n" + std::string(std::istreambuf_iterator<char>(in), {});
      }
    return s;
  }

  static fs::path root_;
  fs::path dir_;
  Daemon coordinator_;
  CoordinatorInfo info_;
};
fs::path OrchestrationTest::root_;

std::string Port(const std::string& endpoint) { return endpoint.substr(endpoint.rfind(':') + 1); }

TEST_F(OrchestrationTest, SurvivesKilledWorkerAndKilledCoordinator) {
  const int kEpochs = 16;
  const std::string spec = WriteSpec(kEpochs);
  StartCoordinator();
  std::map<std::string, Daemon> workers;
  workers["w1"] = StartWorker("w1");
  workers["w2"] = StartWorker("w2");
  const int64_t exp = Submit(spec);
  ASSERT_GT(exp, 0);
  auto db = Db();

  // 1. SIGKILL the worker that trains a fold once it has 2 epochs behind it.
  coord::TaskRecord victim;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto metrics = db->Metrics(exp);
        if (!metrics.ok()) return false;
        for (const auto& m : *metrics) {
          auto t = db->GetTask(m.task_id);
          if (m.epoch >= 2 && t.ok() && t->state == coord::TaskState::kRunning) {
            victim = *t;
            return true;
          }
        }
        return false;
      },
      300))
      << Logs();
  ASSERT_TRUE(workers.count(victim.worker)) << victim.worker;
  workers[victim.worker].Stop(SIGKILL);
  workers["w3"] = StartWorker("w3");

  // 2. SIGKILL the coordinator while the victim's fold runs again, restart it on the same ports.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto t = db->GetTask(victim.id);
        return t.ok() && t->attempt == 2 && t->state == coord::TaskState::kRunning;
      },
      120))
      << Logs();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const std::string zmq_port = Port(info_.zmq), http_port = Port(info_.http);
  coordinator_.Stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  StartCoordinator(zmq_port, http_port);
  // The training that kept running meanwhile is adopted, not started again.
  ASSERT_TRUE(WaitFor([&] { return coordinator_.Log().find("still runs task " + std::to_string(victim.id)) !=
                                   std::string::npos; }, 30))
      << Logs();

  // 3. Everything completes.
  ASSERT_TRUE(testing::WaitFinished(*db, exp, 600)) << Logs();
  auto e = db->GetExperiment(exp);
  ASSERT_EQ(e->state, coord::ExperimentState::kSucceeded) << e->error << "\n" << Logs();

  // No task lost or done twice: every task succeeded; only the victim needed a second attempt;
  // every epoch's metrics recorded exactly once, for every fold.
  testing::ExpectEachTaskOnceAndEveryEpochOnce(*db, exp, victim.id, kEpochs, 2);
  // The victim's second attempt resumed from its checkpoint, not from epoch 0.
  const std::string victim_log = testing::TaskLog(e->dir, victim.id);
  const auto second = victim_log.find("== attempt 2:");
  ASSERT_NE(second, std::string::npos) << victim_log;
  EXPECT_NE(victim_log.find("resum", second), std::string::npos) << victim_log;

  // Every task's outputs are recorded with size and content hash.
  auto artifacts = db->Artifacts(exp);
  ASSERT_TRUE(artifacts.ok());
  std::map<std::string, coord::ArtifactRecord> by_path;
  for (const auto& a : *artifacts) by_path[a.path] = a;
  for (const char* path : {"plans.json", "fold_0/checkpoint_final.pt", "fold_1/checkpoint_final.pt",
                           "postprocessing.json", "predictions/case_00006.nii.gz", "predictions/evaluation.json"}) {
    ASSERT_TRUE(by_path.count(path)) << path;
    EXPECT_EQ(by_path[path].size, static_cast<int64_t>(fs::file_size(e->dir + "/" + path))) << path;
    EXPECT_EQ(by_path[path].sha256.size(), 64u) << path;
  }

  // results.json, and it matches the standalone engine commands on the same folds.
  std::ifstream rin(e->dir + "/results.json");
  ASSERT_TRUE(rin) << e->dir;
  const nlohmann::json results = nlohmann::json::parse(rin);
  ASSERT_EQ(results["folds"].size(), 2u);
  ASSERT_EQ(results["cases"].size(), 1u);
  EXPECT_EQ(results["cases"][0]["id"], "case_00006");
  EXPECT_FALSE(results["kidney_dice"].is_null());
  CmdResult r = Nephron("predict --experiment " + e->dir + " --input " + (root_ / "data").string() +
                        " --test-set --spec " + spec + " --output " + P("standalone") + " --threads 2");
  ASSERT_EQ(r.code, 0) << r.out;
  r = Nephron("evaluate --pred " + P("standalone") + " --gt " + (root_ / "data").string() + " --no-previews");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream sin(P("standalone/evaluation.json"));
  const nlohmann::json standalone = nlohmann::json::parse(sin);
  EXPECT_NEAR(standalone["kidney_dice"].get<double>(), results["kidney_dice"].get<double>(), 1e-9);
  EXPECT_NEAR(standalone["tumor_dice"].get<double>(), results["tumor_dice"].get<double>(), 1e-9);
  // `nephron results --json` prints the same.
  r = Nephron("results " + std::to_string(exp) + " --json --coordinator " + info_.url());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["composite"], results["composite"]);
}

TEST_F(OrchestrationTest, CancelStopsEverythingAndSurvivesARestart) {
  const std::string spec = WriteSpec(200);
  StartCoordinator();
  Daemon w = StartWorker("w1");
  const int64_t exp = Submit(spec);
  auto db = Db();
  int64_t train_task = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto tasks = db->ListTasks(exp);
        if (!tasks.ok()) return false;
        for (const auto& t : *tasks)
          if (t.kind == "train" && t.state == coord::TaskState::kRunning && t.progress > 0) train_task = t.id;
        return train_task != 0;
      },
      300))
      << Logs();
  CmdResult r = Nephron("cancel " + std::to_string(exp) + " --coordinator " + info_.url() + " --token " + info_.token());
  ASSERT_EQ(r.code, 0) << r.out;
  // The worker stops the training within moments and is idle again.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ws = db->ListWorkers();
        return ws.ok() && ws->size() == 1 && (*ws)[0].state == "idle" && (*ws)[0].task == 0;
      },
      30))
      << Logs();
  auto check_cancelled = [&] {
    auto e = db->GetExperiment(exp);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->state, coord::ExperimentState::kCancelled);
    auto tasks = db->ListTasks(exp);
    for (const auto& t : *tasks)
      if (t.state != coord::TaskState::kSucceeded) {
        EXPECT_EQ(t.state, coord::TaskState::kCancelled) << t.name;
      }
  };
  check_cancelled();
  auto t = db->GetTask(train_task);
  EXPECT_TRUE(fs::exists(db->GetExperiment(exp)->dir + "/fold_" + std::to_string(t->fold) + "/checkpoint_latest.pt"));
  // After a restart nothing runs again.
  const std::string zmq_port = Port(info_.zmq), http_port = Port(info_.http);
  coordinator_.Stop(SIGKILL);
  StartCoordinator(zmq_port, http_port);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  check_cancelled();
  auto ws = db->ListWorkers();
  ASSERT_TRUE(ws.ok());
  ASSERT_EQ(ws->size(), 1u);
  EXPECT_EQ((*ws)[0].task, 0);
}

TEST_F(OrchestrationTest, WorkerWithAnotherProtocolVersionIsRefused) {
  StartCoordinator();
  Daemon w = StartWorker("old", {"--protocol-version", "99"});
  int status = 0;
  ASSERT_TRUE(w.WaitExit(20, &status)) << Logs();
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(w.Log().find("protocol version 99 is not supported"), std::string::npos) << w.Log();
  EXPECT_NE(coordinator_.Log().find("refused old"), std::string::npos) << coordinator_.Log();
  auto ws = Db()->ListWorkers();
  ASSERT_TRUE(ws.ok());
  EXPECT_TRUE(ws->empty());
}

// CURVE: only a worker whose key is authorized registers, under its key's
// name; an unknown key is refused and logged, and nothing it sends counts.
TEST_F(OrchestrationTest, OnlyWorkersWithAnAuthorizedKeyAreAccepted) {
  for (const char* k : {"coordinator", "authorized/worker-a", "authorized/worker-b", "stranger"})
    ASSERT_EQ(Nephron(std::string("keygen --out ") + P(k)).code, 0);
  const CmdResult again = Nephron("keygen --out " + P("stranger"));
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.out.find("already exists"), std::string::npos) << again.out;
  StartCoordinator("0", "0", {"--key", P("coordinator.key"), "--authorized-keys", P("authorized")});
  const std::vector<std::string> server = {"--server-key", P("coordinator.pub")};
  std::vector<std::string> good = {"--key", P("authorized/worker-a.key")}, bad = {"--key", P("stranger.key")};
  good.insert(good.end(), server.begin(), server.end());
  bad.insert(bad.end(), server.begin(), server.end());
  Daemon a = StartWorker("a", good);
  Daemon b = StartWorker("b", bad);
  Daemon plain = StartWorker("plain");
  auto db = Db();
  ASSERT_TRUE(WaitFor([&] { auto ws = db->ListWorkers(); return ws.ok() && ws->size() == 1; }, 20)) << Logs();
  ASSERT_TRUE(WaitFor([&] { return coordinator_.Log().find("refused a worker") != std::string::npos; }, 10))
      << Logs();
  // Give the refused ones time to retry; they stay out.
  ASSERT_TRUE(WaitFor([&] { return b.Log().find("never welcomed") != std::string::npos; }, 15)) << Logs();
  auto ws = db->ListWorkers();
  ASSERT_TRUE(ws.ok());
  ASSERT_EQ(ws->size(), 1u);
  EXPECT_EQ((*ws)[0].name, "a");
  EXPECT_EQ((*ws)[0].key_name, "worker-a");
  EXPECT_NE(coordinator_.Log().find(std::string("registered (cpu on ")), std::string::npos);
  EXPECT_NE(coordinator_.Log().find("key worker-a"), std::string::npos) << coordinator_.Log();
  // A plain-TCP worker fails the handshake before any message: not registered either (size 1 above).
  // Another authorized key cannot take over a live worker's name.
  std::vector<std::string> imposter_keys = {"--key", P("authorized/worker-b.key")};
  imposter_keys.insert(imposter_keys.end(), server.begin(), server.end());
  Daemon imposter = StartWorker("a", imposter_keys);
  ASSERT_TRUE(WaitFor([&] { return coordinator_.Log().find("in use by another key") != std::string::npos; }, 15))
      << Logs();
  EXPECT_EQ(Db()->GetWorker("a")->key_name, "worker-a");
  EXPECT_EQ(Db()->ListWorkers()->size(), 1u);

  // Files over the same CURVE link: an authorized key fetches from the data
  // root; an unknown key gets no answer at all.
  std::ofstream(P("artifact.bin")) << std::string(300000, 'x');
  zmq::context_t ctx;
  auto client_with = [&](const std::string& key) {
    net::FileClientOptions o;
    o.endpoint = info_.zmq;
    o.timeout_ms = 500;
    o.max_retries = 1;
    auto k = net::ReadCurveSecretKey(P(key));
    EXPECT_TRUE(k.ok());
    o.curve = {k->secret_key, k->public_key, *net::ReadCurvePublicKey(P("coordinator.pub"))};
    return net::FileClient(ctx, o);
  };
  auto fetched = client_with("authorized/worker-a.key").Fetch("artifact.bin", P("fetched/artifact.bin"));
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fs::file_size(P("fetched/artifact.bin")), 300000u);
  auto refused = client_with("stranger.key").Fetch("artifact.bin", P("stolen/artifact.bin"));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  EXPECT_FALSE(fs::exists(P("stolen/artifact.bin")));
}

TEST_F(OrchestrationTest, PlainTcpOffLoopbackNeedsInsecure) {
  Daemon w({NEPHRON_WORKER, "--coordinator", "tcp://192.0.2.1:5555", "--engine", NEPHRON_BINARY}, P("w.log"));
  int status = 0;
  ASSERT_TRUE(w.WaitExit(10, &status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(w.Log().find("--insecure"), std::string::npos) << w.Log();
  Daemon c({NEPHRON_COORDINATOR, "--db", P("x.db"), "--bind", "tcp://*:0", "--http", "127.0.0.1:0"}, P("c.log"));
  ASSERT_TRUE(c.WaitExit(10, &status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(c.Log().find("refusing to accept workers on tcp://*:0 over plain TCP"), std::string::npos) << c.Log();
  Daemon ci({NEPHRON_COORDINATOR, "--db", P("y.db"), "--bind", "tcp://*:0", "--http", "127.0.0.1:0", "--insecure",
             "--ready-file", P("ready")},
            P("ci.log"));
  CoordinatorInfo info;
  ASSERT_TRUE(testing::WaitReady(P("ready"), &info)) << ci.Log();
  EXPECT_NE(ci.Log().find("INSECURE"), std::string::npos) << ci.Log();
}

TEST_F(OrchestrationTest, DaemonsStopCleanlyOnSigterm) {
  StartCoordinator();
  Daemon w = StartWorker("w1");
  auto db = Db();
  ASSERT_TRUE(WaitFor([&] { auto ws = db->ListWorkers(); return ws.ok() && ws->size() == 1; }, 20)) << Logs();
  int status = -1;
  kill(w.pid(), SIGTERM);
  ASSERT_TRUE(w.WaitExit(10, &status)) << w.Log();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << w.Log();
  const int cs = coordinator_.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(cs) && WEXITSTATUS(cs) == 0) << coordinator_.Log();
  EXPECT_NE(coordinator_.Log().find("coordinator stopped"), std::string::npos) << coordinator_.Log();
}

TEST_F(OrchestrationTest, InvalidSpecIsRejectedAtSubmitWithEveryProblem) {
  StartCoordinator();
  std::ofstream(P("bad.yaml")) << "name: bad\ndataset:\n  root: /no/such/folder\ntrain:\n  epochs: -3\n"
                                  "retry:\n  max_attempts: 0\n";
  const CmdResult r = Nephron("submit " + P("bad.yaml") + " --coordinator " + info_.url() + " --token " + info_.token());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("train.epochs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("retry.max_attempts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dataset.root: no such folder on the coordinator: /no/such/folder"), std::string::npos) << r.out;
  auto exps = Db()->ListExperiments();
  ASSERT_TRUE(exps.ok());
  EXPECT_TRUE(exps->empty());
}

}  // namespace
}  // namespace nephron
