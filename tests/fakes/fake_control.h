// A Control (coordinator/control.h) that records every call and answers with
// a scripted status, for tests of the HTTP API and of the client commands.
#pragma once

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "coordinator/control.h"

namespace nephron::testing {

class FakeControl : public coord::Control {
 public:
  // Submit answers `submit_id` when `next` is OK.
  Result<int64_t> Submit(const std::string& spec_yaml, const std::string& source) override {
    Record("submit " + source);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_spec_ = spec_yaml;
    }
    if (throw_next) throw std::runtime_error("boom");
    if (!next.ok()) return next;
    return submit_id;
  }
  Status Cancel(int64_t id) override { return Record("cancel " + std::to_string(id)); }
  Status Retry(int64_t id) override { return Record("retry " + std::to_string(id)); }
  Status Drain(const std::string& worker) override { return Record("drain " + worker); }

  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::string LastSpec() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_spec_;
  }

  // Set before the calls they script (not while a request is in flight).
  Status next;
  bool throw_next = false;
  int64_t submit_id = 42;

 private:
  Status Record(const std::string& call) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call);
    return next;
  }
  std::mutex mu_;
  std::vector<std::string> calls_;
  std::string last_spec_;
};

}  // namespace nephron::testing
