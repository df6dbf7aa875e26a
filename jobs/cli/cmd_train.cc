#include <csignal>
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>

#include "common/json_util.h"
#include "common/spec.h"
#include "jobs/cli/commands.h"
#include "jobs/train/train_bench.h"
#include "jobs/train/trainer.h"

namespace nephron::cli {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }

// The experiment's preset (from experiment.json), so a spec is optional; empty when unknown.
std::string ExperimentPreset(const std::string& exp) {
  auto j = ReadJsonFile(exp + "/experiment.json");
  return j.ok() ? j->value("preset", "") : "";
}

}  // namespace

int RunTrain(int argc, char** argv) {
  CLI::App app{"Train one cross-validation fold (or `all`) from an experiment folder written by `nephron preprocess`.\n"
               "Prints one line per epoch and writes EXP/fold_K/ (checkpoint_latest.pt, checkpoint_best.pt,\n"
               "checkpoint_final.pt, training_log.jsonl). SIGTERM/SIGINT save checkpoint_latest.pt at the current\n"
               "iteration and exit with code 3; `--resume` continues exactly where it stopped. `--continue` (what a\n"
               "worker runs on every attempt) resumes when checkpoint_latest.pt exists, else starts fresh, and exits 0\n"
               "at once when the fold is already complete.",
               "nephron train"};
  train::TrainOptions o;
  std::string preset, spec_path;
  app.add_option("--experiment", o.experiment_dir, "experiment folder")->required();
  app.add_option("--fold", o.fold, "fold number (0..4) or all")->required();
  app.add_option("--device", o.device, "cpu, cuda or cuda:N")->capture_default_str();
  auto* resume = app.add_flag("--resume", o.resume, "continue from fold_K/checkpoint_latest.pt");
  app.add_flag("--continue", o.continue_training,
               "resume from fold_K/checkpoint_latest.pt if it exists, else start fresh; a fold whose\n"
               "checkpoint_final.pt covers --epochs under the current plan is left as it is (exit 0)")
      ->excludes(resume);
  app.add_option("--epochs", o.epochs, "epochs (default: the preset's; 1000 nnunet, 600 bdci2022)");
  app.add_option("--iterations", o.iterations, "iterations per epoch (default: 250 nnunet, 50 bdci2022)");
  app.add_option("--val-iterations", o.val_iterations, "validation iterations per epoch (default 50)");
  app.add_option("--threads", o.threads, "LibTorch threads (0 = all cores)")->capture_default_str();
  app.add_option("--preset", preset, "nnunet or bdci2022 (default: the experiment's)");
  app.add_option("--spec", spec_path, "job spec YAML with train.* overrides");
  app.add_option("--stop-after-epoch", o.stop_after_epoch, "save checkpoint_latest.pt and stop after this epoch (resumable)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (preset.empty()) preset = ExperimentPreset(o.experiment_dir);
  auto spec = spec_path.empty() ? ParseJobSpec("", "(no spec)", preset) : LoadJobSpecFile(spec_path, preset);
  if (!spec.ok()) {
    std::fprintf(stderr, "nephron train: %s\n", spec.status().message().c_str());
    return 2;
  }
  o.spec = *spec;
  Status dev = train::CheckDevice(o.device);
  if (!dev.ok()) {
    std::fprintf(stderr, "nephron train: %s\n", dev.message().c_str());
    return 2;
  }
  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGINT, OnStopSignal);
  o.stop_flag = &g_stop;
  ConsoleProgress progress;
  o.progress = &progress;
  auto r = train::TrainFold(o);
  if (!r.ok()) {
    std::fprintf(stderr, "nephron train: %s\n", r.status().message().c_str());
    return FailureExitCode(r.status());
  }
  if (r->already_complete) {
    std::printf("fold %s: already complete (%d/%d epochs, best EMA pseudo Dice %.4f); nothing to do; checkpoints in %s\n",
                o.fold.c_str(), r->epochs_done, r->max_epochs, r->best_ema, r->fold_dir.c_str());
    return 0;
  }
  if (r->interrupted) {
    std::printf("stopped after %d/%d epochs; checkpoint %s/checkpoint_latest.pt; continue with --resume\n",
                r->epochs_done, r->max_epochs, r->fold_dir.c_str());
    return 3;
  }
  std::printf("fold %s: %d epochs, best EMA pseudo Dice %.4f; checkpoints in %s\n", o.fold.c_str(), r->epochs_done,
              r->best_ema, r->fold_dir.c_str());
  return 0;
}

int BenchTrain(int argc, char** argv) {
  CLI::App app{"Augmentation throughput (batch 2 x 128^3, full nnU-Net transform set) and training iteration time\n"
               "(reference small config: patch 64^3, batch 2, 5 stages 32-320) next to nnU-Net's figures.",
               "nephron bench train"};
  train::TrainBenchOptions o;
  app.add_option("--device", o.device, "cpu or cuda:N")->capture_default_str();
  app.add_option("--config", o.config, "small or bdci")->capture_default_str();
  app.add_option("--threads", o.threads, "threads (0 = all cores)")->capture_default_str();
  app.add_option("--iterations", o.iterations, "timed iterations")->capture_default_str();
  app.add_option("--aug-batches", o.aug_batches, "timed augmentation batches")->capture_default_str();
  app.add_flag("!--no-augmentation", o.augmentation, "skip the augmentation measurement");
  app.add_flag("!--no-iteration", o.iteration, "skip the iteration measurement");
  app.add_flag("--pipeline", o.pipeline, "also time loader threads + on-device augmentation + iteration (data wait)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return train::RunTrainBench(o);
}

}  // namespace nephron::cli
