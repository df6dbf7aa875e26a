// The `nephron` program's subcommands (git-style). Each command lives in its
// own cmd_*.cc, parses its own flags (every command has --help) and returns
// the process exit code: 0 success, 1 failure, 2 usage error.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/progress.h"
#include "common/status.h"

namespace nephron::cli {

struct Command {
  std::string name;
  std::string summary;
  std::function<int(int argc, char** argv)> run;  // argv[0] is the command name
};

const std::vector<Command>& AllCommands();
int Main(int argc, char** argv);

// The exit code of a failed command: 4 when retrying cannot help (corrupt or
// inconsistent input: DataLoss, FailedPrecondition, NotFound, AlreadyExists),
// 2 for InvalidArgument (a usage or spec error), 1 otherwise (may be
// transient). Workers do not retry exit codes 2 and 4.
int FailureExitCode(const Status& s);

// Prints "[stage] done/total message" lines to stderr.
class ConsoleProgress : public ProgressSink {
 public:
  void Report(const std::string& stage, int64_t done, int64_t total, const std::string& message) override;
};

// Registered by the cmd_*.cc files.
int RunSynth(int argc, char** argv);
int RunFingerprint(int argc, char** argv);
int RunPlan(int argc, char** argv);
int RunPreprocess(int argc, char** argv);
int RunBench(int argc, char** argv);
int RunEvaluate(int argc, char** argv);
int RunTrain(int argc, char** argv);   // with LibTorch only
int BenchTrain(int argc, char** argv);  // with LibTorch only
int RunPredict(int argc, char** argv);  // with LibTorch only
int RunValidate(int argc, char** argv);  // with LibTorch only
int RunCrossval(int argc, char** argv);  // with LibTorch only
int BenchPredictChild(int argc, char** argv);  // with LibTorch only

// Client commands (coordinator/client/, HTTP to a running coordinator).
int RunSubmit(int argc, char** argv);
int RunStatus(int argc, char** argv);
int RunLogs(int argc, char** argv);
int RunCancel(int argc, char** argv);
int RunRetry(int argc, char** argv);
int RunWorkers(int argc, char** argv);
int RunResults(int argc, char** argv);
int RunDrain(int argc, char** argv);
int RunLocal(int argc, char** argv);
int RunKeygen(int argc, char** argv);
int RunBenchTransfer(int argc, char** argv);

}  // namespace nephron::cli
