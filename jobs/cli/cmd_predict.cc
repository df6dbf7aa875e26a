// `nephron predict`, `nephron validate`, `nephron crossval` and the child
// half of `nephron bench predict`. Only LibTorch-free headers here.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "jobs/cli/commands.h"
#include "jobs/infer/predict_bench.h"
#include "jobs/infer/predictor.h"

namespace nephron::cli {

namespace {

void AddRunFlags(CLI::App& app, infer::RunSettings& r) {
  app.add_option("--checkpoint", r.checkpoint, "final, best or latest")->capture_default_str();
  app.add_option("--device", r.device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_flag("!--no-tta", r.tta, "no mirroring test-time augmentation (8x faster, slightly worse)");
  app.add_option("--step", r.step, "tile step as a fraction of the patch (nnU-Net: 0.5)")->capture_default_str();
  app.add_option("--batch", r.batch, "network inputs (tiles x mirrors) per forward pass")->capture_default_str();
  app.add_option("--threads", r.threads, "threads (0 = all cores)")->capture_default_str();
}

int Fail(const char* cmd, const Status& s) {
  std::fprintf(stderr, "nephron %s: %s\n", cmd, s.message().c_str());
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

void PrintSummary(const evaluate::Summary& s) {
  std::printf("%-16s %8s %8s %10s\n", "case", "kidney", "tumour", "composite");
  for (const auto& c : s.cases)
    std::printf("%-16s %8.4f %8.4f %10.4f\n", c.id.c_str(), c.kidney_dice, c.tumor_dice, c.composite);
  std::printf("%-16s %8.4f %8.4f %10.4f\n", "mean", s.kidney_dice, s.tumor_dice, s.composite);
}

}  // namespace

int RunPredict(int argc, char** argv) {
  CLI::App app{"Predict every case of a folder (KiTS19 layout, nnU-Net raw layout or a folder of NIfTI images) or one\n"
               "NIfTI file with the experiment's trained folds: sliding window (step 0.5, Gaussian weighting), mirroring\n"
               "test-time augmentation, softmax average over folds, export to the input geometry, and the\n"
               "postprocessing decided by `nephron crossval` (EXP/postprocessing.json) when it exists.\n"
               "Writes OUT/<id>.nii.gz (uint8: 0 background, 1 kidney, 2 tumour) and OUT/prediction.json.",
               "nephron predict"};
  infer::PredictOptions o;
  app.add_option("--experiment", o.experiment_dir, "experiment folder (plans.json, fold_K/checkpoints)")->required();
  app.add_option("--input", o.input, "folder or .nii/.nii.gz file")->required();
  app.add_option("--output", o.output_dir, "output folder")->required();
  app.add_option("--folds", o.folds, "'all' (every trained fold) or a list like 0,1,2,3,4")->capture_default_str();
  AddRunFlags(app, o.run);
  app.add_flag("--save-probabilities", o.save_probabilities,
               "also write <id>_probabilities.npy (float32 [K,a,b,c], network space) and <id>_properties.json");
  app.add_flag("!--no-postprocessing", o.postprocess, "do not apply EXP/postprocessing.json");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  ConsoleProgress progress;
  o.progress = &progress;
  auto r = infer::PredictCases(o);
  if (!r.ok()) return Fail("predict", r.status());
  std::string folds;
  for (int k : r->folds) folds += (folds.empty() ? "" : ",") + std::to_string(k);
  std::printf("predicted %zu case(s) with fold(s) %s%s into %s\n", r->cases.size(), folds.c_str(),
              r->postprocessed ? " (postprocessed)" : "", o.output_dir.c_str());
  return 0;
}

int RunValidate(int argc, char** argv) {
  CLI::App app{"Predict fold K's held-out cases with fold K's checkpoint and score them (KiTS19 metrics).\n"
               "Writes EXP/fold_K/validation/<id>.nii.gz and summary.json / summary.csv.",
               "nephron validate"};
  infer::ValidateOptions o;
  app.add_option("--experiment", o.experiment_dir, "experiment folder")->required();
  app.add_option("--fold", o.fold, "fold number")->required();
  AddRunFlags(app, o.run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  ConsoleProgress progress;
  o.progress = &progress;
  auto r = infer::ValidateFold(o);
  if (!r.ok()) return Fail("validate", r.status());
  PrintSummary(*r);
  std::printf("wrote %s/fold_%d/validation/summary.json\n", o.experiment_dir.c_str(), o.fold);
  return 0;
}

int RunCrossval(int argc, char** argv) {
  CLI::App app{"Pool the validated folds: cross-validation metrics, and nnU-Net's postprocessing decision (keep the\n"
               "largest connected component of all foreground, then per class, only where Dice improves).\n"
               "Writes EXP/crossval/summary{,_postprocessed}.{json,csv} and EXP/postprocessing.json.",
               "nephron crossval"};
  std::string exp;
  int threads = 0;
  app.add_option("--experiment", exp, "experiment folder")->required();
  app.add_option("--threads", threads, "threads (0 = all cores)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  ConsoleProgress progress;
  auto r = infer::CrossValidate(exp, threads, &progress);
  if (!r.ok()) return Fail("crossval", r.status());
  std::printf("cross-validation over %zu fold(s), %zu case(s)\n", r->folds.size(), r->raw.cases.size());
  std::printf("raw:            kidney %.4f  tumour %.4f  composite %.4f\n", r->raw.kidney_dice, r->raw.tumor_dice,
              r->raw.composite);
  std::printf("postprocessed:  kidney %.4f  tumour %.4f  composite %.4f\n", r->postprocessed.kidney_dice,
              r->postprocessed.tumor_dice, r->postprocessed.composite);
  std::printf("decision in %s\n", r->decision_path.c_str());
  return 0;
}

// Hidden child of `nephron bench predict`: one measurement, JSON to --result.
int BenchPredictChild(int argc, char** argv) {
  CLI::App app{"(internal) one `nephron bench predict` measurement", "nephron bench predict-one"};
  infer::PredictBenchOptions o;
  std::string result;
  app.add_option("--scenario", o.scenario)->required();
  app.add_flag("--mirror", o.mirror);
  app.add_option("--threads", o.threads);
  app.add_option("--batch", o.batch);
  app.add_option("--device", o.device);
  app.add_option("--workdir", o.workdir);
  app.add_option("--result", result)->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto r = infer::RunPredictBench(o);
  if (!r.ok()) return Fail("bench predict", r.status());
  Status st = WriteJsonFile(result, *r);
  return st.ok() ? 0 : Fail("bench predict", st);
}

}  // namespace nephron::cli
