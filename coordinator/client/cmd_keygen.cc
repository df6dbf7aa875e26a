// `nephron keygen`: a CURVE key pair for the coordinator or a worker.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "common/curve.h"
#include "coordinator/client/client_flags.h"
#include "jobs/cli/commands.h"

namespace nephron::cli {

int RunKeygen(int argc, char** argv) {
  CLI::App app{"Write a ZeroMQ CURVE key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (public).\n"
               "The coordinator takes --key coordinator.key --authorized-keys DIR (the workers' .pub files);\n"
               "a worker takes --key worker.key --server-key coordinator.pub. Existing files are never replaced.",
               "nephron keygen"};
  std::string prefix;
  app.add_option("--out", prefix, "path prefix of the two files, e.g. keys/worker-a")->required();
  if (int rc = client::ParseFlags(app, argc, argv); rc >= 0) return rc;
  auto keys = net::GenerateCurveKeyPair();
  if (!keys.ok()) return client::Fail("keygen", keys.status());
  if (Status st = net::WriteCurveKeyFiles(prefix, *keys); !st.ok()) return client::Fail("keygen", st);
  std::printf("%s.key  (secret: keep it on this machine)\n%s.pub  (public: %s)\n", prefix.c_str(), prefix.c_str(),
              keys->public_key.c_str());
  return 0;
}

}  // namespace nephron::cli
