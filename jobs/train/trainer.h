// Trains one cross-validation fold from an experiment folder written by
// `nephron preprocess` (plans.json, splits_final.json, preprocessed cases).
//
// Writes EXP/fold_K/: checkpoint_latest.pt (every train.checkpoint_every
// epochs and when stopped), checkpoint_best.pt (best EMA pseudo Dice),
// checkpoint_final.pt, and training_log.jsonl (one JSON object per epoch).
// Checkpoints are written atomically and hold weights, optimiser state, the
// position in training (epoch and iteration), EMA and the log; batches are a
// pure function of (seed, fold, epoch, iteration), so a resumed run on the
// CPU produces the same weights as an uninterrupted one.
//
// This header is LibTorch-free so that the CLI and the worker stay cheap to
// compile; the engine lives in trainer.cc. Not thread-safe: one call at a time
// per fold folder.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "common/progress.h"
#include "common/spec.h"
#include "common/status.h"

namespace nephron::train {

struct TrainOptions {
  std::string experiment_dir;
  std::string fold = "0";      // "0".."k-1" or "all"
  std::string device = "cpu";  // cpu | cuda | cuda:N
  bool resume = false;
  // What a scheduler runs on every attempt of a training task: resume from
  // checkpoint_latest.pt when it exists, else start fresh; a fold whose
  // checkpoint_final.pt already covers the requested epochs under the current
  // plan is left untouched (TrainResult::already_complete).
  bool continue_training = false;
  int epochs = 0;              // 0: the spec's train.epochs
  int iterations = 0;          // 0: the spec's train.iterations_per_epoch
  int val_iterations = -1;     // -1: the spec's train.val_iterations
  int threads = 0;             // 0: all cores
  JobSpec spec;
  // Stop (saving checkpoint_latest) once this many epochs are complete, as an
  // interruption would; 0 = never. Used by tests and by schedulers that
  // time-slice training.
  int stop_after_epoch = 0;
  const std::atomic<bool>* stop_flag = nullptr;  // set by a signal handler
  ProgressSink* progress = nullptr;
};

struct EpochRecord {
  int epoch = 0;  // 1-based: epochs completed
  double train_loss = 0;
  double val_loss = 0;
  std::vector<std::optional<double>> pseudo_dice;  // per foreground class; empty when undefined
  double mean_dice = 0;
  double ema_dice = 0;
  double lr = 0;
  double seconds = 0;
  double data_wait_fraction = 0;
};

struct TrainResult {
  std::string fold_dir;
  int epochs_done = 0;
  int max_epochs = 0;
  double best_ema = 0;
  bool interrupted = false;  // stopped by stop_flag or stop_after_epoch; resumable
  bool already_complete = false;  // continue_training found the fold finished; nothing was written
  std::vector<EpochRecord> log;
};

Result<TrainResult> TrainFold(const TrainOptions& o);

// "cpu", "cuda", "cuda:N": InvalidArgument for anything else, Unavailable when
// CUDA is asked for but absent.
Status CheckDevice(const std::string& device);

std::string EpochLine(const EpochRecord& r, int max_epochs);

struct CheckpointInfo {
  std::string meta_json;       // position in training, EMA, log, plan id
  std::string weights_digest;  // FNV-1a over every parameter and buffer, in order
  int64_t num_parameters = 0;
};
// Reads a checkpoint written by TrainFold; DataLoss for a corrupt file.
Result<CheckpointInfo> ReadCheckpointInfo(const std::string& path);

}  // namespace nephron::train
