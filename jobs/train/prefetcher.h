// Prefetcher<T>: prepares items 0..n-1 (by index) on background threads, a
// bounded number ahead of the consumer, and hands them out in index order.
// Items depend only on their index (the Make function must be a pure
// function of it), never on thread timing, so results are reproducible.
// Get() is called from one consumer thread.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace nephron::train {

template <typename T>
class Prefetcher {
 public:
  using Make = std::function<T(int64_t)>;
  // Prepares indices [first, last) with `threads` threads (0: inline in Get).
  Prefetcher(Make make, int threads, int64_t first, int64_t last, int lookahead)
      : make_(std::move(make)), next_(first), last_(last), consumed_(first - 1), lookahead_(std::max(1, lookahead)) {
    for (int t = 0; t < threads; ++t) pool_.emplace_back([this] { Loop(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : pool_) t.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  T Get(int64_t index) {
    if (pool_.empty()) return make_(index);
    std::unique_lock<std::mutex> l(mu_);
    consumed_ = index - 1;
    cv_.notify_all();
    cv_.wait(l, [&] { return ready_.count(index) > 0; });
    T item = std::move(ready_[index]);
    ready_.erase(index);
    consumed_ = index;
    cv_.notify_all();
    return item;
  }

 private:
  void Loop() {
    while (true) {
      int64_t index;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || (next_ < last_ && next_ <= consumed_ + lookahead_); });
        if (stop_) return;
        index = next_++;
      }
      T item = make_(index);
      {
        std::lock_guard<std::mutex> l(mu_);
        ready_.emplace(index, std::move(item));
      }
      cv_.notify_all();
    }
  }

  Make make_;
  std::vector<std::thread> pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, T> ready_;
  int64_t next_, last_, consumed_;
  int lookahead_;
  bool stop_ = false;
};

}  // namespace nephron::train
