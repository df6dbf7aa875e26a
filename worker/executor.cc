#include "worker/executor.h"

#include <signal.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace nephron::worker {

namespace {

using Clock = std::chrono::steady_clock;

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

}  // namespace

std::vector<std::string> EngineCommand(const proto::AssignMsg& a, const ExecutorOptions& o) {
  std::vector<std::string> c = {o.engine};
  const std::string threads = std::to_string(a.threads > 0 ? a.threads : o.threads);
  const std::string shard = std::to_string(a.shard) + "/" + std::to_string(a.num_shards);
  if (a.kind == "fingerprint" || a.kind == "preprocess") {
    c.insert(c.end(), {a.kind, "--data", a.data_dir, "--experiment", a.experiment_dir, "--spec", a.spec_path,
                       "--shard", shard, "--threads", threads});
  } else if (a.kind == "plan") {
    c.insert(c.end(), {"plan", "--data", a.data_dir, "--experiment", a.experiment_dir, "--spec", a.spec_path,
                       "--threads", threads});
  } else if (a.kind == "train") {
    c.insert(c.end(), {"train", "--experiment", a.experiment_dir, "--fold", std::to_string(a.fold), "--spec",
                       a.spec_path, "--device", o.device, "--threads", threads, "--continue"});
  } else if (a.kind == "validate") {
    c.insert(c.end(), {"validate", "--experiment", a.experiment_dir, "--fold", std::to_string(a.fold), "--spec",
                       a.spec_path, "--device", o.device, "--threads", threads});
  } else if (a.kind == "crossval") {
    c.insert(c.end(), {"crossval", "--experiment", a.experiment_dir, "--spec", a.spec_path, "--threads", threads});
  } else if (a.kind == "predict") {
    c.insert(c.end(), {"predict", "--experiment", a.experiment_dir, "--input", a.data_dir, "--test-set", "--spec",
                       a.spec_path, "--output", a.output_dir, "--shard", shard, "--device", o.device, "--threads",
                       threads});
    if (!a.cases.empty()) c.insert(c.end(), {"--cases", Join(a.cases, ",")});
  } else if (a.kind == "evaluate") {
    c.insert(c.end(), {"evaluate", "--pred", a.output_dir, "--gt", a.data_dir, "--out",
                       a.output_dir + "/evaluation.json", "--threads", threads});
  } else {
    return {};
  }
  // A global option of `nephron`: the backend library is loaded before the command parses --device.
  if (!o.device_plugin.empty()) c.insert(c.end(), {"--device-plugin", o.device_plugin});
  return c;
}

bool ParseProgressLine(const std::string& line, proto::ProgressMsg* out) {
  if (line.size() < 5 || line[0] != '[') return false;
  const auto close = line.find("] ");
  if (close == std::string::npos) return false;
  long long done = 0, total = 0;
  int consumed = 0;
  if (std::sscanf(line.c_str() + close + 2, "%lld/%lld%n", &done, &total, &consumed) != 2) return false;
  out->stage = line.substr(1, close - 1);
  out->done = done;
  out->total = total;
  size_t rest = close + 2 + static_cast<size_t>(consumed);
  while (rest < line.size() && line[rest] == ' ') ++rest;
  out->message = line.substr(rest);
  return true;
}

bool ParseMetricLine(const std::string& line, proto::MetricMsg* out) {
  try {
    const auto j = nlohmann::json::parse(line);
    out->epoch = j.at("epoch").get<int>();
    out->train_loss = j.value("train_loss", 0.0);
    out->val_loss = j.value("val_loss", 0.0);
    out->dice.clear();
    for (const auto& d : j.value("pseudo_dice", nlohmann::json::array()))
      out->dice.push_back(d.is_number() ? d.get<double>() : -1.0);
    out->ema_dice = j.value("ema_dice", 0.0);
    out->lr = j.value("lr", 0.0);
    out->seconds = j.value("seconds", 0.0);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

Executor::Executor(ExecutorOptions o) : options_(std::move(o)) {}

Executor::~Executor() {
  Cancel();
  if (thread_.joinable()) thread_.join();
}

void Executor::Start(const proto::AssignMsg& a, bool remote_files) {
  if (thread_.joinable()) thread_.join();
  task_ = a.task;
  attempt_ = a.attempt;
  cancel_ = false;
  if (a.kind == "noop") {
    thread_ = std::thread([this, a] { RunNoop(a); });
  } else {
    thread_ = std::thread([this, a, remote_files] { RunEngine(a, remote_files); });
  }
}

void Executor::Cancel() {
  cancel_ = true;
  const int pid = child_pid_.load();
  if (pid > 0) kill(pid, SIGTERM);
}

ExecEvents Executor::Poll() {
  ExecEvents out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(out, pending_);
  }
  if (out.done) {
    if (thread_.joinable()) thread_.join();
    task_ = 0;
    attempt_ = 0;
  }
  return out;
}

void Executor::Finish(proto::TaskDoneMsg done) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.done = std::move(done);
}

void Executor::AddLine(const std::string& line, const proto::AssignMsg& a) {
  proto::ProgressMsg p;
  std::lock_guard<std::mutex> lock(mu_);
  pending_.log_lines.push_back(line);
  if (ParseProgressLine(line, &p)) {
    p.task = a.task;
    p.attempt = a.attempt;
    pending_.progress.push_back(p);
  }
}

void Executor::TailMetrics(const std::string& path, int64_t* offset, const proto::AssignMsg& a) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  in.seekg(0, std::ios::end);
  const int64_t size = in.tellg();
  if (size < *offset) *offset = 0;  // rewritten (a resume rewrites the log)
  if (size == *offset) return;
  in.seekg(*offset);
  std::string chunk(static_cast<size_t>(size - *offset), '\0');
  in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  const auto last_nl = chunk.rfind('\n');
  if (last_nl == std::string::npos) return;  // no complete line yet
  *offset += static_cast<int64_t>(last_nl + 1);
  std::istringstream lines(chunk.substr(0, last_nl + 1));
  std::string line;
  std::lock_guard<std::mutex> lock(mu_);
  while (std::getline(lines, line)) {
    proto::MetricMsg m;
    if (!ParseMetricLine(line, &m)) continue;
    m.task = a.task;
    m.attempt = a.attempt;
    pending_.metrics.push_back(m);
  }
}

void Executor::RunNoop(proto::AssignMsg a) {
  const auto end = Clock::now() + std::chrono::duration<double>(a.noop_seconds);
  while (Clock::now() < end && !cancel_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  proto::TaskDoneMsg d;
  d.task = a.task;
  d.attempt = a.attempt;
  d.cancelled = cancel_;
  d.ok = !cancel_;
  Finish(d);
}

}  // namespace nephron::worker
