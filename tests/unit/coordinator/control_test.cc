// The Coordinator's Control methods against an in-memory store (no sockets:
// Start() is not needed for them).
#include <gtest/gtest.h>

#include "coordinator/coordinator.h"
#include "coordinator/graph.h"

namespace nephron::coord {
namespace {

class ControlTest : public ::testing::Test {
 protected:
  ControlTest() : store_(NewMemoryStore()) {
    CoordinatorOptions o;
    o.now_ms = [this] { return now_; };
    coordinator_ = std::make_unique<Coordinator>(store_.get(), o);
  }
  std::unique_ptr<Store> store_;
  int64_t now_ = 1000;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(ControlTest, CancelThenRetryResumesTheWholeExperiment) {
  auto exp = coordinator_->SubmitTasks("x", NoopGraph(3, 0));
  ASSERT_TRUE(exp.ok());
  auto tasks = *store_->ListTasks(*exp);
  ASSERT_TRUE(*store_->ClaimTask(tasks[0].id, 0, "w", now_));
  ASSERT_TRUE(*store_->FinishTask(tasks[0].id, 1, TaskState::kSucceeded, "", false, now_));
  ASSERT_TRUE(coordinator_->Cancel(*exp).ok());
  EXPECT_EQ(store_->GetExperiment(*exp)->state, ExperimentState::kCancelled);
  // Retrying a succeeded or unknown task is refused.
  EXPECT_EQ(coordinator_->Retry(tasks[0].id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(coordinator_->Retry(999).code(), StatusCode::kNotFound);
  ASSERT_TRUE(coordinator_->Retry(tasks[2].id).ok());
  EXPECT_EQ(store_->GetExperiment(*exp)->state, ExperimentState::kRunning);
  tasks = *store_->ListTasks(*exp);
  EXPECT_EQ(tasks[0].state, TaskState::kSucceeded);
  EXPECT_EQ(tasks[1].state, TaskState::kPending);  // the other cancelled task came back too
  EXPECT_EQ(tasks[2].state, TaskState::kPending);
}

TEST_F(ControlTest, RetryInAFailedExperimentTouchesOnlyThatTask) {
  auto exp = coordinator_->SubmitTasks("x", NoopGraph(2, 0));
  auto tasks = *store_->ListTasks(*exp);
  ASSERT_TRUE(*store_->ClaimTask(tasks[0].id, 0, "w", now_));
  ASSERT_TRUE(*store_->FinishTask(tasks[0].id, 1, TaskState::kFailed, "bad", true, now_));
  ASSERT_TRUE(store_->SetExperimentState(*exp, ExperimentState::kFailed, "bad", now_).ok());
  ASSERT_TRUE(coordinator_->Retry(tasks[0].id).ok());
  EXPECT_EQ(store_->GetExperiment(*exp)->state, ExperimentState::kRunning);
  EXPECT_EQ(store_->GetTask(tasks[0].id)->state, TaskState::kPending);
  EXPECT_EQ(store_->GetTask(tasks[0].id)->attempt, 1);  // the attempt count continues
}

TEST_F(ControlTest, SubmitRejectsAnInvalidSpecWithEveryProblemAndStoresNothing) {
  auto r = coordinator_->Submit("name: x\ntrain:\n  epochs: -1\ndataset:\n  root: relative/path\n", "bad.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("train.epochs"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("dataset.root: must be an absolute path"), std::string::npos)
      << r.status().message();
  EXPECT_TRUE(store_->ListExperiments()->empty());
}

TEST_F(ControlTest, DrainOfAnUnknownWorkerIsNotFound) {
  EXPECT_EQ(coordinator_->Drain("nobody").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace nephron::coord
