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
#include <memory>

#include <spdlog/spdlog.h>

#include "common/fs_util.h"
#include "worker/artifacts.h"
#include "worker/executor.h"
#include "worker/mirror.h"

namespace nephron::worker {

namespace {

using Clock = std::chrono::steady_clock;

// Forks and execs `argv` with stdout+stderr on a pipe and `env` added to the
// environment; returns the pid and the pipe's read end, or -1 with errno.
int Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int* read_fd) {
  std::vector<std::string> envs = env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    bool replaced = false;
    for (const auto& mine : env) replaced |= kv.compare(0, mine.find('=') + 1, mine, 0, mine.find('=') + 1) == 0;
    if (!replaced) envs.push_back(kv);
  }
  std::vector<char*> envp;
  for (auto& kv : envs) envp.push_back(kv.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
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
    execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  *read_fd = fds[0];
  return pid;
}

// The coordinator's files a task reads (and the outputs earlier attempts left).
Status PullInputs(Mirror& m, const proto::AssignMsg& a) {
  RETURN_IF_ERROR(m.Pull(a.spec_path));
  if (ReadsRawData(a)) RETURN_IF_ERROR(m.Pull(a.data_dir));
  RETURN_IF_ERROR(m.Pull(a.experiment_dir, ExperimentInputs(a), /*required=*/false));
  if (!a.log_path.empty()) RETURN_IF_ERROR(m.Pull(a.log_path, {}, /*required=*/false));
  return Status::Ok();
}

std::string Mb(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

}  // namespace

void Executor::RunEngine(proto::AssignMsg remote, bool remote_files) {
  proto::TaskDoneMsg done;
  done.task = remote.task;
  done.attempt = remote.attempt;
  // `a` holds the paths the engine uses: the coordinator's, or their local
  // mirror's when this worker cannot see the coordinator's files.
  proto::AssignMsg a = remote;
  std::unique_ptr<Mirror> mirror;
  std::vector<std::string> env;
  std::string fetch_summary;  // goes into the log file too, once it is fetched and open
  if (remote_files) {
    net::FileClientOptions fo = options_.files;
    fo.task = remote.task;
    fo.attempt = remote.attempt;
    fo.cancel = &cancel_;
    mirror = std::make_unique<Mirror>(ctx_, fo, options_.cache_dir, options_.cache_limit_bytes);
    for (std::string* p : {&a.experiment_dir, &a.data_dir, &a.spec_path, &a.output_dir, &a.log_path})
      if (!p->empty()) *p = mirror->Local(*p);
    env.push_back("NEPHRON_MIRROR_ROOT=" + mirror->root());
    AddLine("== fetching the task's files from " + fo.endpoint + " into " + mirror->root(), a);
    const Status pulled = PullInputs(*mirror, remote);
    mirror->SaveIndex();
    if (!pulled.ok()) {
      done.cancelled = cancel_.load();
      done.error = "fetching the task's files from the coordinator: " + pulled.message();
      Finish(done);
      return;
    }
    const MirrorStats& ms = mirror->stats();
    fetch_summary = "== fetched " + std::to_string(ms.files_fetched) + " files (" + Mb(ms.bytes_fetched) + ") from " +
                    fo.endpoint + ", " + std::to_string(ms.files_unchanged) + " unchanged in the cache, " +
                    std::to_string(ms.files_removed) + " stale removed";
    AddLine(fetch_summary, a);
  }
  // Uploads the experiment files `rel` (relative to the experiment folder) and the task's log.
  auto push = [&](const std::vector<std::string>& rel) -> Status {
    for (const auto& r : rel) RETURN_IF_ERROR(mirror->Push(remote.experiment_dir + "/" + r));
    if (!remote.log_path.empty() && FileExists(a.log_path)) RETURN_IF_ERROR(mirror->Push(remote.log_path));
    return Status::Ok();
  };
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
  if (log && !fetch_summary.empty()) log << fetch_summary << "\n" << std::flush;

  const std::vector<std::string> roots = OutputRoots(a);
  const Snapshot before = TakeSnapshot(a.experiment_dir, roots);
  int fd = -1;
  const int pid = Spawn(argv, env, &fd);
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
  // A training's checkpoint_latest.pt goes to the coordinator as soon as it is
  // saved: it is what a re-run on another worker resumes from.
  const std::string latest_rel = "fold_" + std::to_string(a.fold) + "/checkpoint_latest.pt";
  const bool upload_checkpoints = mirror && a.kind == "train";
  Snapshot latest = upload_checkpoints ? TakeSnapshot(a.experiment_dir, {latest_rel}) : Snapshot();
  auto last_upload_check = Clock::now();
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
    if (upload_checkpoints && !cancel_ &&
        Clock::now() - last_upload_check > std::chrono::milliseconds(options_.checkpoint_upload_ms)) {
      last_upload_check = Clock::now();
      const Snapshot now = TakeSnapshot(a.experiment_dir, {latest_rel});
      if (!now.empty() && now != latest) {
        const Status s = push({latest_rel, "fold_" + std::to_string(a.fold) + "/training_log.jsonl"});
        // Not fatal: the final upload, or the next checkpoint, tries again.
        if (s.ok()) latest = now;
        AddLine(s.ok() ? "== uploaded " + latest_rel : "== could not upload " + latest_rel + ": " + s.message(), a);
      }
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
  // A failed or cancelled training still hands over its last checkpoint.
  if (done.ok || (mirror && a.kind == "train")) done.artifacts = ChangedFiles(a.experiment_dir, roots, before);
  if (!done.ok)
    done.error = done.cancelled ? "cancelled" : "exit " + std::to_string(done.exit_code) + ": " + last;
  if (log) log << "== attempt " << a.attempt << " " << (done.ok ? "succeeded" : done.error) << "\n" << std::flush;
  if (mirror) {
    std::vector<std::string> rel;
    int64_t bytes = 0;
    for (const auto& f : done.artifacts) rel.push_back(f.path), bytes += f.size;
    const Status s = push(rel);
    if (s.ok()) {
      AddLine("== uploaded " + std::to_string(rel.size()) + " output files (" + Mb(bytes) + ") to the coordinator", a);
    } else {
      spdlog::warn("task {} attempt {}: could not upload its outputs: {}", a.task, a.attempt, s.message());
      AddLine("== could not upload the outputs: " + s.message(), a);
      if (done.ok) {
        done.ok = false;
        done.error = "uploading the task's outputs to the coordinator: " + s.message();
      }
    }
    mirror->SaveIndex();
    mirror->Trim();
  }
  if (!done.ok) done.artifacts.clear();
  Finish(done);
}

}  // namespace nephron::worker
