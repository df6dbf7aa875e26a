// The web UI's server side: the change feed, the store wrapper that fills it,
// and the routes (embedded page and assets, server-sent events, experiment
// files) over real HTTP on loopback.
#include "coordinator/web_ui.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "common/fs_util.h"
#include "common/json_util.h"
#include "coordinator/change_feed.h"
#include "coordinator/observed_store.h"
#include "tests/fakes/fake_control.h"

namespace nephron::coord {
namespace {

constexpr char kToken[] = "web-token";

// ---- ChangeFeed ------------------------------------------------------------

TEST(ChangeFeedTest, WaitReturnsTheChangesAfterTheCursorInOrder) {
  ChangeFeed feed;
  feed.Publish({0, "task", 1, 7, ""});
  feed.Publish({0, "metric", 1, 7, ""});
  ChangeBatch b = feed.Wait(0, 0);
  ASSERT_EQ(b.changes.size(), 2u);
  EXPECT_EQ(b.changes[0].seq, 1);
  EXPECT_EQ(b.changes[0].kind, "task");
  EXPECT_EQ(b.changes[1].seq, 2);
  EXPECT_EQ(b.last_seq, 2);
  EXPECT_FALSE(b.lost);
  b = feed.Wait(1, 0);
  ASSERT_EQ(b.changes.size(), 1u);
  EXPECT_EQ(b.changes[0].kind, "metric");
}

TEST(ChangeFeedTest, WaitTimesOutEmptyAndWakesOnPublish) {
  ChangeFeed feed;
  const auto t0 = std::chrono::steady_clock::now();
  ChangeBatch b = feed.Wait(0, 50);
  EXPECT_TRUE(b.changes.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(45));
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    feed.Publish({0, "worker", 0, 0, "w1"});
  });
  b = feed.Wait(0, 10'000);
  writer.join();
  ASSERT_EQ(b.changes.size(), 1u);
  EXPECT_EQ(b.changes[0].worker, "w1");
}

TEST(ChangeFeedTest, AReaderBehindTheRingIsToldItLostChanges) {
  ChangeFeed feed(/*capacity=*/3);
  for (int i = 0; i < 5; ++i) feed.Publish({0, "task", 1, i + 1, ""});
  ChangeBatch b = feed.Wait(0, 0);
  EXPECT_TRUE(b.lost);
  ASSERT_EQ(b.changes.size(), 3u);
  EXPECT_EQ(b.changes[0].seq, 3);
  b = feed.Wait(2, 0);  // the ring still holds 3, 4, 5
  EXPECT_FALSE(b.lost);
}

TEST(ChangeFeedTest, CloseWakesWaiters) {
  ChangeFeed feed;
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    feed.Close();
  });
  const auto t0 = std::chrono::steady_clock::now();
  ChangeBatch b = feed.Wait(0, 10'000);
  closer.join();
  EXPECT_TRUE(b.closed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// ---- ObservedStore -----------------------------------------------------------

class ObservedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inner_ = NewMemoryStore();
    store_ = std::make_unique<ObservedStore>(inner_.get(), &feed_);
    ExperimentRecord e;
    e.name = "x";
    TaskRecord t;
    t.kind = "train";
    t.name = "train fold 0";
    auto id = store_->CreateExperiment(e, {t});
    ASSERT_TRUE(id.ok());
    exp_ = *id;
    task_ = (*store_->ListTasks(exp_))[0].id;
  }
  // The changes published since the last call.
  std::vector<Change> Drain() {
    ChangeBatch b = feed_.Wait(cursor_, 0);
    cursor_ = b.last_seq;
    return b.changes;
  }

  ChangeFeed feed_;
  std::unique_ptr<Store> inner_;
  std::unique_ptr<ObservedStore> store_;
  int64_t exp_ = 0, task_ = 0, cursor_ = 0;
};

TEST_F(ObservedStoreTest, EveryWriteIsPublishedWithItsExperiment) {
  auto c = Drain();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].kind, "experiment");
  EXPECT_EQ(c[0].experiment_id, exp_);

  ASSERT_TRUE(*store_->ClaimTask(task_, 0, "w1", 1));
  ASSERT_TRUE(*store_->SetProgress(task_, 1, 0.5, "epoch 1"));
  MetricRecord m;
  m.task_id = task_;
  m.experiment_id = exp_;
  m.epoch = 0;
  m.attempt = 1;
  ASSERT_TRUE(store_->AddMetric(m).ok());
  ASSERT_TRUE(store_->AppendLogs(task_, 1, {"hello"}, 2).ok());
  ASSERT_TRUE(store_->AddEvent(exp_, task_, "something", 3).ok());
  WorkerRecord w;
  w.name = "w1";
  ASSERT_TRUE(store_->UpsertWorker(w).ok());
  ASSERT_TRUE(*store_->FinishTask(task_, 1, TaskState::kSucceeded, "", false, 4));
  ASSERT_TRUE(store_->SetExperimentState(exp_, ExperimentState::kSucceeded, "", 5).ok());

  c = Drain();
  std::vector<std::string> kinds;
  for (const auto& ch : c) {
    kinds.push_back(ch.kind);
    if (ch.kind != "worker") {
      EXPECT_EQ(ch.experiment_id, exp_) << ch.kind;
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"task", "task", "metric", "log", "event", "worker", "task", "experiment"}));
  EXPECT_EQ(c[5].worker, "w1");
  EXPECT_EQ(c[0].task_id, task_);
}

TEST_F(ObservedStoreTest, StaleOrFailedWritesPublishNothing) {
  Drain();
  EXPECT_FALSE(*store_->SetProgress(task_, 3, 0.5, "stale attempt"));
  EXPECT_FALSE(*store_->FinishTask(task_, 3, TaskState::kFailed, "x", false, 1));
  EXPECT_FALSE(store_->SetExperimentState(999, ExperimentState::kFailed, "", 1).ok());
  EXPECT_TRUE(store_->AppendLogs(task_, 1, {}, 1).ok());
  EXPECT_TRUE(Drain().empty());
}

// ---- Routes over HTTP ----------------------------------------------------------

class WebUiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("nephron_webui_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "exp" / "predictions" / "previews");
    inner_ = NewMemoryStore();
    store_ = std::make_unique<ObservedStore>(inner_.get(), &feed_);
    ExperimentRecord e;
    e.name = "demo";
    e.dir = (dir_ / "exp").string();
    TaskRecord t;
    t.kind = "evaluate";
    t.name = "evaluate";
    exp_ = *store_->CreateExperiment(e, {t});
    task_ = (*store_->ListTasks(exp_))[0].id;
    ASSERT_TRUE(WriteFileAtomic((dir_ / "exp/predictions/previews/case_00001.png").string(), "\x89PNG fake").ok());
    ASSERT_TRUE(WriteFileAtomic((dir_ / "exp/secret.txt").string(), "not an artifact").ok());
    ArtifactRecord a;
    a.path = "predictions/previews/case_00001.png";
    a.size = 9;
    ASSERT_TRUE(store_->AddArtifacts(task_, 0, {a}).ok());
  }
  void TearDown() override {
    if (ui_) ui_->Stop();
    if (api_) api_->Stop();
    std::filesystem::remove_all(dir_);
  }

  void Start(bool open_reads, WebUiOptions wo = {}) {
    wo.keepalive_ms = 200;
    wo.min_interval_ms = 20;
    HttpOptions o;
    o.token = kToken;
    o.open_reads = open_reads;
    api_ = std::make_unique<HttpApi>(store_.get(), &control_, o);
    ui_ = std::make_unique<WebUi>(store_.get(), &feed_, wo);
    ui_->AddRoutes(api_.get());
    ASSERT_TRUE(api_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_->port());
  }

  // Reads an event stream on a thread of its own; events are parsed into
  // (id, data) pairs.
  struct Sse {
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    std::string buffer;
    std::vector<std::pair<std::string, Json>> events;
    int status = 0;
    bool done = false;
    std::atomic<bool> stop{false};

    void Start(int port, httplib::Headers headers, const std::string& path = "/api/events") {
      thread = std::thread([this, port, headers, path] {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(10, 0);
        auto res = c.Get(path.c_str(), headers, [&](const char* data, size_t len) {
          std::lock_guard<std::mutex> lock(mu);
          buffer.append(data, len);
          for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
            const std::string block = buffer.substr(0, end);
            buffer.erase(0, end + 2);
            std::string id, data_line;
            size_t pos = 0;
            while (pos < block.size()) {
              size_t nl = block.find('\n', pos);
              if (nl == std::string::npos) nl = block.size();
              const std::string line = block.substr(pos, nl - pos);
              if (line.rfind("id: ", 0) == 0) id = line.substr(4);
              if (line.rfind("data: ", 0) == 0) data_line = line.substr(6);
              pos = nl + 1;
            }
            if (!data_line.empty()) events.emplace_back(id, Json::parse(data_line));
          }
          cv.notify_all();
          return !stop.load();
        });
        std::lock_guard<std::mutex> lock(mu);
        status = res ? res->status : -1;
        done = true;
        cv.notify_all();
      });
    }
    // Waits until `pred(events)` holds (or 10 s pass).
    template <typename Pred>
    bool WaitFor(Pred pred) {
      std::unique_lock<std::mutex> lock(mu);
      return cv.wait_for(lock, std::chrono::seconds(10), [&] { return pred(events) || done; }) && pred(events);
    }
    void Join() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
    ~Sse() { Join(); }
  };

  std::filesystem::path dir_;
  ChangeFeed feed_;
  std::unique_ptr<Store> inner_;
  std::unique_ptr<ObservedStore> store_;
  nephron::testing::FakeControl control_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<WebUi> ui_;
  std::unique_ptr<httplib::Client> client_;
  int64_t exp_ = 0, task_ = 0;
};

TEST_F(WebUiTest, ServesTheEmbeddedPageAndAssets) {
  Start(/*open_reads=*/true);
  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("/assets/app.js"), std::string::npos);
  EXPECT_NE(page->body.find("/assets/uPlot.iife.min.js"), std::string::npos);
  for (const char* asset : {"/assets/app.js", "/assets/charts.js", "/assets/style.css", "/assets/uPlot.iife.min.js",
                            "/assets/uPlot.min.css", "/assets/favicon.svg"}) {
    auto r = client_->Get(asset);
    ASSERT_TRUE(r) << asset;
    EXPECT_EQ(r->status, 200) << asset;
    EXPECT_GT(r->body.size(), 100u) << asset;
  }
  EXPECT_NE(client_->Get("/assets/uPlot.iife.min.js")->body.find("uPlot"), std::string::npos);
  auto missing = client_->Get("/assets/nope.js");
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("nope.js"), std::string::npos);
  EXPECT_EQ(client_->Get("/assets/../http_api.cc")->status, 404);
}

TEST_F(WebUiTest, PageIsOpenButClosedReadsGuardEventsAndFiles) {
  Start(/*open_reads=*/false);
  EXPECT_EQ(client_->Get("/")->status, 200);
  EXPECT_EQ(client_->Get("/assets/app.js")->status, 200);
  EXPECT_EQ(client_->Get("/api/events")->status, 401);
  EXPECT_EQ(client_->Get("/api/events?access_token=wrong")->status, 401);
  EXPECT_EQ(client_->Get("/api/experiments/1/files/predictions/previews/case_00001.png")->status, 401);
  auto file = client_->Get("/api/experiments/1/files/predictions/previews/case_00001.png?access_token=web-token");
  EXPECT_EQ(file->status, 200);
  // A query token is for GETs only: a POST still needs the header.
  EXPECT_EQ(client_->Post("/api/experiments/1/cancel?access_token=web-token", "", "text/plain")->status, 401);
  EXPECT_TRUE(control_.Calls().empty());

  Sse sse;
  sse.Start(api_->port(), {}, "/api/events?access_token=web-token");
  EXPECT_TRUE(sse.WaitFor([](const auto& ev) { return !ev.empty(); }));
}

TEST_F(WebUiTest, EventsStartWithAResetThenReportWhatChanged) {
  Start(/*open_reads=*/true);
  Sse sse;
  sse.Start(api_->port(), {});
  ASSERT_TRUE(sse.WaitFor([](const auto& ev) { return !ev.empty(); }));
  {
    std::lock_guard<std::mutex> lock(sse.mu);
    EXPECT_TRUE(sse.events[0].second["reset"].get<bool>());
  }
  ASSERT_TRUE(*store_->ClaimTask(task_, 0, "w1", 1));
  ASSERT_TRUE(store_->AppendLogs(task_, 1, {"epoch 1"}, 2).ok());
  MetricRecord m;
  m.task_id = task_;
  m.experiment_id = exp_;
  m.attempt = 1;
  ASSERT_TRUE(store_->AddMetric(m).ok());
  WorkerRecord w;
  w.name = "w1";
  ASSERT_TRUE(store_->UpsertWorker(w).ok());
  // The four writes may arrive in one event or several: merge them.
  auto merged = [&](const auto& ev) {
    Json all{{"experiments", Json::array()}, {"tasks", Json::array()}, {"metrics", Json::array()},
             {"logs", Json::array()}, {"workers", false}};
    for (size_t i = 1; i < ev.size(); ++i) {
      for (const char* k : {"experiments", "tasks", "metrics", "logs"})
        for (const auto& v : ev[i].second[k]) all[k].push_back(v);
      if (ev[i].second["workers"].template get<bool>()) all["workers"] = true;
    }
    return all;
  };
  const Json want_task = Json::array({task_});
  ASSERT_TRUE(sse.WaitFor([&](const auto& ev) {
    Json all = merged(ev);
    return all["workers"].get<bool>() && !all["metrics"].empty() && !all["logs"].empty();
  }));
  std::lock_guard<std::mutex> lock(sse.mu);
  Json all = merged(sse.events);
  EXPECT_EQ(all["tasks"], want_task);
  EXPECT_EQ(all["logs"], want_task);
  EXPECT_EQ(all["metrics"], Json::array({exp_}));
  EXPECT_EQ(all["experiments"][0], exp_);
  EXPECT_FALSE(sse.events.back().second["reset"].get<bool>());
  // Ids are "<start>-<seq>" and increase.
  const std::string first = sse.events[0].first, last = sse.events.back().first;
  ASSERT_NE(first.find('-'), std::string::npos);
  EXPECT_EQ(first.substr(0, first.find('-')), last.substr(0, last.find('-')));
  EXPECT_LT(std::stoll(first.substr(first.find('-') + 1)), std::stoll(last.substr(last.find('-') + 1)));
}

TEST_F(WebUiTest, ReconnectingWithLastEventIdResumesWithoutAReset) {
  Start(/*open_reads=*/true);
  std::string last_id;
  {
    Sse sse;
    sse.Start(api_->port(), {});
    ASSERT_TRUE(sse.WaitFor([](const auto& ev) { return !ev.empty(); }));
    std::lock_guard<std::mutex> lock(sse.mu);
    last_id = sse.events[0].first;
  }
  ASSERT_TRUE(store_->AddEvent(exp_, 0, "while away", 1).ok());
  Sse again;
  again.Start(api_->port(), {{"Last-Event-ID", last_id}});
  ASSERT_TRUE(again.WaitFor([](const auto& ev) { return ev.size() >= 2; }));
  std::lock_guard<std::mutex> lock(again.mu);
  EXPECT_FALSE(again.events[0].second["reset"].get<bool>());
  EXPECT_EQ(again.events[1].second["experiments"], Json::array({exp_}));  // what happened while away

  // An id from another run of the coordinator: start over with a reset.
  Sse other;
  other.Start(api_->port(), {{"Last-Event-ID", "12345-3"}});
  ASSERT_TRUE(other.WaitFor([](const auto& ev) { return !ev.empty(); }));
  std::lock_guard<std::mutex> lock2(other.mu);
  EXPECT_TRUE(other.events[0].second["reset"].get<bool>());
}

TEST_F(WebUiTest, StreamsAreLimitedAndEndOnStop) {
  WebUiOptions wo;
  wo.max_streams = 1;
  Start(/*open_reads=*/true, wo);
  Sse sse;
  sse.Start(api_->port(), {});
  ASSERT_TRUE(sse.WaitFor([](const auto& ev) { return !ev.empty(); }));
  EXPECT_EQ(ui_->open_streams(), 1);
  auto refused = client_->Get("/api/events");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  // The API keeps answering while a stream is open.
  EXPECT_EQ(client_->Get("/api/experiments")->status, 200);

  const auto t0 = std::chrono::steady_clock::now();
  ui_->Stop();
  {
    std::unique_lock<std::mutex> lock(sse.mu);
    EXPECT_TRUE(sse.cv.wait_for(lock, std::chrono::seconds(5), [&] { return sse.done; }));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  sse.Join();
  for (int i = 0; i < 100 && ui_->open_streams() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(ui_->open_streams(), 0);
}

TEST_F(WebUiTest, FilesAreServedOnlyWhenATaskReportedThem) {
  Start(/*open_reads=*/true);
  auto png = client_->Get("/api/experiments/1/files/predictions/previews/case_00001.png");
  ASSERT_TRUE(png);
  EXPECT_EQ(png->status, 200);
  EXPECT_EQ(png->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(png->body, "\x89PNG fake");
  auto secret = client_->Get("/api/experiments/1/files/secret.txt");
  EXPECT_EQ(secret->status, 404);
  EXPECT_NE(secret->body.find("secret.txt"), std::string::npos);
  EXPECT_EQ(client_->Get("/api/experiments/1/files/../exp/secret.txt")->status, 404);
  EXPECT_EQ(client_->Get("/api/experiments/9/files/predictions/previews/case_00001.png")->status, 404);
  // Reported, then deleted from disk.
  std::filesystem::remove(dir_ / "exp/predictions/previews/case_00001.png");
  auto gone = client_->Get("/api/experiments/1/files/predictions/previews/case_00001.png");
  EXPECT_EQ(gone->status, 404);
  EXPECT_NE(gone->body.find("gone"), std::string::npos);
}

}  // namespace
}  // namespace nephron::coord
