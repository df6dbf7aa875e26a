// Three hosts on one machine: network namespaces joined by veth pairs (made
// and removed here), a coordinator host and two worker hosts. The worker hosts
// cannot see the coordinator's files (a tmpfs is mounted over its folder in
// their mount namespaces), so every input and output of a tiny experiment
// goes over the CURVE link. A worker host's link is cut in the middle of a
// fold training: the coordinator declares it lost and the fold resumes on the
// other host from the checkpoint uploaded during training; the link comes
// back, the old worker rejoins, and what it still sends for the old attempt is
// refused. Needs root (network namespaces, mounts): skips itself otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

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

CmdResult Sh(const std::string& cmd) { return testing::RunCommand(cmd); }

std::string Quote(const std::string& s) { return "'" + s + "'"; }

class MultiHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root; skipped";
    if (Sh("command -v ip").code != 0) GTEST_SKIP() << "iproute2 (`ip`) is not installed; skipped";
    tag_ = std::to_string(getpid() % 100000);
    ns_ = {"nphc" + tag_, "npha" + tag_, "nphb" + tag_};
    const CmdResult probe = Sh("ip netns add " + ns_[0]);
    if (probe.code != 0) GTEST_SKIP() << "network namespaces are not permitted here (" << probe.out << "); skipped";
    made_ns_ = true;
    // C <-> A on 10.231.1.0/24, C <-> B on 10.231.2.0/24.
    for (const std::string& cmd : std::vector<std::string>{
             "ip netns add " + ns_[1], "ip netns add " + ns_[2],
             "ip -n " + ns_[0] + " link add va type veth peer name eth0 netns " + ns_[1],
             "ip -n " + ns_[0] + " link add vb type veth peer name eth0 netns " + ns_[2],
             "ip -n " + ns_[0] + " addr add 10.231.1.1/24 dev va", "ip -n " + ns_[0] + " addr add 10.231.2.1/24 dev vb",
             "ip -n " + ns_[1] + " addr add 10.231.1.2/24 dev eth0", "ip -n " + ns_[2] + " addr add 10.231.2.2/24 dev eth0",
             "ip -n " + ns_[0] + " link set lo up", "ip -n " + ns_[1] + " link set lo up",
             "ip -n " + ns_[2] + " link set lo up", "ip -n " + ns_[0] + " link set va up",
             "ip -n " + ns_[0] + " link set vb up", "ip -n " + ns_[1] + " link set eth0 up",
             "ip -n " + ns_[2] + " link set eth0 up"}) {
      const CmdResult r = Sh(cmd);
      ASSERT_EQ(r.code, 0) << cmd << ": " << r.out;
    }
    root_ = fs::temp_directory_path() / ("nephron_multihost_" + tag_);
    fs::remove_all(root_);
    for (const char* d : {"coord", "hostA", "hostB", "keys/authorized"}) fs::create_directories(root_ / d);
    const CmdResult r = Nephron("synth --out " + C("data") + " --cases 7 --seed 5 --size tiny");
    ASSERT_EQ(r.code, 0) << r.out;
    for (const char* k : {"coordinator", "wa", "wb"}) {
      const CmdResult g = Nephron("keygen --out " + (root_ / "keys" / k).string());
      ASSERT_EQ(g.code, 0) << g.out;
    }
    fs::copy_file(root_ / "keys/wa.pub", root_ / "keys/authorized/wa.pub");
    fs::copy_file(root_ / "keys/wb.pub", root_ / "keys/authorized/wb.pub");
  }

  void TearDown() override {
    if (HasFailure() && coordinator_.pid() > 0) std::cerr << Logs();
    workers_.clear();
    coordinator_ = Daemon();
    if (made_ns_)
      for (const auto& ns : ns_) Sh("ip netns del " + ns);
    // NEPHRON_KEEP_TEST_FILES=1 keeps the hosts' folders and logs for a look.
    if (!root_.empty() && !HasFailure() && !std::getenv("NEPHRON_KEEP_TEST_FILES")) fs::remove_all(root_);
  }

  // A path on the coordinator host.
  std::string C(const std::string& rel) const { return (root_ / "coord" / rel).string(); }

  std::string WriteSpec(int epochs) {
    std::ofstream(C("spec.yaml")) << "name: tiny\ndataset:\n  root: " << C("data")
                                  << "\n  test_cases: [case_00006]\n"
                                     "plan:\n  num_folds: 2\n  patch_size: [16, 32, 32]\n  batch_size: 2\n"
                                     "  base_features: 8\n  max_features: 32\n"
                                     "train:\n  epochs: "
                                  << epochs
                                  << "\n  iterations_per_epoch: 10\n  val_iterations: 2\n  checkpoint_every: 1\n"
                                     "inference:\n  tta: false\n"
                                     "resources:\n  fingerprint_shards: 2\n  preprocess_shards: 2\n  predict_shards: 1\n"
                                     "retry:\n  backoff_seconds: 0.5\n";
    return C("spec.yaml");
  }

  void StartCoordinator() {
    coordinator_ = Daemon({"/usr/sbin/ip", "netns", "exec", ns_[0], NEPHRON_COORDINATOR, "--db", C("nephron.db"),
                           "--bind", "tcp://0.0.0.0:0", "--http", "127.0.0.1:0", "--data-root", C("experiments"),
                           "--ready-file", C("ready"), "--heartbeat-ms", "500", "--liveness", "4", "--grace-ms",
                           "500", "--key", (root_ / "keys/coordinator.key").string(), "--authorized-keys",
                           (root_ / "keys/authorized").string()},
                          (root_ / "coordinator.log").string());
    ASSERT_TRUE(testing::WaitReady(C("ready"), &info_)) << coordinator_.Log();
    port_ = info_.zmq.substr(info_.zmq.rfind(':') + 1);
  }

  // A worker on host `ns_[i]` that cannot see the coordinator host's folder.
  void StartWorker(int i, const std::string& name) {
    const std::string host = i == 1 ? "hostA" : "hostB";
    const std::string cmd = "mount -t tmpfs tmpfs " + Quote((root_ / "coord").string()) + " && exec " +
                            Quote(NEPHRON_WORKER) + " --coordinator tcp://10.231." + std::to_string(i) + ".1:" +
                            port_ + " --name " + name + " --threads 1 --engine " + Quote(NEPHRON_BINARY) +
                            " --key " + Quote((root_ / "keys" / (name + ".key")).string()) + " --server-key " +
                            Quote((root_ / "keys/coordinator.pub").string()) + " --cache " +
                            Quote((root_ / host / "cache").string());
    workers_[name] = Daemon({"/usr/sbin/ip", "netns", "exec", ns_[i], "/bin/sh", "-c", cmd},
                            (root_ / (name + ".log")).string());
  }

  int64_t Submit(const std::string& spec) {
    const CmdResult r = Sh("ip netns exec " + ns_[0] + " " + NEPHRON_BINARY + " submit " + spec + " --coordinator " +
                           info_.url() + " --token " + info_.token());
    EXPECT_EQ(r.code, 0) << r.out;
    const auto at = r.out.find("as experiment ");
    return at == std::string::npos ? 0 : std::atoll(r.out.c_str() + at + 14);
  }


  std::string Logs() {
    std::string s = "--- coordinator ---\n" + coordinator_.Log();
    for (const auto& [name, w] : workers_) s += "--- " + name + " ---\n" + w.Log();
    return s;
  }

  std::string tag_;
  std::vector<std::string> ns_;
  bool made_ns_ = false;
  fs::path root_;
  Daemon coordinator_;
  std::map<std::string, Daemon> workers_;
  CoordinatorInfo info_;
  std::string port_;
};

TEST_F(MultiHostTest, ArtifactsGoOverTheWireAndALostHostsFoldResumesElsewhere) {
  const int kEpochs = 16;
  const std::string spec = WriteSpec(kEpochs);
  StartCoordinator();
  StartWorker(1, "wa");
  StartWorker(2, "wb");
  const int64_t exp = Submit(spec);
  ASSERT_GT(exp, 0) << Logs();
  auto store = coord::OpenSqliteStore(C("nephron.db"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto& db = *store;

  // 1. A fold training with 2 epochs behind it whose checkpoint has reached the coordinator.
  coord::TaskRecord victim;
  coord::ExperimentRecord e;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto metrics = db->Metrics(exp);
        auto ex = db->GetExperiment(exp);
        if (!metrics.ok() || !ex.ok()) return false;
        for (const auto& m : *metrics) {
          auto t = db->GetTask(m.task_id);
          if (m.epoch < 2 || !t.ok() || t->state != coord::TaskState::kRunning) continue;
          if (!fs::exists(ex->dir + "/fold_" + std::to_string(t->fold) + "/checkpoint_latest.pt")) continue;
          victim = *t;
          e = *ex;
          return true;
        }
        return false;
      },
      400))
      << Logs();
  ASSERT_TRUE(victim.worker == "wa" || victim.worker == "wb") << victim.worker;
  const std::string link = victim.worker == "wa" ? "va" : "vb";
  const std::string other = victim.worker == "wa" ? "wb" : "wa";

  // 2. Cut its host's link: lost, and the fold runs again on the other host.
  ASSERT_EQ(Sh("ip -n " + ns_[0] + " link set " + link + " down").code, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto t = db->GetTask(victim.id);
        return t.ok() && t->attempt == 2 && t->state == coord::TaskState::kRunning && t->worker == other;
      },
      300))
      << Logs();

  // 3. The link comes back while the second attempt runs: the old worker rejoins.
  ASSERT_EQ(Sh("ip -n " + ns_[0] + " link set " + link + " up").code, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return coordinator_.Log().find("worker " + victim.worker + " reconnected with stale task " +
                                       std::to_string(victim.id)) != std::string::npos;
      },
      120))
      << Logs();

  // 4. Everything completes; nothing ran twice; every epoch's metrics once per fold.
  ASSERT_TRUE(testing::WaitFinished(*db, exp, 900)) << Logs();
  e = *db->GetExperiment(exp);
  ASSERT_EQ(e.state, coord::ExperimentState::kSucceeded) << e.error << "\n" << Logs();
  testing::ExpectEachTaskOnceAndEveryEpochOnce(*db, exp, victim.id, kEpochs, 2);
  // The second attempt resumed from the first one's uploaded checkpoint, not from epoch 0.
  const std::string victim_log = testing::TaskLog(e.dir, victim.id);
  const auto second = victim_log.find("== attempt 2:");
  ASSERT_NE(second, std::string::npos) << victim_log;
  const auto resumed = victim_log.find("resumed from", second);
  ASSERT_NE(resumed, std::string::npos) << victim_log;
  const auto at_epoch = victim_log.find("at epoch ", resumed);
  ASSERT_NE(at_epoch, std::string::npos);
  // At least epoch 1: the link may be cut before the newest checkpoint's upload (they go every 2 s).
  EXPECT_GE(std::atoi(victim_log.c_str() + at_epoch + 9), 1) << victim_log.substr(resumed, 200);

  // The outputs are on the coordinator's disk (only the link could bring them), as recorded.
  auto artifacts = db->Artifacts(exp);
  ASSERT_TRUE(artifacts.ok());
  std::map<std::string, coord::ArtifactRecord> by_path;
  for (const auto& a : *artifacts) by_path[a.path] = a;
  for (const char* path : {"plans.json", "nnUNetPlans_3d_fullres/case_00000.npy", "fold_0/checkpoint_final.pt",
                           "fold_1/checkpoint_final.pt", "postprocessing.json", "predictions/case_00006.nii.gz",
                           "predictions/evaluation.json"}) {
    ASSERT_TRUE(by_path.count(path)) << path;
    const std::string file = e.dir + "/" + path;
    ASSERT_TRUE(fs::exists(file)) << file;
    auto sha = net::Sha256OfFile(file);
    ASSERT_TRUE(sha.ok());
    EXPECT_EQ(by_path[path].sha256, *sha) << path;
  }
  std::ifstream rin(e.dir + "/results.json");
  ASSERT_TRUE(rin) << e.dir;
  EXPECT_FALSE(nlohmann::json::parse(rin)["kidney_dice"].is_null());
  // No half-written upload left behind.
  for (const auto& f : fs::recursive_directory_iterator(e.dir))
    EXPECT_NE(f.path().extension(), ".part") << f.path();

  // Both worker hosts fetched into their own caches; they knew they could not see the coordinator's files.
  for (const char* host : {"hostA", "hostB"}) {
    int files = 0;
    for (const auto& f : fs::recursive_directory_iterator(root_ / host / "cache"))
      files += f.is_regular_file() ? 1 : 0;
    EXPECT_GT(files, 10) << host;
  }
  EXPECT_NE(workers_["wa"].Log().find("is not visible here"), std::string::npos) << workers_["wa"].Log();
  for (const char* w : {"wa", "wb"}) EXPECT_EQ(db->GetWorker(w)->files, "fetch") << w;  // what the API and UI show
  // The rejoined worker is back and idle, not lost.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto w = db->GetWorker(victim.worker);
        return w.ok() && w->state == "idle";
      },
      30))
      << Logs();
}

}  // namespace
}  // namespace nephron
