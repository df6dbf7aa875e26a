// The child processes of `nephron local`: finding the daemon binaries,
// starting them with their output in log files, and stopping them.
//
// Children stay in `nephron local`'s process group, but Ctrl-C belongs to
// `nephron local` (it cancels the experiment through the coordinator before
// stopping anything): each child starts with SIGINT ignored and blocked, so
// the terminal's SIGINT to the whole group reaches only its parent. A daemon
// that installs its own SIGINT handler is still not interrupted (the signal
// stays blocked); SIGTERM stops them. Unless detached, children get SIGTERM
// when `nephron local` dies (PR_SET_PDEATHSIG), so no daemon outlives a
// killed run; detached children (--keep-running) start a session of their own
// so that they also survive the terminal.
//
// Not thread-safe; used from the main thread only (fork without exec-safety
// concerns: nothing else runs).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace nephron::client {

// The running executable (/proc/self/exe), absolute.
std::string SelfExe();

// `name` beside the running `nephron`, else in the build tree's
// ../<build_subdir>/ (build/jobs/nephron -> build/coordinator/...), else on
// PATH. NotFound naming every place looked at.
Result<std::string> FindDaemon(const std::string& name, const std::string& build_subdir);

class ChildProcess {
 public:
  // Starts `binary args...` with stdin from /dev/null and stdout/stderr
  // appended to `log_path`.
  static Result<ChildProcess> Spawn(const std::string& name, const std::string& binary,
                                    const std::vector<std::string>& args, const std::string& log_path, bool detach);

  const std::string& name() const { return name_; }
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return pid_; }
  // Reaps the child if it has exited (never blocks).
  bool Running();
  // The wait status once !Running().
  int wait_status() const { return status_; }
  void Signal(int sig);

 private:
  std::string name_, log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

// SIGTERM to every child still running, up to `grace` for them to exit, then
// SIGKILL; returns once all are reaped.
void StopChildren(std::vector<ChildProcess>& children, std::chrono::milliseconds grace);

// Runs `binary args...` in the foreground (output to this terminal) and
// returns its wait status; stops it (SIGTERM) if `*interrupted` becomes set.
Result<int> RunForeground(const std::string& binary, const std::vector<std::string>& args,
                          const volatile int* interrupted);

// "exit code 1", "killed by signal 9 (Killed)".
std::string DescribeExit(int wait_status);
// The last `lines` lines of a (log) file, or "" if it cannot be read.
std::string TailOfFile(const std::string& path, int lines);

}  // namespace nephron::client
