#include "coordinator/change_feed.h"

#include <chrono>

namespace nephron::coord {

void ChangeFeed::Publish(Change c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    c.seq = ++last_seq_;
    ring_.push_back(std::move(c));
    while (ring_.size() > capacity_) ring_.pop_front();
  }
  cv_.notify_all();
}

ChangeBatch ChangeFeed::Wait(int64_t after_seq, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return closed_ || last_seq_ > after_seq; });
  ChangeBatch b;
  b.closed = closed_;
  b.last_seq = last_seq_;
  if (last_seq_ <= after_seq) return b;
  // A cursor older than the ring: the reader cannot know what it missed.
  b.lost = ring_.empty() || ring_.front().seq > after_seq + 1;
  for (const Change& c : ring_)
    if (c.seq > after_seq) b.changes.push_back(c);
  return b;
}

int64_t ChangeFeed::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

void ChangeFeed::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace nephron::coord
