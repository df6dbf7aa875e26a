// nephron-train-bench: the training benchmark as a standalone program that
// builds with LibTorch alone (cmake -DNEPHRON_ENGINE_ONLY=ON), for machines
// such as GPU nodes that have none of the Debian packages.
#include <cstdio>
#include <cstring>
#include <string>

#include "jobs/train/train_bench.h"

int main(int argc, char** argv) {
  nephron::train::TrainBenchOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--help" || a == "-h") {
      std::printf(
          "Usage: nephron-train-bench [--device cpu|cuda:N] [--config small|bdci] [--threads N] [--iterations N]\n"
          "                           [--aug-batches N] [--no-augmentation] [--no-iteration] [--pipeline]\n"
          "                           [--loader-threads N] [--no-bf16]\n");
      return 0;
    } else if (a == "--device") o.device = next();
    else if (a == "--config") o.config = next();
    else if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--iterations") o.iterations = std::stoi(next());
    else if (a == "--aug-batches") o.aug_batches = std::stoi(next());
    else if (a == "--no-augmentation") o.augmentation = false;
    else if (a == "--no-iteration") o.iteration = false;
    else if (a == "--pipeline") o.pipeline = true;
    else if (a == "--loader-threads") o.loader_threads = std::stoi(next());
    else if (a == "--no-bf16") o.bf16 = false;
    else {
      std::fprintf(stderr, "nephron-train-bench: unknown option %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  return nephron::train::RunTrainBench(o);
}
