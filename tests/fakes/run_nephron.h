// Runs the real `nephron` binary (NEPHRON_BINARY, set by CMake) the way a user
// does: integration tests check its exit code and what it printed.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace nephron::testing {

struct CmdResult {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `cmd` through the shell, stdout and stderr together.
inline CmdResult RunCommand(const std::string& cmd) {
  CmdResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline CmdResult Nephron(const std::string& args) { return RunCommand(std::string(NEPHRON_BINARY) + " " + args); }

}  // namespace nephron::testing
