#include "coordinator/client/local_monitor.h"

#include "coordinator/client/format.h"

namespace nephron::client {
namespace {

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 160 ? line.substr(0, 157) + "..." : line;
}

// What a task's new state means, in words.
std::string Change(const Json& t, const std::string& before) {
  const std::string state = t.value("state", std::string());
  const std::string attempt = std::to_string(t.value("attempt", int64_t{0}));
  const std::string error = FirstLine(t.value("error", std::string()));
  if (state == "running") return "running on " + t.value("worker", std::string("?")) + " (attempt " + attempt + ")";
  if (state == "succeeded") {
    const int64_t ms = t.value("finished_ms", int64_t{0}) - t.value("started_ms", int64_t{0});
    return ms > 0 ? "succeeded in " + Duration(ms / 1000.0) : "succeeded";
  }
  if (state == "failed") return "failed (attempt " + attempt + "): " + (error.empty() ? "no reason given" : error);
  if (state == "cancelled") return "cancelled";
  if (state == "pending" && before == "running")
    return "back in the queue after attempt " + attempt + (error.empty() ? "" : ": " + error);
  if (state == "pending" && (before == "failed" || before == "cancelled")) return "queued again";
  return state;
}

}  // namespace

std::string ExperimentMonitor::Update(const Json& experiment, int64_t now_ms) {
  std::string out;
  const std::string stamp = "[" + ClockTime(now_ms) + "] ";
  const Json tasks = experiment.value("tasks", Json::array());
  if (last_progress_ms_ < 0) last_progress_ms_ = now_ms;
  for (const auto& t : tasks) {
    const int64_t id = t.value("id", int64_t{0});
    Seen now{t.value("state", std::string()), t.value("attempt", int64_t{0})};
    auto it = seen_.find(id);
    const bool changed = it == seen_.end() ? now.state != "pending"
                                           : it->second.state != now.state || it->second.attempt != now.attempt;
    if (changed)
      out += stamp + t.value("name", "task " + std::to_string(id)) + ": " +
             Change(t, it == seen_.end() ? "" : it->second.state) + "\n";
    seen_[id] = now;
  }
  if (now_ms - last_progress_ms_ >= progress_every_ms_) {
    last_progress_ms_ = now_ms;
    for (const auto& t : tasks) {
      if (t.value("state", std::string()) != "running") continue;
      const std::string msg = t.value("progress_message", std::string());
      out += stamp + "  " + t.value("name", std::string()) + ": " + Percent(t.value("progress", Json(0.0))) +
             (msg.empty() ? "" : " " + msg) + "\n";
    }
  }
  return out;
}

}  // namespace nephron::client
