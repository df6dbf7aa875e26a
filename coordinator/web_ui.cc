#include "coordinator/web_ui.h"

#include <httplib.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "coordinator/http_util.h"
#include "coordinator/webui_assets.h"

namespace nephron::coord {
namespace {

using httplib::Request;
using httplib::Response;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* ContentTypeOf(const std::string& path) {
  static const std::map<std::string, const char*> kTypes = {
      {".png", "image/png"},  {".json", "application/json"}, {".csv", "text/csv; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"}, {".log", "text/plain; charset=utf-8"},
      {".jsonl", "text/plain; charset=utf-8"}, {".yaml", "text/plain; charset=utf-8"}};
  const auto dot = path.rfind('.');
  if (dot != std::string::npos) {
    auto it = kTypes.find(path.substr(dot));
    if (it != kTypes.end()) return it->second;
  }
  return "application/octet-stream";
}

// The data of one "change" event: what `changes` touched.
Json Summarize(const std::vector<Change>& changes, int64_t seq, bool reset) {
  std::set<int64_t> experiments, tasks, metrics, logs;
  bool workers = false;
  for (const Change& c : changes) {
    if (c.kind == "worker") {
      workers = true;
      continue;
    }
    if (c.experiment_id > 0) experiments.insert(c.experiment_id);
    if (c.kind == "task" && c.task_id > 0) tasks.insert(c.task_id);
    if (c.kind == "metric" && c.experiment_id > 0) metrics.insert(c.experiment_id);
    if (c.kind == "log" && c.task_id > 0) logs.insert(c.task_id);
  }
  return Json{{"seq", seq},         {"reset", reset},     {"experiments", experiments}, {"tasks", tasks},
              {"metrics", metrics}, {"logs", logs},       {"workers", workers}};
}

// One event stream: its cursor and the state httplib's provider needs.
struct Stream {
  ChangeFeed* feed;
  std::atomic<int>* open;
  int64_t epoch_ms;
  int64_t cursor;
  bool reset;
  WebUiOptions options;
  bool started = false;
  int64_t last_sent_ms = 0;
  ~Stream() { --*open; }

  static bool Write(httplib::DataSink& sink, const std::string& text) {
    return sink.write(text.data(), text.size());
  }

  std::string EventText(const Json& data) const {
    return "id: " + std::to_string(epoch_ms) + "-" + std::to_string(cursor) + "\nevent: change\ndata: " +
           data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
  }

  // httplib calls this again as long as it returns true.
  bool Next(httplib::DataSink& sink) {
    if (!started) {
      started = true;
      // The browser reconnects by itself after this many milliseconds.
      return Write(sink, "retry: 2000\n\n") && Write(sink, EventText(Summarize({}, cursor, reset)));
    }
    // Coalesce bursts: at most one event per min_interval_ms.
    const int64_t since = NowMs() - last_sent_ms;
    if (since < options.min_interval_ms)
      std::this_thread::sleep_for(std::chrono::milliseconds(options.min_interval_ms - since));
    ChangeBatch b = feed->Wait(cursor, options.keepalive_ms);
    if (b.closed) return false;
    if (b.changes.empty() && !b.lost) return Write(sink, ": keepalive\n\n");
    cursor = b.last_seq;
    last_sent_ms = NowMs();
    return Write(sink, EventText(Summarize(b.changes, cursor, b.lost)));
  }
};

}  // namespace

WebUi::WebUi(Store* store, ChangeFeed* feed, WebUiOptions options)
    : store_(store), feed_(feed), options_(options), epoch_ms_(NowMs()) {}

void WebUi::Stop() { feed_->Close(); }

void WebUi::AddRoutes(HttpApi* api) {
  auto serve_asset = [](const std::string& path, Response& res) {
    const WebAsset* a = FindWebAsset(path);
    if (a == nullptr) return SendError(res, 404, "no such web UI file: " + path);
    res.set_header("Cache-Control", "no-cache");
    res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->content_type);
  };
  // The page and its files hold no data: open even when reads need the token.
  api->AddGet("/", [serve_asset](const Request&, Response& res) { serve_asset("index.html", res); }, true);
  api->AddGet(R"(/assets/([A-Za-z0-9._-]+))",
              [serve_asset](const Request& req, Response& res) { serve_asset(req.matches[1].str(), res); }, true);

  api->AddGet("/api/events", [this](const Request& req, Response& res) {
    if (streams_.fetch_add(1) >= options_.max_streams) {
      --streams_;
      return SendError(res, 503, "too many open event streams (" + std::to_string(options_.max_streams) + ")");
    }
    auto s = std::make_shared<Stream>();
    s->feed = feed_;
    s->open = &streams_;
    s->epoch_ms = epoch_ms_;
    s->options = options_;
    s->cursor = feed_->last_seq();
    s->reset = true;
    // "<epoch>-<seq>" from this run of the coordinator: resume after seq.
    const std::string last = req.get_header_value("Last-Event-ID");
    const auto dash = last.find('-');
    int64_t epoch = 0, seq = 0;
    if (dash != std::string::npos && ParseInt64(last.substr(0, dash), &epoch) &&
        ParseInt64(last.substr(dash + 1), &seq) && epoch == epoch_ms_ && seq <= s->cursor) {
      s->cursor = seq;
      s->reset = false;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider("text/event-stream",
                                     [s](size_t, httplib::DataSink& sink) { return s->Next(sink); });
  });

  api->AddGet(R"(/api/experiments/(\d+)/files/(.+))", [this](const Request& req, Response& res) {
    int64_t id = 0;
    if (!ParseInt64(req.matches[1].str(), &id)) return SendError(res, 400, "bad experiment id");
    const std::string path = req.matches[2].str();
    auto e = store_->GetExperiment(id);
    if (!e.ok()) return SendStatus(res, e.status());
    auto artifacts = store_->Artifacts(id);
    if (!artifacts.ok()) return SendStatus(res, artifacts.status());
    // Only files a task reported: never a path of the client's making.
    bool known = false;
    for (const auto& a : *artifacts) known = known || a.path == path;
    if (!known) return SendError(res, 404, "experiment " + std::to_string(id) + " has no file " + path);
    auto in = std::make_shared<std::ifstream>(e->dir + "/" + path, std::ios::binary);
    if (!*in) return SendError(res, 404, "file " + e->dir + "/" + path + " is gone");
    in->seekg(0, std::ios::end);
    const size_t size = static_cast<size_t>(in->tellg());
    in->seekg(0);
    res.set_content_provider(size, ContentTypeOf(path), [in](size_t offset, size_t length, httplib::DataSink& sink) {
      char buf[64 * 1024];
      in->seekg(static_cast<std::streamoff>(offset));
      in->read(buf, static_cast<std::streamsize>(std::min(length, sizeof buf)));
      const auto got = in->gcount();
      return got > 0 && sink.write(buf, static_cast<size_t>(got));
    });
  });
}

}  // namespace nephron::coord
