// The inference engine end to end, through the real `nephron` binary: train
// two tiny folds on synthetic cases, predict held-out synthetic cases with
// their ensemble, validate, decide postprocessing, and refuse bad input
// without writing anything under a final name.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "tests/fakes/run_nephron.h"
#include "jobs/data/dataset.h"
#include "jobs/data/nifti_io.h"
#include "jobs/data/npy.h"
#include "jobs/evaluate/metrics.h"

namespace nephron {
namespace {

namespace fs = std::filesystem;

using testing::CmdResult;
using testing::Nephron;

class InferTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::path(::testing::TempDir()) / ("infer_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::ofstream((root_ / "spec.yaml").string())
        << "plan:\n  patch_size: [16, 32, 32]\n  batch_size: 2\n  base_features: 8\n  max_features: 32\n"
           "train:\n  loader_threads: 1\n  val_iterations: 2\n  checkpoint_every: 4\n";
    auto run = [](const std::string& args) {
      const CmdResult r = Nephron(args);
      ASSERT_EQ(r.code, 0) << args << "\n" << r.out;
    };
    const std::string exp = Exp(), spec = (root_ / "spec.yaml").string();
    run("synth --out " + (root_ / "data").string() + " --cases 8 --seed 31");
    run("synth --out " + (root_ / "heldout").string() + " --cases 3 --seed 77");
    run("preprocess --data " + (root_ / "data").string() + " --experiment " + exp + " --spec " + spec);
    for (const char* fold : {"0", "1"})
      run("train --experiment " + exp + " --fold " + fold + " --epochs 12 --iterations 25 --threads 2 --spec " + spec);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static std::string Exp() { return (root_ / "exp").string(); }
  static std::string P(const std::string& name) { return (root_ / name).string(); }
  // An experiment copy that a test may change.
  static std::string CopyExp(const std::string& name) {
    fs::remove_all(root_ / name);
    fs::copy(root_ / "exp", root_ / name, fs::copy_options::recursive);
    return P(name);
  }

  static fs::path root_;
};
fs::path InferTest::root_;

TEST_F(InferTest, TwoFoldEnsembleSegmentsHeldOutCases) {
  const CmdResult r = Nephron("predict --experiment " + Exp() + " --input " + P("heldout") + " --output " +
                              P("pred") + " --folds 0,1 --threads 2");
  ASSERT_EQ(r.code, 0) << r.out;
  auto ds = data::DiscoverDataset(P("heldout"));
  ASSERT_TRUE(ds.ok());
  ASSERT_EQ(ds->training.size(), 3u);
  double kidney = 0;
  for (const auto& c : ds->training) {
    auto pred = data::ReadLabels(P("pred/" + c.id + ".nii.gz"), 2);
    auto gt = data::ReadLabels(c.label, 2);
    auto img = data::ReadHeader(c.image);
    ASSERT_TRUE(pred.ok() && gt.ok() && img.ok()) << c.id;
    // Exactly the input image's grid.
    EXPECT_EQ(pred->shape, img->shape);
    EXPECT_EQ(pred->geometry.spacing, img->geometry.spacing);
    EXPECT_EQ(pred->geometry.origin, img->geometry.origin);
    EXPECT_EQ(pred->geometry.direction, img->geometry.direction);
    const auto m = evaluate::KitsMetrics(c.id, pred->data, gt->data);
    kidney += m.kidney_dice / 3.0;
  }
  EXPECT_GT(kidney, 0.8) << r.out;
  auto report = ReadJsonFile(P("pred/prediction.json"));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ((*report)["folds"], Json::array({0, 1}));
  EXPECT_EQ((*report)["tta"], true);
  EXPECT_EQ((*report)["cases"].size(), 3u);
}

TEST_F(InferTest, ValidateCrossvalAndPostprocessingAtPredictTime) {
  const std::string exp = CopyExp("exp_cv");
  for (const char* fold : {"0", "1"}) {
    const CmdResult r = Nephron("validate --experiment " + exp + " --fold " + fold + " --no-tta --threads 2");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("mean"), std::string::npos) << r.out;
    auto s = ReadJsonFile(exp + "/fold_" + fold + "/validation/summary.json");
    ASSERT_TRUE(s.ok()) << s.status().message();
    auto splits = ReadJsonFile(exp + "/splits_final.json");
    ASSERT_TRUE(splits.ok());
    const Json& val = (*splits)[std::stoi(fold)]["val"];
    EXPECT_EQ((*s)["cases"].size(), val.size());
    for (const auto& id : val) EXPECT_TRUE(fs::exists(exp + "/fold_" + fold + "/validation/" + id.get<std::string>() + ".nii.gz"));
  }
  const CmdResult cv = Nephron("crossval --experiment " + exp);
  ASSERT_EQ(cv.code, 0) << cv.out;
  auto decision = ReadJsonFile(exp + "/postprocessing.json");
  ASSERT_TRUE(decision.ok());
  EXPECT_TRUE(decision->contains("largest_foreground"));
  EXPECT_EQ((*decision)["folds"], Json::array({0, 1}));
  auto summary = ReadJsonFile(exp + "/crossval/summary.json");
  ASSERT_TRUE(summary.ok());
  EXPECT_GT((*summary)["kidney_dice"].get<double>(), 0.7) << cv.out;
  EXPECT_TRUE(fs::exists(exp + "/crossval/summary_postprocessed.json"));

  // inference.postprocessing: false -> a decision that keeps everything.
  const std::string off = P("exp_cv_off");
  fs::remove_all(off);
  fs::copy(exp, off, fs::copy_options::recursive);
  fs::remove(off + "/postprocessing.json");
  std::ofstream(P("no_pp.yaml")) << "inference:\n  postprocessing: false\n";
  const CmdResult cv_off = Nephron("crossval --experiment " + off + " --spec " + P("no_pp.yaml"));
  ASSERT_EQ(cv_off.code, 0) << cv_off.out;
  auto off_decision = ReadJsonFile(off + "/postprocessing.json");
  ASSERT_TRUE(off_decision.ok());
  EXPECT_EQ((*off_decision)["largest_foreground"], false);
  EXPECT_TRUE((*off_decision)["largest_per_class"].empty());
  EXPECT_EQ((*off_decision)["report"]["disabled_by_spec"], true);

  // The decision is applied (and recorded) at predict time; a single file works as input.
  const std::string image = P("heldout/case_00000/imaging.nii.gz");
  const CmdResult r = Nephron("predict --experiment " + exp + " --input " + image + " --output " + P("pred_pp") +
                              " --no-tta --save-probabilities --threads 2");
  ASSERT_EQ(r.code, 0) << r.out;
  auto report = ReadJsonFile(P("pred_pp/prediction.json"));
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE((*report)["postprocessing"].is_null());
  EXPECT_EQ((*report)["folds"], Json::array({0, 1}));  // "all" = every trained fold
  auto probs = data::ReadNpy(P("pred_pp/case_00000_probabilities.npy"));
  ASSERT_TRUE(probs.ok()) << probs.status().message();
  EXPECT_EQ(probs->shape.size(), 4u);
  EXPECT_EQ(probs->shape[0], 3);
  EXPECT_TRUE(fs::exists(P("pred_pp/case_00000_properties.json")));
  EXPECT_TRUE(fs::exists(P("pred_pp/case_00000.nii.gz")));
}

TEST_F(InferTest, MissingCheckpointsAndUntrainedExperimentsAreClearErrors) {
  CmdResult r = Nephron("predict --experiment " + Exp() + " --input " + P("heldout") + " --output " + P("out_missing") +
                        " --folds 0,3");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("fold_3/checkpoint_final.pt"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(P("out_missing")));

  const std::string untrained = CopyExp("exp_untrained");
  fs::remove_all(untrained + "/fold_0");
  fs::remove_all(untrained + "/fold_1");
  r = Nephron("predict --experiment " + untrained + " --input " + P("heldout") + " --output " + P("out_untrained"));
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("no fold has checkpoint_final.pt"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(P("out_untrained")));

  r = Nephron("predict --experiment " + Exp() + " --input " + P("heldout") + " --output " + P("out_x") +
              " --checkpoint newest");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--checkpoint"), std::string::npos) << r.out;
}

TEST_F(InferTest, FoldsTrainedUnderAnotherPlanAreRefused) {
  const std::string exp = CopyExp("exp_replanned");
  auto plans = ReadJsonFile(exp + "/plans.json");
  ASSERT_TRUE(plans.ok());
  (*plans)["nephron"]["replanned"] = true;  // a different plans.json text: a different plan id
  ASSERT_TRUE(WriteJsonFile(exp + "/plans.json", *plans).ok());
  const CmdResult r = Nephron("predict --experiment " + exp + " --input " + P("heldout") + " --output " + P("out_replan"));
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("plan_id"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(P("out_replan")));
}

TEST_F(InferTest, BadInputFilesAreNamedAndNothingPartialIsWritten) {
  std::ofstream(P("notes.txt")) << "not an image";
  CmdResult r = Nephron("predict --experiment " + Exp() + " --input " + P("notes.txt") + " --output " + P("out_txt"));
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("notes.txt"), std::string::npos) << r.out;

  // A truncated gzip NIfTI: the error names it and no label map appears.
  fs::create_directories(P("trunc"));
  const std::string src = P("heldout/case_00001/imaging.nii.gz"), dst = P("trunc/case_00009.nii.gz");
  fs::copy_file(src, dst);
  fs::resize_file(dst, fs::file_size(src) / 2);
  r = Nephron("predict --experiment " + Exp() + " --input " + P("trunc") + " --output " + P("out_trunc") + " --no-tta");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("case_00009"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(P("out_trunc/case_00009.nii.gz")));
  if (fs::exists(P("out_trunc")))
    for (const auto& e : fs::directory_iterator(P("out_trunc"))) ADD_FAILURE() << "left behind: " << e.path();
}

std::vector<std::string> PredictedIds(const std::string& dir) {
  std::vector<std::string> ids;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".nii.gz") == 0) ids.push_back(name.substr(0, name.size() - 7));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The selection a coordinator's predict tasks use: --cases, --shard, --spec
// defaults (flags win), and --test-set on a raw data set root.
TEST_F(InferTest, CaseSelectionShardsAndSpecDefaults) {
  std::ofstream(P("fast.yaml")) << "inference:\n  tta: false\n  step: 1\n  batch: 4\n";
  // Selected [case_00000, case_00002]; shard 1 of 2 is case_00002. --step given: it wins over the spec.
  CmdResult r = Nephron("predict --experiment " + Exp() + " --input " + P("heldout") + " --output " + P("pred_sel") +
                        " --cases case_00002,case_00000 --shard 1/2 --step 0.75 --threads 2 --spec " + P("fast.yaml"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(PredictedIds(P("pred_sel")), std::vector<std::string>{"case_00002"});
  EXPECT_FALSE(fs::exists(P("pred_sel/prediction.json")));
  auto report = ReadJsonFile(P("pred_sel/prediction_shard_1_of_2.json"));
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ((*report)["tta"], false);
  EXPECT_EQ((*report)["step"], 0.75);
  EXPECT_EQ((*report)["batch"], 4);
  EXPECT_EQ((*report)["cases"].size(), 1u);

  r = Nephron("predict --experiment " + Exp() + " --input " + P("heldout") + " --output " + P("pred_unknown") +
              " --cases case_00001,case_00009 --spec " + P("fast.yaml"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--cases: unknown case id(s) 'case_00009'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(P("pred_unknown")));

  // A raw data set with an unlabelled case: the test set is it plus dataset.test_cases.
  fs::remove_all(P("raw"));
  fs::copy(P("heldout"), P("raw"), fs::copy_options::recursive);
  fs::remove(P("raw/case_00001/segmentation.nii.gz"));
  std::ofstream(P("test_set.yaml")) << "dataset:\n  test_cases: [case_00002]\ninference:\n  tta: false\n  step: 1\n";
  r = Nephron("predict --experiment " + Exp() + " --input " + P("raw") + " --output " + P("pred_ts") +
              " --test-set --threads 2 --spec " + P("test_set.yaml"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(PredictedIds(P("pred_ts")), (std::vector<std::string>{"case_00001", "case_00002"}));
  // Scored against the whole raw folder: only the held-out labelled case counts.
  r = Nephron("evaluate --pred " + P("pred_ts") + " --gt " + P("raw") + " --no-previews");
  ASSERT_EQ(r.code, 0) << r.out;
  auto eval = ReadJsonFile(P("pred_ts/evaluation.json"));
  ASSERT_TRUE(eval.ok());
  EXPECT_EQ((*eval)["num_cases"], 1);

  std::ofstream(P("test_set_bad.yaml")) << "dataset:\n  test_cases: [case_00077]\n";
  r = Nephron("predict --experiment " + Exp() + " --input " + P("raw") + " --output " + P("pred_ts_bad") +
              " --test-set --spec " + P("test_set_bad.yaml"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("dataset.test_cases[0]: case 'case_00077'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(P("pred_ts_bad")));

  // On the experiment's own data root the held-out list must be the one it was preprocessed with
  // (here none); without --spec that recorded list is used.
  r = Nephron("predict --experiment " + Exp() + " --input " + P("data") + " --output " + P("pred_ts_leak") +
              " --test-set --spec " + P("test_set.yaml"));
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("records dataset.test_cases []"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(P("pred_ts_leak")));
  const std::string held = CopyExp("exp_held_out");
  auto ej = ReadJsonFile(held + "/experiment.json");
  ASSERT_TRUE(ej.ok());
  (*ej)["test_cases"] = Json::array({"case_00003"});
  ASSERT_TRUE(WriteJsonFile(held + "/experiment.json", *ej).ok());
  r = Nephron("predict --experiment " + held + " --input " + P("data") + " --output " + P("pred_ts_recorded") +
              " --test-set --no-tta --step 1 --threads 2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(PredictedIds(P("pred_ts_recorded")), std::vector<std::string>{"case_00003"});

  // validate and crossval take the same --spec; a bad one is a usage error naming the field.
  std::ofstream(P("bad_inference.yaml")) << "inference:\n  step: 0\n";
  r = Nephron("validate --experiment " + Exp() + " --fold 0 --spec " + P("bad_inference.yaml"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("inference.step"), std::string::npos) << r.out;
}

TEST_F(InferTest, CommandsHaveHelp) {
  for (const char* cmd : {"predict", "validate", "crossval"}) {
    const CmdResult r = Nephron(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("--experiment"), std::string::npos) << cmd;
  }
  const CmdResult r = Nephron("predict --help");
  for (const char* flag : {"--folds", "--checkpoint", "--device", "--no-tta", "--step", "--save-probabilities"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace nephron
