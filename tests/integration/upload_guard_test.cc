// Uploads into an experiment go only to the attempt that is running now and,
// under CURVE, only from the key of the worker that runs it: an in-process
// coordinator with two authorized worker keys, a real worker (key "wa")
// running a long no-op task, and file clients that try to upload for it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/curve.h"
#include "common/file_transfer.h"
#include "coordinator/coordinator.h"
#include "coordinator/graph.h"
#include "worker/worker.h"

namespace nephron {
namespace {

namespace fs = std::filesystem;

TEST(UploadGuardTest, OnlyTheRunningAttemptFromItsWorkersKeyMayUpload) {
  const fs::path dir = fs::temp_directory_path() / ("nephron_upload_guard_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "authorized");
  std::map<std::string, net::CurveKeyPair> keys;
  for (const char* name : {"coordinator", "wa", "wb"}) {
    auto k = net::GenerateCurveKeyPair();
    ASSERT_TRUE(k.ok());
    keys[name] = *k;
    ASSERT_TRUE(net::WriteCurveKeyFiles((dir / name).string(), *k).ok());
  }
  fs::copy_file(dir / "wa.pub", dir / "authorized/wa.pub");
  fs::copy_file(dir / "wb.pub", dir / "authorized/wb.pub");

  auto store = coord::OpenSqliteStore((dir / "c.db").string());
  ASSERT_TRUE(store.ok());
  coord::CoordinatorOptions o;
  o.data_root = (dir / "data").string();
  o.key_file = (dir / "coordinator.key").string();
  o.authorized_keys = (dir / "authorized").string();
  o.scheduler.heartbeat_ms = 300;
  coord::Coordinator c(store->get(), o);
  ASSERT_TRUE(c.Start().ok());
  std::atomic<bool> stop_coord{false}, stop_worker{false};
  std::thread loop([&] { c.Run(&stop_coord); });
  auto curve_of = [&](const std::string& name) {
    net::CurveOptions k;
    k.secret_key = keys[name].secret_key;
    k.public_key = keys[name].public_key;
    k.server_public_key = keys["coordinator"].public_key;
    return k;
  };
  std::thread worker([&] {
    worker::WorkerOptions w;
    w.coordinator = c.endpoint();
    w.name = "wa";
    w.curve = curve_of("wa");
    w.executor.engine = "/nonexistent";  // noop tasks never start the engine
    worker::Worker(w).Run(&stop_worker);
  });

  auto exp = c.SubmitTasks("guard", coord::NoopGraph(1, 60));
  ASSERT_TRUE(exp.ok());
  const std::string exp_dir = (dir / "data/experiments/1-guard").string();
  ASSERT_TRUE((*store)->SetExperimentDir(*exp, exp_dir).ok());
  coord::TaskRecord running;
  for (int i = 0; i < 200 && running.id == 0; ++i) {
    auto tasks = (*store)->ListTasks(*exp);
    if (tasks.ok() && !tasks->empty() && (*tasks)[0].state == coord::TaskState::kRunning) running = (*tasks)[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(running.id, 0) << "the no-op task never started";
  ASSERT_EQ(running.worker, "wa");

  fs::create_directories(dir / "local");
  std::ofstream(dir / "local/out.bin") << "output of the running attempt";
  zmq::context_t ctx;
  auto upload = [&](const std::string& key, int attempt, const std::string& remote) {
    net::FileClientOptions f;
    f.endpoint = c.endpoint();
    f.name = key + "-files";
    f.curve = curve_of(key);
    f.timeout_ms = 3000;
    f.max_retries = 1;
    f.task = running.id;
    f.attempt = attempt;
    net::FileClient client(ctx, f);
    return client.Upload((dir / "local/out.bin").string(), remote).status();
  };
  const std::string target = exp_dir + "/fold_0/out.bin";
  Status other_key = upload("wb", running.attempt, target);
  EXPECT_FALSE(other_key.ok());
  EXPECT_NE(other_key.message().find("from key 'wb' is refused"), std::string::npos) << other_key.ToString();
  Status stale = upload("wa", running.attempt + 1, target);
  EXPECT_FALSE(stale.ok());
  EXPECT_NE(stale.message().find("not running any more"), std::string::npos) << stale.ToString();
  Status outside = upload("wa", running.attempt, (dir / "data/elsewhere.bin").string());
  EXPECT_FALSE(outside.ok());
  EXPECT_NE(outside.message().find("outside the folder"), std::string::npos) << outside.ToString();
  EXPECT_FALSE(fs::exists(target));
  Status own = upload("wa", running.attempt, target);
  EXPECT_TRUE(own.ok()) << own.ToString();
  EXPECT_TRUE(fs::exists(target));

  // An upload the attempt left unfinished (a chunk, no commit) goes when the attempt ends.
  {
    auto dealer = net::Socket::ConnectDealer(ctx, c.endpoint(), "wa-partial", curve_of("wa"));
    ASSERT_TRUE(dealer.ok());
    const std::string chunk = "the first chunk of a checkpoint";
    proto::FileWriteMsg w{target + ".next", 0, chunk, net::Sha256Hex(chunk.data(), chunk.size()), running.id,
                          running.attempt};
    ASSERT_TRUE(dealer->Send({proto::Encode(w, 1)}).ok());
    auto answer = dealer->Recv(5000);
    ASSERT_TRUE(answer.ok() && answer->has_value());
    auto written = proto::Decode((**answer)[0])->Body<proto::FileWrittenMsg>();
    ASSERT_TRUE(written.ok());
    EXPECT_TRUE(written->error.empty()) << written->error;
  }
  const std::string part = net::UploadPartPath(target + ".next", running.id, running.attempt);
  EXPECT_TRUE(fs::exists(part)) << part;
  ASSERT_TRUE(c.Cancel(*exp).ok());
  // The worker stops the no-op task and reports it: then the attempt has ended.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = !fs::exists(part);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << part;
  EXPECT_EQ((*store)->GetTask(running.id)->state, coord::TaskState::kCancelled);
  EXPECT_TRUE(fs::exists(target));  // committed outputs stay

  stop_worker = true;
  worker.join();
  stop_coord = true;
  loop.join();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace nephron
