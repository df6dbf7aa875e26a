// What every client command shares: --coordinator and --token, CLI11 parsing
// with the `nephron` exit codes (0 for --help, 2 for a usage error), and
// failure messages as "nephron CMD: message" with exit code 1.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "common/status.h"
#include "coordinator/client/api_client.h"

namespace nephron::client {

struct ConnectionFlags {
  std::string coordinator;
  std::string token;
  ClientConfig Resolve() const { return ResolveClientConfig(coordinator, token); }
};

inline void AddConnectionFlags(CLI::App& app, ConnectionFlags* f) {
  app.add_option("--coordinator", f->coordinator,
                 "coordinator URL (default: $NEPHRON_COORDINATOR, else `coordinator = URL` in $NEPHRON_CONFIG or "
                 "~/.config/nephron/config, else http://127.0.0.1:8470)");
  app.add_option("--token", f->token,
                 "bearer token for changes (default: $NEPHRON_TOKEN, else `token = ...` or the file named by "
                 "`token_file = PATH` in the config file)");
}

// -1: parsed, go on; otherwise the exit code to return.
inline int ParseFlags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

inline int Fail(const char* command, const Status& st) {
  std::fprintf(stderr, "nephron %s: %s\n", command, st.message().c_str());
  return 1;
}

}  // namespace nephron::client
