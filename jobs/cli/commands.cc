#include "jobs/cli/commands.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>

#include "common/device_plugin.h"
#include "common/logging.h"

namespace nephron::cli {

const std::vector<Command>& AllCommands() {
  static const std::vector<Command> kCommands = {
      {"synth", "write synthetic KiTS-like CT phantoms in the KiTS19 layout", RunSynth},
      {"fingerprint", "compute the data set fingerprint (per case, shardable)", RunFingerprint},
      {"plan", "plan target spacing, patch, network and batch; write plans.json and splits", RunPlan},
      {"preprocess", "crop, normalise, resample and store the training cases (shardable)", RunPreprocess},
#ifdef NEPHRON_HAVE_TORCH
      {"train", "train a cross-validation fold (LibTorch, cpu or cuda)", RunTrain},
      {"validate", "predict a fold's held-out cases with its checkpoint and score them", RunValidate},
      {"crossval", "pool validated folds: CV metrics and the postprocessing decision", RunCrossval},
      {"predict", "segment NIfTI images with the trained folds (sliding window, TTA, ensemble)", RunPredict},
#endif
      {"evaluate", "KiTS19 metrics (CSV + JSON) and preview PNGs of predictions against ground truth", RunEvaluate},
      {"bench", "benchmarks that print a table (bench preprocess | bench train)", RunBench},
      {"local", "run an experiment on this machine: coordinator + workers as child processes (--demo)", RunLocal},
      {"submit", "submit a job spec to the coordinator; prints the experiment id", RunSubmit},
      {"status", "experiments, or one experiment's tasks by stage with progress and Dice", RunStatus},
      {"logs", "print (-f: follow) a task's log", RunLogs},
      {"cancel", "cancel an experiment", RunCancel},
      {"retry", "run a failed or cancelled task again", RunRetry},
      {"workers", "list workers: device, state, current task, last heartbeat", RunWorkers},
      {"results", "an experiment's results table (--json: the results JSON)", RunResults},
      {"drain", "let a worker finish its task and take no more", RunDrain},
      {"keygen", "write a CURVE key pair (PREFIX.key, PREFIX.pub) for the coordinator or a worker", RunKeygen},
  };
  return kCommands;
}

int FailureExitCode(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return 2;
    case StatusCode::kDataLoss:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
      return 4;
    default:
      return 1;
  }
}

void ConsoleProgress::Report(const std::string& stage, int64_t done, int64_t total, const std::string& message) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "[%s] %lld/%lld %s\n", stage.c_str(), static_cast<long long>(done),
               static_cast<long long>(total), message.c_str());
}

namespace {

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "nephron — nnU-Net-style kidney and kidney-tumour segmentation (KiTS19)\n\n"
               "Usage: nephron <command> [options]   (nephron <command> --help for details)\n\nCommands:\n");
  for (const auto& c : AllCommands()) std::fprintf(out, "  %-12s %s\n", c.name.c_str(), c.summary.c_str());
  std::fprintf(out,
               "\nGlobal options: --log-level debug|info|warn|error (default info), --version,\n"
               "  --device-plugin PATH  load a LibTorch device backend library first (or $NEPHRON_DEVICE_PLUGIN)\n");
}

}  // namespace

int Main(int argc, char** argv) {
  std::string level = "info";
  const char* env_plugin = std::getenv("NEPHRON_DEVICE_PLUGIN");
  std::string plugin = env_plugin != nullptr ? env_plugin : "";
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
      level = argv[++i];
      continue;
    }
    if (std::strcmp(argv[i], "--device-plugin") == 0 && i + 1 < argc) {
      plugin = argv[++i];
      continue;
    }
    args.push_back(argv[i]);
  }
  SetUpLogging(level);
  // Before any command parses a device string.
  if (Status st = LoadDevicePlugin(plugin); !st.ok()) {
    std::fprintf(stderr, "nephron: %s\n", st.message().c_str());
    return 2;
  }
  if (args.size() < 2 || std::strcmp(args[1], "--help") == 0 || std::strcmp(args[1], "-h") == 0 ||
      std::strcmp(args[1], "help") == 0) {
    if (args.size() >= 3 && std::strcmp(args[1], "help") == 0) {
      for (const auto& c : AllCommands())
        if (c.name == args[2]) {
          char help[] = "--help";
          char* sub[] = {args[2], help};
          return c.run(2, sub);
        }
    }
    PrintUsage(args.size() < 2 ? stderr : stdout);
    return args.size() < 2 ? 2 : 0;
  }
  if (std::strcmp(args[1], "--version") == 0) {
    std::printf("nephron 0.1.0\n");
    return 0;
  }
  for (const auto& c : AllCommands())
    if (c.name == args[1]) return c.run(static_cast<int>(args.size()) - 1, args.data() + 1);
  std::fprintf(stderr, "nephron: unknown command '%s'\n\n", args[1]);
  PrintUsage(stderr);
  return 2;
}

}  // namespace nephron::cli
