#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/spec.h"
#include "jobs/cli/commands.h"
#include "jobs/preprocess/experiment.h"

namespace nephron::cli {

namespace {

enum class Stage { kFingerprint, kPlan, kPreprocess };

int RunStage(Stage stage, int argc, char** argv) {
  const char* name = stage == Stage::kFingerprint ? "fingerprint" : (stage == Stage::kPlan ? "plan" : "preprocess");
  const char* what =
      stage == Stage::kFingerprint
          ? "Compute per-case fingerprints (spacing, shape after crop, foreground intensity samples) and, once\n"
            "every case has one, the merged dataset_fingerprint.json."
          : stage == Stage::kPlan
                ? "Plan target spacing, axis transpose, patch size, network topology and batch size; write\n"
                  "plans.json and splits_final.json (an existing splits_final.json is kept). Runs the\n"
                  "fingerprint first where it is missing."
                : "Crop, normalise and resample every training case into EXP/nnUNetPlans_3d_fullres/. Runs\n"
                  "fingerprint and plan first where they are missing; cases already done are skipped.";
  CLI::App app{what, std::string("nephron ") + name};
  std::string data, exp, preset, spec_path, shard = "0/1";
  int threads = 0;
  app.add_option("--data", data, "raw data folder (KiTS19 or nnU-Net raw layout)")->required();
  app.add_option("--experiment", exp, "experiment folder (created if missing)")->required();
  app.add_option("--preset", preset, "nnunet or bdci2022 (default: the spec's preset, else nnunet)");
  app.add_option("--spec", spec_path, "job spec YAML with overrides");
  if (stage != Stage::kPlan)
    app.add_option("--shard", shard, "work on shard i of n of the training cases (0-based i/n)")->capture_default_str();
  app.add_option("--threads", threads, "threads (0 = all cores)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  preprocess::StageOptions o;
  o.data_root = data;
  o.experiment_dir = exp;
  o.threads = threads;
  auto spec = spec_path.empty() ? ParseJobSpec("", "(no spec)", preset) : LoadJobSpecFile(spec_path, preset);
  if (!spec.ok()) {
    std::fprintf(stderr, "nephron %s: %s\n", name, spec.status().message().c_str());
    return 2;
  }
  o.spec = *spec;
  if (o.threads == 0) o.threads = o.spec.preprocess.threads;
  Status st = preprocess::ParseShard(shard, &o.shard, &o.num_shards);
  if (!st.ok()) {
    std::fprintf(stderr, "nephron %s: %s\n", name, st.message().c_str());
    return 2;
  }
  ConsoleProgress progress;
  o.progress = &progress;
  if (stage == Stage::kPlan) {
    auto plan = preprocess::RunPlan(o);
    if (!plan.ok()) {
      std::fprintf(stderr, "nephron plan: %s\n", plan.status().message().c_str());
      return FailureExitCode(plan.status());
    }
    const auto& p = *plan;
    std::printf("plan (%s, %s rules): spacing %.4g x %.4g x %.4g mm, patch %d x %d x %d, batch %d, %d stages\n",
                p.preset.c_str(), p.planner.c_str(), p.spacing[0], p.spacing[1], p.spacing[2], p.patch_size[0],
                p.patch_size[1], p.patch_size[2], p.batch_size, p.n_stages());
    std::printf("wrote %s/plans.json and %s/splits_final.json\n", exp.c_str(), exp.c_str());
    return 0;
  }
  auto report = stage == Stage::kFingerprint ? preprocess::RunFingerprint(o) : preprocess::RunPreprocess(o);
  if (!report.ok()) {
    std::fprintf(stderr, "nephron %s: %s\n", name, report.status().message().c_str());
    return FailureExitCode(report.status());
  }
  std::printf("%s\n", report->Summary().c_str());
  const int ok = report->Count("done") + report->Count("already_done");
  if (report->Count("failed") > 0 || report->Count("skipped") > 0) {
    std::fprintf(stderr, "nephron %s: %d case(s) failed or skipped (on_bad_case: skip); see %s/reports/\n", name,
                 report->Count("failed") + report->Count("skipped"), exp.c_str());
    if (ok == 0) return 1;
  }
  return 0;
}

}  // namespace

int RunFingerprint(int argc, char** argv) { return RunStage(Stage::kFingerprint, argc, argv); }
int RunPlan(int argc, char** argv) { return RunStage(Stage::kPlan, argc, argv); }
int RunPreprocess(int argc, char** argv) { return RunStage(Stage::kPreprocess, argc, argv); }

}  // namespace nephron::cli
