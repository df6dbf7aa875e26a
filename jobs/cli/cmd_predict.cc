// `nephron predict`, `nephron validate`, `nephron crossval` and the child
// half of `nephron bench predict`. Only LibTorch-free headers here.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>

#include "common/spec.h"
#include "jobs/cli/commands.h"
#include "jobs/infer/predict_bench.h"
#include "jobs/infer/predictor.h"
#include "jobs/preprocess/experiment.h"

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
  return FailureExitCode(s);
}

// Loads --spec when given (else the defaults of every preset).
Result<JobSpec> LoadSpec(const std::string& path) {
  return path.empty() ? ParseJobSpec("", "(no spec)") : LoadJobSpecFile(path);
}

// The spec's inference.* become the defaults of the run flags: a flag given on
// the command line wins. `postprocess` may be null (validate).
void ApplyInferenceSpec(const CLI::App& app, const InferenceSpec& s, infer::RunSettings* r, bool* postprocess) {
  if (app.count("--checkpoint") == 0) r->checkpoint = s.checkpoint;
  if (app.count("--no-tta") == 0) r->tta = s.tta;
  if (app.count("--step") == 0) r->step = s.step;
  if (app.count("--batch") == 0) r->batch = s.batch;
  if (postprocess && app.count("--no-postprocessing") == 0) *postprocess = s.postprocessing;
}

// "a,b,c" -> {"a", "b", "c"}; InvalidArgument for an empty item.
Result<std::vector<std::string>> ParseIdList(const std::string& text, const std::string& flag) {
  std::vector<std::string> ids;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b == std::string::npos) return InvalidArgument(flag + ": empty case id in '" + text + "'");
    ids.push_back(item.substr(b, e - b + 1));
  }
  if (ids.empty() || text.back() == ',') return InvalidArgument(flag + ": expected ids like case_00001,case_00007, got '" + text + "'");
  return ids;
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
  std::string spec_path, cases, shard;
  app.add_option("--experiment", o.experiment_dir, "experiment folder (plans.json, fold_K/checkpoints)")->required();
  app.add_option("--input", o.input, "folder or .nii/.nii.gz file (with --test-set: the raw data set folder)")->required();
  app.add_option("--output", o.output_dir, "output folder")->required();
  app.add_option("--folds", o.folds, "'all' (every trained fold) or a list like 0,1,2,3,4 (default: the spec's folds, else all)")
      ->capture_default_str();
  AddRunFlags(app, o.run);
  app.add_flag("--save-probabilities", o.save_probabilities,
               "also write <id>_probabilities.npy (float32 [K,a,b,c], network space) and <id>_properties.json");
  app.add_flag("!--no-postprocessing", o.postprocess, "do not apply EXP/postprocessing.json");
  app.add_option("--spec", spec_path,
                 "job spec YAML: inference.* (tta, step, batch, checkpoint, postprocessing) and folds become the\n"
                 "defaults of the flags above (a flag given wins); dataset.test_cases and layout for --test-set");
  app.add_flag("--test-set", o.select.test_set,
               "--input is the raw data set: predict its test cases only (unlabelled cases + the spec's dataset.test_cases;\n"
               "without --spec, the held-out cases EXP/experiment.json records for this data set)");
  app.add_option("--cases", cases, "only these case ids of the input, comma-separated (an unknown id is an error)");
  app.add_option("--shard", shard, "predict shard i of n (0-based i/n) of the selected cases: cases i, i+n, ...");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto spec = LoadSpec(spec_path);
  if (!spec.ok()) return Fail("predict", InvalidArgument(spec.status().message()));
  ApplyInferenceSpec(app, spec->inference, &o.run, &o.postprocess);
  if (app.count("--folds") == 0 && !spec->folds.empty()) {
    o.folds.clear();
    for (int k : spec->folds) o.folds += (o.folds.empty() ? "" : ",") + std::to_string(k);
  }
  o.select.test_cases = spec->dataset.test_cases;
  o.select.layout = spec->dataset.layout;
  if (o.select.test_set && spec_path.empty()) {
    // Without a spec, the held-out list is the one the experiment was preprocessed with.
    auto recorded = infer::RecordedTestCases(o.experiment_dir, o.input);
    if (!recorded.ok()) return Fail("predict", recorded.status());
    o.select.test_cases = *recorded;
  }
  if (app.count("--cases")) {
    auto ids = ParseIdList(cases, "--cases");
    if (!ids.ok()) return Fail("predict", ids.status());
    o.select.cases = *ids;
  }
  if (app.count("--shard")) {
    Status st = preprocess::ParseShard(shard, &o.select.shard, &o.select.num_shards);
    if (!st.ok()) return Fail("predict", st);
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
  std::string spec_path;
  app.add_option("--experiment", o.experiment_dir, "experiment folder")->required();
  app.add_option("--fold", o.fold, "fold number")->required();
  AddRunFlags(app, o.run);
  app.add_option("--spec", spec_path,
                 "job spec YAML: inference.* (tta, step, batch, checkpoint) become the defaults of the flags above");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto spec = LoadSpec(spec_path);
  if (!spec.ok()) return Fail("validate", InvalidArgument(spec.status().message()));
  ApplyInferenceSpec(app, spec->inference, &o.run, nullptr);
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
  infer::CrossValOptions o;
  std::string spec_path;
  app.add_option("--experiment", o.experiment_dir, "experiment folder")->required();
  app.add_option("--threads", o.threads, "threads (0 = all cores)")->capture_default_str();
  app.add_flag("!--no-postprocessing", o.postprocessing,
               "write a decision that keeps every component (report only what postprocessing would do)");
  app.add_option("--spec", spec_path, "job spec YAML: inference.postprocessing is the default of --no-postprocessing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto spec = LoadSpec(spec_path);
  if (!spec.ok()) return Fail("crossval", InvalidArgument(spec.status().message()));
  if (app.count("--no-postprocessing") == 0) o.postprocessing = spec->inference.postprocessing;
  ConsoleProgress progress;
  o.progress = &progress;
  auto r = infer::CrossValidate(o);
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
