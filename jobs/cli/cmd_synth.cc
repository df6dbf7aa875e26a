#include <CLI/CLI.hpp>
#include <cstdio>

#include "jobs/cli/commands.h"
#include "jobs/data/synth.h"

namespace nephron::cli {

int RunSynth(int argc, char** argv) {
  CLI::App app{"Write synthetic KiTS-like CT phantoms (KiTS19 layout: case_XXXXX/imaging.nii.gz int16 HU,\n"
               "segmentation.nii.gz uint8 with 0 background, 1 kidney, 2 tumour). Deterministic for a seed.",
               "nephron synth"};
  std::string out, size = "tiny";
  int cases = 10, threads = 0;
  uint64_t seed = 0;
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--cases", cases, "number of cases")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--size", size, "tiny (fast tests), small, kits (512x512 in-plane, 0.5-5 mm slices)")
      ->capture_default_str();
  app.add_option("--threads", threads, "threads (0 = all cores)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto sz = data::ParseSynthSize(size);
  if (!sz.ok()) {
    std::fprintf(stderr, "nephron synth: --size: %s\n", sz.status().message().c_str());
    return 2;
  }
  ConsoleProgress progress;
  Status st = data::WriteSynthDataset(out, cases, seed, *sz, threads, [&](int i, const std::string& dir) {
    progress.Report("synth", i + 1, cases, dir);
  });
  if (!st.ok()) {
    std::fprintf(stderr, "nephron synth: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("wrote %d %s cases to %s\n", cases, size.c_str(), out.c_str());
  return 0;
}

}  // namespace nephron::cli
