// The HTTP/JSON API against an in-memory store seeded with one experiment in
// mid-run and a fake Control that records what it was asked and answers with
// scripted statuses. Real HTTP over loopback on an ephemeral port.
#include "coordinator/http_api.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/fs_util.h"
#include "common/json_util.h"
#include "common/protocol.h"
#include "tests/fakes/fake_control.h"

namespace nephron::coord {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr char kToken[] = "s3cret-token";

using nephron::testing::FakeControl;

TaskRecord Task(const std::string& kind, const std::string& name, int fold, std::vector<int64_t> deps) {
  TaskRecord t;
  t.kind = kind;
  t.name = name;
  t.fold = fold;
  t.deps = std::move(deps);
  t.created_ms = kNow - 60'000;
  return t;
}

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = NewMemoryStore();
    Seed();
    StartApi(/*open_reads=*/true);
  }

  void StartApi(bool open_reads) {
    api_.reset();
    HttpOptions o;
    o.token = kToken;
    o.open_reads = open_reads;
    o.clock_ms = [] { return kNow; };
    api_ = std::make_unique<HttpApi>(store_.get(), &control_, o);
    ASSERT_TRUE(api_->Start().ok());
    ASSERT_GT(api_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_->port());
  }

  // Experiment 1 ("old", finished, no metrics) and experiment 2 ("demo"):
  // fingerprint (succeeded) -> plan (succeeded) -> train fold 0 (running, two
  // epochs of metrics, logs) and train fold 1 (pending).
  void Seed() {
    ExperimentRecord old;
    old.name = "old";
    old.created_ms = kNow - 100'000;
    ASSERT_TRUE(store_->CreateExperiment(old, {Task("noop", "noop", -1, {})}).ok());
    ASSERT_TRUE(store_->SetExperimentState(1, ExperimentState::kSucceeded, "", kNow - 90'000).ok());

    ExperimentRecord e;
    e.name = "demo";
    e.dir = "/data/experiments/2-demo";
    e.spec_yaml = "name: demo\n";
    e.created_ms = kNow - 30'000;
    auto id = store_->CreateExperiment(e, {Task("fingerprint", "fingerprint 1/1", -1, {}),
                                           Task("plan", "plan", -1, {0}), Task("train", "train fold 0", 0, {1}),
                                           Task("train", "train fold 1", 1, {1})});
    ASSERT_TRUE(id.ok());
    exp_ = *id;
    auto tasks = store_->ListTasks(exp_);
    ASSERT_TRUE(tasks.ok());
    fp_ = (*tasks)[0].id, plan_ = (*tasks)[1].id, train0_ = (*tasks)[2].id, train1_ = (*tasks)[3].id;
    for (int64_t t : {fp_, plan_}) {
      ASSERT_TRUE(*store_->ClaimTask(t, 0, "w1", kNow - 20'000));
      ASSERT_TRUE(*store_->FinishTask(t, 1, TaskState::kSucceeded, "", false, kNow - 15'000));
    }
    ASSERT_TRUE(*store_->ClaimTask(train0_, 0, "w1", kNow - 10'000));
    ASSERT_TRUE(*store_->SetProgress(train0_, 1, 0.5, "epoch 2/4"));
    for (int epoch = 0; epoch < 2; ++epoch) {
      MetricRecord m;
      m.task_id = train0_;
      m.experiment_id = exp_;
      m.fold = 0;
      m.epoch = epoch;
      m.attempt = 1;
      m.train_loss = 1.0 - 0.1 * epoch;
      m.val_loss = 0.9 - 0.1 * epoch;
      m.dice = {0.5 + 0.2 * epoch, 0.1};
      m.ema_dice = 0.3 + 0.2 * epoch;
      m.lr = 0.01;
      m.seconds = 3;
      ASSERT_TRUE(store_->AddMetric(m).ok());
    }
    std::vector<std::string> lines;
    for (int i = 0; i < 5; ++i) lines.push_back("line " + std::to_string(i));
    lines.push_back("bad utf-8 \xff\xfe here");
    ASSERT_TRUE(store_->AppendLogs(train0_, 1, lines, kNow - 5'000).ok());
    for (int i = 0; i < 250; ++i) ASSERT_TRUE(store_->AddEvent(exp_, 0, "event " + std::to_string(i), kNow).ok());

    WorkerRecord w;
    w.name = "w1";
    w.host = "node-a";
    w.device = "cpu";
    w.state = "busy";
    w.task = train0_;
    w.attempt = 1;
    w.last_heartbeat_ms = kNow - 2'500;
    ASSERT_TRUE(store_->UpsertWorker(w).ok());
  }

  // GET/POST and the parsed JSON body; `token` empty: no Authorization header.
  std::pair<int, Json> Get(const std::string& path, const std::string& token = "") {
    auto r = client_->Get(path, Headers(token));
    EXPECT_TRUE(r) << path;
    if (!r) return {0, nullptr};
    return {r->status, Json::parse(r->body)};
  }
  std::pair<int, Json> Post(const std::string& path, const std::string& body = "", const std::string& type = "text/yaml",
                            const std::string& token = kToken) {
    auto r = client_->Post(path, Headers(token), body, type);
    EXPECT_TRUE(r) << path;
    if (!r) return {0, nullptr};
    return {r->status, Json::parse(r->body)};
  }
  static httplib::Headers Headers(const std::string& token) {
    if (token.empty()) return {};
    return {{"Authorization", "Bearer " + token}};
  }
  std::string Path(const std::string& fmt, int64_t id) {
    std::string s = fmt;
    s.replace(s.find("{}"), 2, std::to_string(id));
    return s;
  }

  std::unique_ptr<Store> store_;
  FakeControl control_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<httplib::Client> client_;
  int64_t exp_ = 0, fp_ = 0, plan_ = 0, train0_ = 0, train1_ = 0;
};

TEST_F(HttpApiTest, HealthNamesProtocolVersion) {
  auto [code, j] = Get("/api/health");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["protocol_version"], proto::kProtocolVersion);
  EXPECT_EQ(j["version"], "0.1.0");
}

TEST_F(HttpApiTest, ListsExperimentsNewestFirstWithProgressAndBestDice) {
  auto [code, j] = Get("/api/experiments");
  ASSERT_EQ(code, 200);
  ASSERT_EQ(j.size(), 2u);
  const Json& demo = j[0];
  EXPECT_EQ(demo["id"], exp_);
  EXPECT_EQ(demo["name"], "demo");
  EXPECT_EQ(demo["state"], "running");
  EXPECT_EQ(demo["dir"], "/data/experiments/2-demo");
  EXPECT_EQ(demo["tasks_total"], 4);
  EXPECT_EQ(demo["tasks_done"], 2);
  EXPECT_EQ(demo["tasks_running"], 1);
  // Two succeeded tasks plus half of the running one, over four.
  EXPECT_DOUBLE_EQ(demo["progress"].get<double>(), 2.5 / 4);
  EXPECT_DOUBLE_EQ(demo["elapsed_s"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(demo["best_cv_dice"].get<double>(), 0.5);
  const Json& old = j[1];
  EXPECT_EQ(old["state"], "succeeded");
  EXPECT_TRUE(old["best_cv_dice"].is_null());
  EXPECT_DOUBLE_EQ(old["elapsed_s"].get<double>(), 10.0);  // finished: up to finished_ms
}

TEST_F(HttpApiTest, ExperimentDetailHasTasksEventsAndResults) {
  auto [code, j] = Get(Path("/api/experiments/{}", exp_));
  ASSERT_EQ(code, 200);
  EXPECT_EQ(j["name"], "demo");
  EXPECT_EQ(j["error"], "");
  EXPECT_TRUE(j["results"].is_null());
  ASSERT_EQ(j["tasks"].size(), 4u);
  const Json& train0 = j["tasks"][2];
  EXPECT_EQ(train0["id"], train0_);
  EXPECT_EQ(train0["kind"], "train");
  EXPECT_EQ(train0["name"], "train fold 0");
  EXPECT_EQ(train0["fold"], 0);
  EXPECT_EQ(train0["state"], "running");
  EXPECT_EQ(train0["attempt"], 1);
  EXPECT_EQ(train0["worker"], "w1");
  EXPECT_EQ(train0["deps"], Json::array({plan_}));
  EXPECT_DOUBLE_EQ(train0["progress"].get<double>(), 0.5);
  EXPECT_EQ(train0["progress_message"], "epoch 2/4");
  EXPECT_EQ(j["tasks"][3]["state"], "pending");
  // The last 200 of 250 events, oldest first.
  ASSERT_EQ(j["events"].size(), 200u);
  EXPECT_EQ(j["events"][0]["text"], "event 50");
  EXPECT_EQ(j["events"][199]["text"], "event 249");

  ASSERT_TRUE(store_->SetResults(exp_, R"({"composite": 0.7, "folds": []})").ok());
  auto [code2, j2] = Get(Path("/api/experiments/{}", exp_));
  ASSERT_EQ(code2, 200);
  EXPECT_DOUBLE_EQ(j2["results"]["composite"].get<double>(), 0.7);
}

TEST_F(HttpApiTest, UnknownAndMalformedIds) {
  EXPECT_EQ(Get("/api/experiments/999").first, 404);
  EXPECT_NE(Get("/api/experiments/999").second["error"].get<std::string>().find("999"), std::string::npos);
  EXPECT_EQ(Get("/api/experiments/abc").first, 400);
  EXPECT_EQ(Get("/api/experiments/-1/metrics").first, 400);
  EXPECT_EQ(Get("/api/tasks/999").first, 404);
  EXPECT_EQ(Get("/api/tasks/999/log").first, 404);
  EXPECT_EQ(Get("/api/tasks/x1").first, 400);
  auto [code, j] = Get("/api/nothing-here");
  EXPECT_EQ(code, 404);
  EXPECT_NE(j["error"].get<std::string>().find("/api/nothing-here"), std::string::npos);
}

TEST_F(HttpApiTest, MetricsRows) {
  auto [code, j] = Get(Path("/api/experiments/{}/metrics", exp_));
  ASSERT_EQ(code, 200);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["task_id"], train0_);
  EXPECT_EQ(j[1]["fold"], 0);
  EXPECT_EQ(j[1]["epoch"], 1);
  EXPECT_EQ(j[1]["attempt"], 1);
  EXPECT_DOUBLE_EQ(j[1]["train_loss"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(j[1]["val_loss"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(j[1]["dice"][0].get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(j[1]["ema_dice"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j[1]["lr"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(j[1]["seconds"].get<double>(), 3);
  EXPECT_EQ(Get("/api/experiments/77/metrics").first, 404);
}

TEST_F(HttpApiTest, ResultsAre404UntilWrittenThenVerbatim) {
  auto [code, j] = Get(Path("/api/experiments/{}/results", exp_));
  EXPECT_EQ(code, 404);
  EXPECT_NE(j["error"].get<std::string>().find("no results yet"), std::string::npos);
  ASSERT_TRUE(store_->SetResults(exp_, R"({"experiment_id": 2, "kidney_dice": 0.91, "cases": []})").ok());
  auto [code2, j2] = Get(Path("/api/experiments/{}/results", exp_));
  EXPECT_EQ(code2, 200);
  EXPECT_DOUBLE_EQ(j2["kidney_dice"].get<double>(), 0.91);
  EXPECT_EQ(j2["experiment_id"], 2);
}

TEST_F(HttpApiTest, TaskAndPagedLog) {
  auto [code, t] = Get(Path("/api/tasks/{}", plan_));
  ASSERT_EQ(code, 200);
  EXPECT_EQ(t["state"], "succeeded");
  EXPECT_EQ(t["deps"], Json::array({fp_}));

  auto [c1, page1] = Get(Path("/api/tasks/{}/log?limit=4", train0_));
  ASSERT_EQ(c1, 200);
  ASSERT_EQ(page1["lines"].size(), 4u);
  EXPECT_EQ(page1["lines"][0]["line"], "line 0");
  EXPECT_EQ(page1["lines"][0]["attempt"], 1);
  EXPECT_EQ(page1["lines"][0]["ts_ms"], kNow - 5'000);
  EXPECT_EQ(page1["state"], "running");
  const int64_t next = page1["next"];
  EXPECT_EQ(next, page1["lines"][3]["seq"].get<int64_t>());

  auto [c2, page2] = Get(Path("/api/tasks/{}/log?after=", train0_) + std::to_string(next));
  ASSERT_EQ(c2, 200);
  ASSERT_EQ(page2["lines"].size(), 2u);
  EXPECT_EQ(page2["lines"][0]["line"], "line 4");
  // Invalid UTF-8 from a process is replaced, not a 500.
  EXPECT_NE(page2["lines"][1]["line"].get<std::string>().find("here"), std::string::npos);

  auto [c3, page3] = Get(Path("/api/tasks/{}/log?after=", train0_) + page2["next"].dump());
  EXPECT_EQ(c3, 200);
  EXPECT_TRUE(page3["lines"].empty());
  EXPECT_EQ(page3["next"], page2["next"]);

  EXPECT_EQ(Get(Path("/api/tasks/{}/log?limit=0", train0_)).first, 400);
  EXPECT_EQ(Get(Path("/api/tasks/{}/log?after=x", train0_)).first, 400);
  EXPECT_EQ(Get(Path("/api/tasks/{}/log?limit=999999", train0_)).first, 200);
}

TEST_F(HttpApiTest, WorkersWithHeartbeatAge) {
  auto [code, j] = Get("/api/workers");
  ASSERT_EQ(code, 200);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["name"], "w1");
  EXPECT_EQ(j[0]["host"], "node-a");
  EXPECT_EQ(j[0]["device"], "cpu");
  EXPECT_EQ(j[0]["state"], "busy");
  EXPECT_EQ(j[0]["task"], train0_);
  EXPECT_DOUBLE_EQ(j[0]["heartbeat_age_s"].get<double>(), 2.5);
}

TEST_F(HttpApiTest, SubmitYamlOrJson) {
  auto [code, j] = Post("/api/experiments?source=mine.yaml", "name: x\n", "text/yaml");
  EXPECT_EQ(code, 201);
  EXPECT_EQ(j["id"], 42);
  EXPECT_EQ(control_.LastSpec(), "name: x\n");
  auto [code2, j2] = Post("/api/experiments", R"({"spec": "name: y\n", "source": "y.yaml"})", "application/json");
  EXPECT_EQ(code2, 201);
  EXPECT_EQ(control_.LastSpec(), "name: y\n");
  EXPECT_EQ(control_.Calls(), (std::vector<std::string>{"submit mine.yaml", "submit y.yaml"}));
}

TEST_F(HttpApiTest, SubmitRejectsBadBodiesAndListsSpecProblems) {
  EXPECT_EQ(Post("/api/experiments", "{\"spec\": ", "application/json").first, 400);
  EXPECT_EQ(Post("/api/experiments", "{\"spek\": \"x\"}", "application/json").first, 400);
  EXPECT_EQ(Post("/api/experiments", "x", "image/png").first, 415);
  EXPECT_TRUE(control_.Calls().empty());

  control_.next = InvalidArgument("s.yaml: invalid job spec (2 problems):\n  plan.x: unknown key\n  train.epochs: must be >= 1");
  auto [code, j] = Post("/api/experiments", "plan: {x: 1}\n");
  EXPECT_EQ(code, 400);
  EXPECT_NE(j["error"].get<std::string>().find("train.epochs"), std::string::npos);
  EXPECT_EQ(j["problems"], Json::array({"plan.x: unknown key", "train.epochs: must be >= 1"}));
}

TEST_F(HttpApiTest, WritesNeedTheToken) {
  auto [c1, j1] = Post("/api/experiments/2/cancel", "", "text/plain", "");
  EXPECT_EQ(c1, 401);
  EXPECT_NE(j1["error"].get<std::string>().find("missing"), std::string::npos);
  EXPECT_EQ(Post("/api/experiments/2/cancel", "", "text/plain", "wrong").first, 401);
  EXPECT_EQ(Post("/api/experiments", "name: x\n", "text/yaml", "").first, 401);
  EXPECT_EQ(Post("/api/tasks/3/retry", "", "text/plain", std::string(kToken) + "x").first, 401);
  EXPECT_EQ(Post("/api/workers/w1/drain", "", "text/plain", "").first, 401);
  EXPECT_TRUE(control_.Calls().empty());
  // Reads are open by default.
  EXPECT_EQ(Get("/api/experiments").first, 200);
}

TEST_F(HttpApiTest, CancelRetryDrainGoThroughControl) {
  auto [c1, j1] = Post(Path("/api/experiments/{}/cancel", exp_));
  EXPECT_EQ(c1, 200);
  EXPECT_EQ(j1["ok"], true);
  EXPECT_EQ(Post(Path("/api/tasks/{}/retry", train1_)).first, 200);
  EXPECT_EQ(Post("/api/workers/w1/drain").first, 200);
  EXPECT_EQ(control_.Calls(), (std::vector<std::string>{"cancel " + std::to_string(exp_),
                                                        "retry " + std::to_string(train1_), "drain w1"}));
  // Worker names arrive percent-encoded.
  EXPECT_EQ(Post("/api/workers/node%20a%3Acpu/drain").first, 200);
  EXPECT_EQ(control_.Calls().back(), "drain node a:cpu");
  EXPECT_EQ(Post("/api/experiments/zz/cancel").first, 400);
  EXPECT_EQ(Post("/api/tasks/0/retry").first, 400);
}

TEST_F(HttpApiTest, ControlStatusesMapToHttpCodes) {
  control_.next = NotFound("experiment 9 does not exist");
  auto [c1, j1] = Post("/api/experiments/9/cancel");
  EXPECT_EQ(c1, 404);
  EXPECT_EQ(j1["error"], "experiment 9 does not exist");
  control_.next = FailedPrecondition("task 3 is running");
  EXPECT_EQ(Post("/api/tasks/3/retry").first, 409);
  control_.next = Status(StatusCode::kUnavailable, "shutting down");
  EXPECT_EQ(Post("/api/workers/w9/drain").first, 503);
  control_.next = Internal("disk full");
  EXPECT_EQ(Post("/api/workers/w9/drain").first, 500);
}

TEST_F(HttpApiTest, ExceptionInAHandlerIs500AndServingGoesOn) {
  control_.throw_next = true;
  auto [code, j] = Post("/api/experiments", "name: x\n");
  EXPECT_EQ(code, 500);
  EXPECT_NE(j["error"].get<std::string>().find("boom"), std::string::npos);
  control_.throw_next = false;
  EXPECT_EQ(Get("/api/experiments").first, 200);
}

TEST_F(HttpApiTest, ClosedReadsNeedTheTokenButHealthStaysOpen) {
  StartApi(/*open_reads=*/false);
  EXPECT_EQ(Get("/api/experiments").first, 401);
  EXPECT_EQ(Get("/api/workers", "nope").first, 401);
  EXPECT_EQ(Get("/api/experiments", kToken).first, 200);
  EXPECT_EQ(Get("/api/health").first, 200);
}

TEST_F(HttpApiTest, EmptyTokenRefusesEveryWrite) {
  api_.reset();
  HttpOptions o;  // no token
  HttpApi api(store_.get(), &control_, o);
  ASSERT_TRUE(api.Start().ok());
  httplib::Client c("127.0.0.1", api.port());
  auto r = c.Post("/api/experiments/2/cancel", {{"Authorization", "Bearer "}}, "", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(control_.Calls().empty());
}

TEST_F(HttpApiTest, BindingATakenPortNamesHostAndPort) {
  HttpOptions o;
  o.port = api_->port();
  HttpApi second(store_.get(), &control_, o);
  Status st = second.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(api_->port())), std::string::npos) << st.message();
  second.Stop();  // harmless when never started
}

TEST(LoadOrCreateTokenTest, CreatesA0600HexTokenOnceThenReadsIt) {
  const std::string dir = ::testing::TempDir() + "/nephron_token_test_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/sub/token";
  auto t1 = LoadOrCreateToken(path);
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  EXPECT_EQ(t1->size(), 64u);
  EXPECT_EQ(t1->find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto t2 = LoadOrCreateToken(path);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(*t2, *t1);
  EXPECT_NE(*LoadOrCreateToken(dir + "/other"), *t1);

  ASSERT_TRUE(WriteFileAtomic(dir + "/given", "  my-token\n").ok());
  EXPECT_EQ(*LoadOrCreateToken(dir + "/given"), "my-token");
  ASSERT_TRUE(WriteFileAtomic(dir + "/empty", "\n").ok());
  auto empty = LoadOrCreateToken(dir + "/empty");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find(dir + "/empty"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nephron::coord
