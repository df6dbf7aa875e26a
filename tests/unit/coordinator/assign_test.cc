// Whether a worker got its Assign: an in-process coordinator on loopback with
// a clock the test moves, and a bare DEALER socket that speaks the worker
// protocol message by message, so that a heartbeat can be made to arrive late.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "common/protocol.h"
#include "common/transport.h"
#include "coordinator/coordinator.h"
#include "coordinator/graph.h"

namespace nephron::coord {
namespace {

class AssignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = NewMemoryStore();
    CoordinatorOptions o;
    o.now_ms = [this] { return now_.load(); };
    o.data_root = data_root_;
    o.scheduler.heartbeat_ms = 300;
    o.scheduler.liveness = 1000;  // nobody is lost while the clock jumps
    coordinator_ = std::make_unique<Coordinator>(store_.get(), o);
    ASSERT_TRUE(coordinator_->Start().ok());
    loop_ = std::thread([this] { coordinator_->Run(&stop_); });
    auto exp = coordinator_->SubmitTasks("x", NoopGraph(1, 3600));
    ASSERT_TRUE(exp.ok());
    task_ = store_->ListTasks(*exp)->at(0).id;
  }
  void TearDown() override {
    socket_.reset();
    stop_ = true;
    if (loop_.joinable()) loop_.join();
    std::filesystem::remove_all(data_root_);
  }

  // A fresh connection registering as worker "w" that runs `running` (0: nothing).
  void Connect(int64_t running = 0, int attempt = 0) {
    held_.clear();
    auto s = net::Socket::ConnectDealer(ctx_, coordinator_->endpoint(), "w~" + std::to_string(++connections_));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    socket_ = std::make_unique<net::Socket>(std::move(*s));
    proto::RegisterMsg r;
    r.name = "w";
    r.running_task = running;
    r.running_attempt = attempt;
    ASSERT_TRUE(socket_->Send({proto::Encode(r)}).ok());
  }

  // The next message of `type` the coordinator sends; others wait for their own call.
  std::optional<proto::Decoded> Next(proto::MsgType type) {
    for (auto it = held_.begin(); it != held_.end(); ++it)
      if (it->envelope.type == type) {
        proto::Decoded d = *it;
        held_.erase(it);
        return d;
      }
    for (int i = 0; i < 200; ++i) {
      auto r = socket_->Recv(50);
      if (!r.ok() || !r->has_value()) continue;
      auto d = proto::Decode((**r)[0]);
      if (!d.ok() || d->envelope.type == proto::MsgType::kHeartbeat) continue;
      if (d->envelope.type == type) return *d;
      held_.push_back(*d);
    }
    return std::nullopt;
  }

  void Heartbeat(int64_t task, int attempt, int64_t seen_task, int seen_attempt) {
    ASSERT_TRUE(socket_->Send({proto::Encode(proto::HeartbeatMsg{task, attempt, seen_task, seen_attempt})}).ok());
  }

  // Returns once everything sent before has been handled: the coordinator
  // handles a connection's messages in order and answers a file request.
  void Sync() {
    ASSERT_TRUE(socket_->Send({proto::Encode(proto::FileStatMsg{"/nonexistent/sync"})}).ok());
    ASSERT_TRUE(Next(proto::MsgType::kFileInfo).has_value());
  }

  TaskRecord Task() { return *store_->GetTask(task_); }

  const std::string data_root_ = ::testing::TempDir() + "nephron_assign_test_" + std::to_string(getpid());
  std::unique_ptr<Store> store_;
  std::atomic<int64_t> now_{1000};
  std::atomic<bool> stop_{false};
  std::unique_ptr<Coordinator> coordinator_;
  std::thread loop_;
  zmq::context_t ctx_;
  std::unique_ptr<net::Socket> socket_;
  std::vector<proto::Decoded> held_;
  int connections_ = 0;
  int64_t task_ = 0;
};

TEST_F(AssignTest, AHeartbeatOlderThanTheAssignDoesNotRequeueHoweverLateItIsRead) {
  Connect();
  auto assign = Next(proto::MsgType::kAssign);
  ASSERT_TRUE(assign.has_value());
  EXPECT_EQ(assign->Body<proto::AssignMsg>()->task, task_);
  // Sent before the Assign arrived (it names no Assign), read 10 s later:
  // the coordinator stalled, or the network did.
  now_ += 10000;
  Heartbeat(0, 0, 0, 0);
  Sync();
  EXPECT_EQ(Task().state, TaskState::kRunning);
  EXPECT_EQ(Task().attempt, 1);
  // Once the worker says it received the Assign and runs nothing, it did not take it.
  Heartbeat(0, 0, task_, 1);
  Sync();
  EXPECT_NE(Task().error.find("did not start it"), std::string::npos) << Task().error;
  // It goes out again (to the same idle worker) as attempt 2.
  auto again = Next(proto::MsgType::kAssign);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->Body<proto::AssignMsg>()->attempt, 2);
}

TEST_F(AssignTest, HeartbeatsRecordHowTheWorkerReachesTaskFiles) {
  Connect();
  ASSERT_TRUE(Next(proto::MsgType::kWelcome).has_value());
  EXPECT_EQ(store_->GetWorker("w")->files, "");  // not known before its first heartbeat
  proto::HeartbeatMsg hb;
  hb.files = "fetch";
  ASSERT_TRUE(socket_->Send({proto::Encode(hb)}).ok());
  Sync();
  EXPECT_EQ(store_->GetWorker("w")->files, "fetch");
}

TEST_F(AssignTest, AnAssignNeverConfirmedIsTakenAsLostOnlyAfterTheLongTimeOut) {
  Connect();
  ASSERT_TRUE(Next(proto::MsgType::kAssign).has_value());
  SchedulerConfig c;
  c.heartbeat_ms = 300;
  c.liveness = 1000;
  const int64_t lost_after = AssignLostAfterMs(c);
  now_ += lost_after;  // not more: still on its way
  Heartbeat(0, 0, 0, 0);
  Sync();
  EXPECT_EQ(Task().state, TaskState::kRunning);
  now_ += 1;
  Heartbeat(0, 0, 0, 0);
  Sync();
  EXPECT_NE(Task().error.find("did not start it"), std::string::npos) << Task().error;
}

TEST_F(AssignTest, AWorkerRegisteringAgainWithoutItsTaskGetsItBackInTheQueueAtOnce) {
  Connect();
  ASSERT_TRUE(Next(proto::MsgType::kAssign).has_value());
  // The Assign went to a connection the worker has replaced (or the worker restarted).
  Connect();
  ASSERT_TRUE(Next(proto::MsgType::kWelcome).has_value());
  Sync();
  EXPECT_NE(Task().error.find("registered again without it"), std::string::npos) << Task().error;
  auto again = Next(proto::MsgType::kAssign);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->Body<proto::AssignMsg>()->attempt, 2);
  // A worker registering again with the task it runs keeps it.
  Connect(task_, 2);
  ASSERT_TRUE(Next(proto::MsgType::kWelcome).has_value());
  Sync();
  EXPECT_EQ(Task().state, TaskState::kRunning);
  EXPECT_EQ(Task().attempt, 2);
}

}  // namespace
}  // namespace nephron::coord
