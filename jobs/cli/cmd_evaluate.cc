#include <CLI/CLI.hpp>
#include <cstdio>

#include "jobs/cli/commands.h"
#include "jobs/evaluate/evaluate.h"

namespace nephron::cli {

int RunEvaluate(int argc, char** argv) {
  CLI::App app{"Score predicted label maps against ground truth with the KiTS19 metrics (kidney Dice: label > 0,\n"
               "tumour Dice: label 2, composite: their mean; empty vs empty counts 1). Writes the summary as JSON\n"
               "and CSV and one preview PNG per case ([CT | ground truth | prediction] on the slice with the\n"
               "most ground-truth foreground). Ground truth may be a KiTS19 folder (case_XXXXX/segmentation.nii.gz),\n"
               "an nnU-Net raw folder (labelsTr/<id>.nii.gz) or a flat folder of <id>.nii.gz label maps.",
               "nephron evaluate"};
  evaluate::EvaluateOptions o;
  bool no_previews = false;
  app.add_option("--pred", o.pred_dir, "folder of predictions <id>.nii.gz (labels 0, 1, 2)")->required();
  app.add_option("--gt", o.gt_dir, "ground-truth folder (KiTS19, nnU-Net raw or flat layout)")->required();
  app.add_option("--out", o.out, "summary file, .json or .csv; both are written (default: PRED/evaluation.json)");
  app.add_option("--previews", o.previews_dir, "folder for the preview PNGs (default: PRED/previews)");
  app.add_flag("--no-previews", no_previews, "do not write preview PNGs");
  app.add_option("--threads", o.threads, "cases evaluated in parallel, one in memory each (0 = cores, at most 2)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.threads < 0) {
    std::fprintf(stderr, "nephron evaluate: --threads must be >= 0\n");
    return 2;
  }
  o.previews = !no_previews;
  ConsoleProgress progress;
  o.progress = &progress;
  auto summary = evaluate::EvaluateFolders(o);
  if (!summary.ok()) {
    std::fprintf(stderr, "nephron evaluate: %s\n", summary.status().message().c_str());
    return FailureExitCode(summary.status());
  }
  std::printf("%-24s %8s %8s %10s\n", "case", "kidney", "tumour", "composite");
  for (const auto& c : summary->cases)
    std::printf("%-24s %8.4f %8.4f %10.4f\n", c.id.c_str(), c.kidney_dice, c.tumor_dice, c.composite);
  std::printf("%-24s %8.4f %8.4f %10.4f\n", "mean", summary->kidney_dice, summary->tumor_dice, summary->composite);
  const std::string path = evaluate::SummaryPath(o);
  const std::string stem = path.substr(0, path.rfind('.'));
  std::printf("wrote %s.json and %s.csv\n", stem.c_str(), stem.c_str());
  if (o.previews)
    std::printf("wrote %zu previews to %s\n", summary->cases.size(), evaluate::PreviewsDir(o).c_str());
  return 0;
}

}  // namespace nephron::cli
