// `nephron bench train` (and the standalone `nephron-train-bench` built with
// LibTorch alone for GPU machines): augmentation throughput and training
// iteration time, printed as a table next to nnU-Net's own figures.
// LibTorch-free header.
#pragma once

#include <string>

namespace nephron::train {

struct TrainBenchOptions {
  int threads = 0;              // 0: all cores
  std::string device = "cpu";
  std::string config = "small";  // small (64^3, 5 stages) | bdci (96x160x160, 6 stages, max-pool)
  int iterations = 3;           // timed training iterations (after one warm-up)
  int aug_batches = 4;          // timed augmentation batches of 2 x 128^3
  bool augmentation = true;
  bool iteration = true;
  bool pipeline = false;        // also run loader threads + on-device augmentation and report data wait
  int loader_threads = 4;
  bool bf16 = true;             // autocast on CUDA
};

// Prints the table to stdout; returns a process exit code.
int RunTrainBench(const TrainBenchOptions& o);

}  // namespace nephron::train
