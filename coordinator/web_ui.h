// The web UI's server side, added to the HTTP API's server:
//   GET /                                   the page (webui/index.html)
//   GET /assets/<file>                      its scripts, styles and the charting library,
//                                           embedded in the binary at build time
//   GET /api/events                         server-sent events: one "change" event per
//                                           burst of Store changes (see below)
//   GET /api/experiments/{id}/files/<path>  a file an experiment's task wrote (a registered
//                                           artifact only: previews, summaries, logs)
//
// A "change" event's data is {"seq", "reset", "experiments": [ids], "tasks": [ids],
// "metrics": [experiment ids], "logs": [task ids], "workers": bool}: what changed since
// the previous event; the page re-reads those through the JSON API. "reset" (the
// first event of a stream, or when the stream fell behind) means "re-read
// everything". Event ids are "<start>-<seq>", so a browser that reconnects with
// Last-Event-ID resumes without a reset when the coordinator has not restarted.
// A comment line every keepalive_ms keeps proxies from closing an idle stream.
#pragma once

#include <atomic>
#include <cstdint>

#include "coordinator/change_feed.h"
#include "coordinator/http_api.h"
#include "coordinator/store.h"

namespace nephron::coord {

struct WebUiOptions {
  int max_streams = 32;        // concurrent event streams; more get 503
  int keepalive_ms = 15000;
  int min_interval_ms = 250;   // at most one change event per stream this often
};

class WebUi {
 public:
  // `store` and `feed` must outlive the server the routes are added to.
  WebUi(Store* store, ChangeFeed* feed, WebUiOptions options = {});
  // Adds the routes above; call before api->Start().
  void AddRoutes(HttpApi* api);
  // Ends every open event stream (call before HttpApi::Stop()).
  void Stop();
  int open_streams() const { return streams_.load(); }

 private:
  Store* store_;
  ChangeFeed* feed_;
  WebUiOptions options_;
  int64_t epoch_ms_;
  std::atomic<int> streams_{0};
};

}  // namespace nephron::coord
