// Executor::RunEngine: the child process, its output pipe and its exit.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include "common/fs_util.h"
#include "worker/artifacts.h"
#include "worker/executor.h"

namespace nephron::worker {

namespace {

using Clock = std::chrono::steady_clock;

// Forks and execs `argv` with stdout+stderr on a pipe; returns the pid and
// the pipe's read end, or -1 with errno.
int Spawn(const std::vector<std::string>& argv, int* read_fd) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the worker died before prctl
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  *read_fd = fds[0];
  return pid;
}

}  // namespace

void Executor::RunEngine(proto::AssignMsg a) {
  proto::TaskDoneMsg done;
  done.task = a.task;
  done.attempt = a.attempt;
  const std::vector<std::string> argv = EngineCommand(a, options_);
  if (argv.empty()) {
    done.permanent = true;
    done.error = "this worker does not know the task kind '" + a.kind + "'";
    Finish(done);
    return;
  }
  std::ofstream log;
  if (!a.log_path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(a.log_path).parent_path(), ec);
    log.open(a.log_path, std::ios::app);
  }
  std::string cmdline;
  for (const auto& s : argv) cmdline += (cmdline.empty() ? "" : " ") + s;
  const std::string header = "== attempt " + std::to_string(a.attempt) + ": " + cmdline;
  if (log) log << header << "\n" << std::flush;
  AddLine(header, a);

  const std::vector<std::string> roots = OutputRoots(a);
  const Snapshot before = TakeSnapshot(a.experiment_dir, roots);
  int fd = -1;
  const int pid = Spawn(argv, &fd);
  if (pid < 0) {
    done.error = std::string("cannot start the engine: ") + std::strerror(errno);
    Finish(done);
    return;
  }
  child_pid_ = pid;
  if (cancel_) kill(pid, SIGTERM);
  const std::string metrics_path =
      a.kind == "train" ? a.experiment_dir + "/fold_" + std::to_string(a.fold) + "/training_log.jsonl" : "";
  int64_t metrics_offset = 0;
  std::deque<std::string> tail;  // last lines, for the error message
  std::string partial;
  auto last_tail = Clock::now();
  auto term_sent = Clock::time_point::max();
  bool open = true;
  while (open) {
    pollfd p{fd, POLLIN, 0};
    const int r = poll(&p, 1, 200);
    if (r > 0) {
      char buf[4096];
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) {
        open = false;
      } else {
        partial.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = partial.find('\n')) != std::string::npos) {
          std::string line = partial.substr(0, nl);
          partial.erase(0, nl + 1);
          if (log) log << line << "\n" << std::flush;
          tail.push_back(line);
          if (tail.size() > 5) tail.pop_front();
          AddLine(line, a);
        }
      }
    }
    if (cancel_ && term_sent == Clock::time_point::max()) term_sent = Clock::now();
    if (cancel_ && Clock::now() - term_sent > std::chrono::milliseconds(options_.kill_after_ms)) kill(pid, SIGKILL);
    if (!metrics_path.empty() && Clock::now() - last_tail > std::chrono::milliseconds(500)) {
      last_tail = Clock::now();
      TailMetrics(metrics_path, &metrics_offset, a);
    }
  }
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);
  child_pid_ = 0;
  if (!partial.empty()) {
    if (log) log << partial << "\n";
    tail.push_back(partial);
    AddLine(partial, a);
  }
  if (!metrics_path.empty()) TailMetrics(metrics_path, &metrics_offset, a);

  std::string last;
  for (const auto& l : tail) last += (last.empty() ? "" : "\n") + l;
  if (WIFEXITED(status)) {
    done.exit_code = WEXITSTATUS(status);
    done.ok = done.exit_code == 0 && !cancel_;
    // Exit 2 (usage or spec error) and 4 (corrupt or inconsistent input): running it again cannot help.
    done.permanent = done.exit_code == 2 || done.exit_code == 4;
    done.cancelled = cancel_ && done.exit_code != 0;
    if (cancel_ && done.exit_code == 0) done.ok = true;  // finished before the cancel arrived
  } else {
    done.exit_code = 128 + WTERMSIG(status);
    done.cancelled = cancel_.load();
  }
  if (done.ok) done.artifacts = ChangedFiles(a.experiment_dir, roots, before);
  if (!done.ok)
    done.error = done.cancelled ? "cancelled" : "exit " + std::to_string(done.exit_code) + ": " + last;
  if (log) log << "== attempt " << a.attempt << " " << (done.ok ? "succeeded" : done.error) << "\n";
  Finish(done);
}

}  // namespace nephron::worker
