// One measurement of `nephron bench predict`, run in a child process so that
// its peak memory is its own (the parent prints the table). LibTorch-free header.
//
//   scenario "reference": a random 64 x 128 x 128 volume, patch 64^3, the
//     reference 5-stage network (1 channel, 3 classes, 32-320 features, He
//     initialised), step 0.5 -> 9 tiles; the comparison with nnU-Net.
//   scenario "kits": the whole `nephron predict` path (read, preprocess,
//     sliding window, export, write) for the KiTS-sized case in
//     WORKDIR/data/case_00000 with the plan in WORKDIR/experiment, the
//     network shrunk to 8-64 features (random weights).
#pragma once

#include <string>

#include "common/json_util.h"
#include "common/status.h"

namespace nephron::infer {

struct PredictBenchOptions {
  std::string scenario = "reference";  // reference | kits
  bool mirror = false;
  int threads = 0;
  int batch = 2;
  std::string device = "cpu";
  std::string workdir;  // kits: data + experiment prepared by the parent
};

// {"seconds": total, "tiles": n, "forward_inputs": n, ...per-step seconds}
Result<Json> RunPredictBench(const PredictBenchOptions& o);

}  // namespace nephron::infer
