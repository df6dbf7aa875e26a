// What changed in the Store, in order, for the web UI's server-sent events.
// Writers Publish() one Change per write (ObservedStore does it for every
// Store mutation); each SSE connection keeps a cursor and Wait()s for the
// changes after it. Changes carry ids, not data: the page re-reads what it
// shows through the JSON API, so the API stays the one source of truth.
//
// Bounded: the last `capacity` changes are kept; a reader that fell further
// behind gets `lost` = true (it must re-read everything). Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace nephron::coord {

struct Change {
  int64_t seq = 0;           // 1, 2, 3, ... per feed
  std::string kind;          // "experiment", "task", "metric", "log", "artifact", "event", "worker"
  int64_t experiment_id = 0; // 0 when unknown or not about one (workers)
  int64_t task_id = 0;
  std::string worker;
};

struct ChangeBatch {
  std::vector<Change> changes;  // seq > the cursor, oldest first
  int64_t last_seq = 0;         // the feed's newest seq (the next cursor)
  bool lost = false;            // changes after the cursor were dropped
  bool closed = false;          // the feed is shutting down
};

class ChangeFeed {
 public:
  explicit ChangeFeed(size_t capacity = 4096) : capacity_(capacity) {}

  void Publish(Change c);
  // Returns as soon as there are changes after `after_seq`, or after
  // `timeout_ms` (then with none), or at Close().
  ChangeBatch Wait(int64_t after_seq, int timeout_ms);
  int64_t last_seq() const;
  // Wakes every waiter and makes Wait() return at once from now on.
  void Close();

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Change> ring_;
  int64_t last_seq_ = 0;
  bool closed_ = false;
};

}  // namespace nephron::coord
