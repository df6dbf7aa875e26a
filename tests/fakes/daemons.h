// Starts the real daemons (nephron-coordinator, nephron-worker) as child
// processes on loopback for integration tests, with their output in log
// files, and kills them (SIGKILL included) when told or when destroyed.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace nephron::testing {

class Daemon {
 public:
  Daemon() = default;
  Daemon(const std::vector<std::string>& argv, const std::string& log_path) : log_(log_path) {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      FILE* f = std::fopen(log_path.c_str(), "a");
      if (f) {
        dup2(fileno(f), STDOUT_FILENO);
        dup2(fileno(f), STDERR_FILENO);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  Daemon(Daemon&& o) noexcept : pid_(o.pid_), log_(std::move(o.log_)) { o.pid_ = -1; }
  Daemon& operator=(Daemon&& o) noexcept {
    Stop(SIGKILL);
    pid_ = o.pid_;
    log_ = std::move(o.log_);
    o.pid_ = -1;
    return *this;
  }
  ~Daemon() { Stop(SIGKILL); }

  int pid() const { return pid_; }
  // Sends `sig` and reaps the process; returns its wait status (-1 if none).
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  // Waits up to `seconds` for the process to exit by itself.
  bool WaitExit(double seconds, int* status) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (waitpid(pid_, status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  int pid_ = -1;
  std::string log_;
};

// Polls `pred` every 200 ms for up to `seconds`.
inline bool WaitFor(const std::function<bool()>& pred, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// Where a started coordinator listens (from its --ready-file).
struct CoordinatorInfo {
  std::string zmq;       // tcp://127.0.0.1:PORT
  std::string http;      // 127.0.0.1:PORT
  std::string token_file;
  std::string url() const { return "http://" + http; }
  std::string token() const {
    std::ifstream in(token_file);
    std::string t;
    in >> t;
    return t;
  }
};

// Waits for `ready_file` (written by the coordinator once listening).
inline bool WaitReady(const std::string& ready_file, CoordinatorInfo* info, double seconds = 30) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream in(ready_file);
    if (in) {
      try {
        nlohmann::json j;
        in >> j;
        info->zmq = j.at("zmq");
        info->http = j.at("http");
        info->token_file = j.at("token_file");
        return true;
      } catch (...) {
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace nephron::testing
