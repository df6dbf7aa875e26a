#include "coordinator/client/local_daemons.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace nephron::client {
namespace {

bool IsExecutable(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// In the child between fork and exec: only async-signal-safe calls.
[[noreturn]] void ExecChild(const char* binary, char* const* argv, int stdin_fd, int out_fd, bool detach,
                            pid_t parent) {
  if (detach) {
    ::setsid();
  } else {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
  }
  ::signal(SIGINT, SIG_IGN);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  ::sigprocmask(SIG_BLOCK, &block, nullptr);
  if (stdin_fd >= 0) ::dup2(stdin_fd, 0);
  if (out_fd >= 0) ::dup2(out_fd, 1), ::dup2(out_fd, 2);
  if (::close_range(3, ~0U, 0) != 0)
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  ::execv(binary, argv);
  const char* msg = "nephron local: cannot execute the daemon binary\n";
  (void)!::write(2, msg, std::strlen(msg));
  ::_exit(127);
}

}  // namespace

std::string SelfExe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

Result<std::string> FindDaemon(const std::string& name, const std::string& build_subdir) {
  const std::filesystem::path dir = std::filesystem::path(SelfExe()).parent_path();
  const std::string beside = (dir / name).string();
  const std::string build = (dir.parent_path() / build_subdir / name).string();
  for (const auto& p : {beside, build})
    if (IsExecutable(p)) return p;
  const char* path_env = std::getenv("PATH");
  std::stringstream path(path_env ? path_env : "");
  std::string entry;
  while (std::getline(path, entry, ':')) {
    if (entry.empty()) continue;
    const std::string p = entry + "/" + name;
    if (IsExecutable(p)) return p;
  }
  return NotFound(name + " not found: looked beside this nephron (" + beside + "), in the build tree (" + build +
                  ") and on PATH; build it (cmake --build build) or put it on PATH");
}

Result<ChildProcess> ChildProcess::Spawn(const std::string& name, const std::string& binary,
                                         const std::vector<std::string>& args, const std::string& log_path,
                                         bool detach) {
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(all);
  const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) return Internal("cannot open the log " + log_path + ": " + std::strerror(errno));
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) ExecChild(binary.c_str(), argv.data(), in, out, detach, parent);
  const int fork_errno = errno;
  ::close(out);
  if (in >= 0) ::close(in);
  if (pid < 0) return Internal("cannot start " + name + ": fork: " + std::strerror(fork_errno));
  ChildProcess c;
  c.name_ = name;
  c.log_path_ = log_path;
  c.pid_ = pid;
  return c;
}

bool ChildProcess::Running() {
  if (exited_ || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    exited_ = true;
    status_ = status;
    return false;
  }
  return true;
}

void ChildProcess::Signal(int sig) {
  if (Running()) ::kill(pid_, sig);
}

void StopChildren(std::vector<ChildProcess>& children, std::chrono::milliseconds grace) {
  for (auto& c : children) c.Signal(SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    bool any = false;
    for (auto& c : children) any = c.Running() || any;
    if (!any) return;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& c : children) {
    if (!c.Running()) continue;
    c.Signal(SIGKILL);
    while (c.Running()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<int> RunForeground(const std::string& binary, const std::vector<std::string>& args,
                          const volatile int* interrupted) {
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(all);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Internal(std::string("cannot start ") + binary + ": fork: " + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  bool stopped = false;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return Internal(std::string("waitpid: ") + std::strerror(errno));
    if (*interrupted && !stopped) ::kill(pid, SIGTERM), stopped = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status))
    return "killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" + strsignal(WTERMSIG(wait_status)) + ")";
  return "wait status " + std::to_string(wait_status);
}

std::string TailOfFile(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > 65536 ? size - 65536 : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t pos = text.size();
  for (int n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

}  // namespace nephron::client
