// Runs the real `nephron` binary the way a user does and checks what it
// writes, prints and returns.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json_util.h"
#include "tests/fakes/run_nephron.h"
#include "jobs/data/nifti_io.h"

namespace nephron {
namespace {

namespace fs = std::filesystem;

using testing::CmdResult;
using testing::Nephron;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::path(::testing::TempDir()) / ("cli_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    const CmdResult r = Nephron("synth --out " + (root_ / "data").string() + " --cases 5 --seed 3 --size tiny");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A copy of the synthetic data set that a test may damage.
  static fs::path CopyData(const std::string& name) {
    const fs::path d = root_ / name;
    fs::remove_all(d);
    fs::copy(root_ / "data", d, fs::copy_options::recursive);
    return d;
  }

  static fs::path root_;
};
fs::path CliTest::root_;

TEST_F(CliTest, EveryCommandHasHelp) {
  const CmdResult top = Nephron("--help");
  ASSERT_EQ(top.code, 0);
  for (const char* cmd : {"synth", "fingerprint", "plan", "preprocess", "bench"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
    const CmdResult h = Nephron(std::string(cmd) + " --help");
    EXPECT_EQ(h.code, 0) << cmd << h.out;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << cmd << h.out;
  }
  EXPECT_EQ(Nephron("bench preprocess --help").code, 0);
  EXPECT_EQ(Nephron("frobnicate").code, 2);
  EXPECT_EQ(Nephron("").code, 2);
}

TEST_F(CliTest, SynthIsDeterministicAndValidatesArguments) {
  const fs::path a = root_ / "synth_a", b = root_ / "synth_b";
  ASSERT_EQ(Nephron("synth --out " + a.string() + " --cases 2 --seed 11").code, 0);
  ASSERT_EQ(Nephron("synth --out " + b.string() + " --cases 2 --seed 11 --threads 1").code, 0);
  auto ia = data::ReadImage((a / "case_00001/imaging.nii.gz").string());
  auto ib = data::ReadImage((b / "case_00001/imaging.nii.gz").string());
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_EQ(ia->data, ib->data);
  const CmdResult bad = Nephron("synth --out " + a.string() + " --cases 2 --size huge");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("--size"), std::string::npos) << bad.out;
  EXPECT_EQ(Nephron("synth --cases 2").code, 2);  // --out is required
}

TEST_F(CliTest, ShardedFingerprintsMergeToTheSingleRunResult) {
  const std::string data = (root_ / "data").string();
  const fs::path single = root_ / "fp_single", sharded = root_ / "fp_sharded";
  ASSERT_EQ(Nephron("fingerprint --data " + data + " --experiment " + single.string()).code, 0);
  const CmdResult s0 = Nephron("fingerprint --data " + data + " --experiment " + sharded.string() + " --shard 0/2");
  ASSERT_EQ(s0.code, 0) << s0.out;
  EXPECT_FALSE(fs::exists(sharded / "dataset_fingerprint.json"));  // not complete yet
  const CmdResult s1 = Nephron("fingerprint --data " + data + " --experiment " + sharded.string() + " --shard 1/2");
  ASSERT_EQ(s1.code, 0) << s1.out;
  ASSERT_TRUE(fs::exists(sharded / "dataset_fingerprint.json"));
  EXPECT_EQ(Slurp(single / "dataset_fingerprint.json"), Slurp(sharded / "dataset_fingerprint.json"));
  EXPECT_EQ(Nephron("fingerprint --data " + data + " --experiment " + sharded.string() + " --shard 2/2").code, 2);
}

TEST_F(CliTest, PreprocessRunsEarlierStagesAndResumes) {
  const std::string data = (root_ / "data").string();
  const fs::path exp = root_ / "exp_nnunet";
  const CmdResult r = Nephron("preprocess --data " + data + " --experiment " + exp.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("preprocess: 5 done"), std::string::npos) << r.out;
  for (const char* f : {"experiment.json", "dataset_fingerprint.json", "plans.json", "splits_final.json"})
    EXPECT_TRUE(fs::exists(exp / f)) << f;
  for (int i = 0; i < 5; ++i) {
    char id[32];
    std::snprintf(id, sizeof(id), "case_%05d", i);
    for (const std::string suffix : {".npy", "_seg.npy", "_locations.npy", ".json"})
      EXPECT_TRUE(fs::exists(exp / "nnUNetPlans_3d_fullres" / (id + suffix))) << id << suffix;
  }
  auto splits = ReadJsonFile((exp / "splits_final.json").string());
  ASSERT_TRUE(splits.ok());
  EXPECT_EQ(splits->size(), 5u);
  auto plans = ReadJsonFile((exp / "plans.json").string());
  ASSERT_TRUE(plans.ok());
  EXPECT_EQ((*plans)["configurations"]["3d_fullres"]["patch_size"].size(), 3u);

  const CmdResult again = Nephron("preprocess --data " + data + " --experiment " + exp.string());
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("0 done, 5 already done"), std::string::npos) << again.out;

  // The experiment is bound to its data root.
  const fs::path other = CopyData("data_other");
  const CmdResult wrong = Nephron("preprocess --data " + other.string() + " --experiment " + exp.string());
  EXPECT_EQ(wrong.code, 4);
  EXPECT_NE(wrong.out.find("field data_root"), std::string::npos) << wrong.out;
}

TEST_F(CliTest, Bdci2022PresetUsesItsFixedSpacingAndKeepsAnExistingSplit) {
  const std::string data = (root_ / "data").string();
  const fs::path exp = root_ / "exp_bdci";
  fs::create_directories(exp);
  const std::string custom =
      R"([{"train": ["case_00000", "case_00001", "case_00002"], "val": ["case_00003", "case_00004"]},)"
      R"( {"train": ["case_00003", "case_00004"], "val": ["case_00000", "case_00001", "case_00002"]}])";
  std::ofstream(exp / "splits_final.json") << custom;
  const CmdResult r = Nephron("plan --data " + data + " --experiment " + exp.string() + " --preset bdci2022");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("spacing 3.22 x 1.62 x 1.62"), std::string::npos) << r.out;
  EXPECT_EQ(Slurp(exp / "splits_final.json"), custom);
}

TEST_F(CliTest, BadCasesAreReportedSkippedOrStopTheRun) {
  const fs::path d = CopyData("data_bad");
  // Truncate one image, put an out-of-range label in another.
  const fs::path img = d / "case_00001/imaging.nii.gz";
  fs::resize_file(img, fs::file_size(img) / 2);
  auto lab = data::ReadLabels((d / "case_00003/segmentation.nii.gz").string(), 2);
  ASSERT_TRUE(lab.ok());
  lab->data[0] = 5;
  ASSERT_TRUE(data::WriteImage(*lab, (d / "case_00003/segmentation.nii.gz").string()).ok());

  const fs::path exp = root_ / "exp_bad_skip";
  const CmdResult skip = Nephron("preprocess --data " + d.string() + " --experiment " + exp.string());
  EXPECT_EQ(skip.code, 0) << skip.out;
  EXPECT_NE(skip.out.find("3 done"), std::string::npos) << skip.out;
  EXPECT_NE(skip.out.find("case_00001/imaging.nii.gz"), std::string::npos) << skip.out;
  EXPECT_NE(skip.out.find("label value 5"), std::string::npos) << skip.out;
  auto report = ReadJsonFile((exp / "reports/fingerprint.json").string());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ((*report)["failed"], 2);
  auto splits = ReadJsonFile((exp / "splits_final.json").string());
  ASSERT_TRUE(splits.ok());
  for (const auto& fold : *splits)
    for (const auto& id : fold["val"]) EXPECT_TRUE(id != "case_00001" && id != "case_00003");

  // With on_bad_case: stop the run ends at the first bad case with exit 1;
  // what was done before stays.
  const fs::path spec = root_ / "stop.yaml";
  std::ofstream(spec) << "preprocess:\n  on_bad_case: stop\n";
  const fs::path exp2 = root_ / "exp_bad_stop";
  const CmdResult stop = Nephron("fingerprint --data " + d.string() + " --experiment " + exp2.string() + " --spec " +
                           spec.string());
  EXPECT_EQ(stop.code, 4) << stop.out;
  EXPECT_NE(stop.out.find("case case_00001"), std::string::npos) << stop.out;
  EXPECT_TRUE(fs::exists(exp2 / "fingerprint/case_00000.json"));
  EXPECT_FALSE(fs::exists(exp2 / "fingerprint/case_00002.json"));  // never reached
}

TEST_F(CliTest, HeldOutTestCasesStayOutOfFingerprintPlanSplitsAndPreprocessing) {
  const std::string data = (root_ / "data").string();
  const fs::path exp = root_ / "exp_held_out", spec = root_ / "held_out.yaml";
  std::ofstream(spec) << "dataset:\n  test_cases: [case_00003, case_00001]\nplan:\n  num_folds: 3\n";
  const CmdResult r = Nephron("preprocess --data " + data + " --experiment " + exp.string() + " --spec " + spec.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("preprocess: 3 done"), std::string::npos) << r.out;
  for (const char* id : {"case_00001", "case_00003"}) {
    EXPECT_FALSE(fs::exists(exp / "fingerprint" / (std::string(id) + ".json"))) << id;
    EXPECT_FALSE(fs::exists(exp / "nnUNetPlans_3d_fullres" / (std::string(id) + ".npy"))) << id;
  }
  auto splits = ReadJsonFile((exp / "splits_final.json").string());
  ASSERT_TRUE(splits.ok());
  ASSERT_EQ(splits->size(), 3u);
  for (const auto& fold : *splits)
    for (const char* key : {"train", "val"})
      for (const auto& id : fold[key]) EXPECT_TRUE(id != "case_00001" && id != "case_00003") << id;
  auto fp = ReadJsonFile((exp / "dataset_fingerprint.json").string());
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ((*fp)["case_identifiers"], Json::array({"case_00000", "case_00002", "case_00004"}));
  auto ej = ReadJsonFile((exp / "experiment.json").string());
  ASSERT_TRUE(ej.ok());
  EXPECT_EQ((*ej)["test_cases"], Json::array({"case_00001", "case_00003"}));
  EXPECT_EQ((*ej)["num_training_cases"], 3);

  // The experiment is bound to its held-out list: a run without it would
  // fingerprint and preprocess the held-out cases as training cases.
  const CmdResult other = Nephron("preprocess --data " + data + " --experiment " + exp.string());
  EXPECT_EQ(other.code, 4) << other.out;
  EXPECT_NE(other.out.find("field test_cases"), std::string::npos) << other.out;
  EXPECT_FALSE(fs::exists(exp / "fingerprint/case_00001.json"));

  // An id the data set does not have is named with its index.
  const fs::path bad = root_ / "held_out_bad.yaml";
  std::ofstream(bad) << "dataset:\n  test_cases: [case_00001, case_00042]\n";
  const CmdResult b = Nephron("fingerprint --data " + data + " --experiment " + (root_ / "exp_held_out_bad").string() +
                              " --spec " + bad.string());
  EXPECT_EQ(b.code, 2) << b.out;
  EXPECT_NE(b.out.find("dataset.test_cases[1]: case 'case_00042' is not in the data set"), std::string::npos) << b.out;
}

TEST_F(CliTest, InvalidSpecsAndEmptyDataAreRejectedClearly) {
  const fs::path spec = root_ / "bad.yaml";
  std::ofstream(spec) << "plan:\n  gpu_memory_gb: lots\n  pach_size: [1, 2, 3]\n";
  const CmdResult r = Nephron("plan --data " + (root_ / "data").string() + " --experiment " + (root_ / "exp_x").string() +
                        " --spec " + spec.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("plan.gpu_memory_gb"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("plan.pach_size: unknown key"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root_ / "exp_x"));

  fs::create_directories(root_ / "empty");
  const CmdResult e = Nephron("preprocess --data " + (root_ / "empty").string() + " --experiment " +
                        (root_ / "exp_empty").string());
  EXPECT_EQ(e.code, 4);
  EXPECT_NE(e.out.find("empty data set"), std::string::npos) << e.out;
  const CmdResult p = Nephron("preprocess --data " + (root_ / "data").string() + " --experiment " +
                        (root_ / "exp_y").string() + " --preset fancy");
  EXPECT_EQ(p.code, 2);
  EXPECT_NE(p.out.find("unknown preset 'fancy'"), std::string::npos) << p.out;
}


TEST_F(CliTest, EvaluateHelpDocumentsItsFlags) {
  const CmdResult h = Nephron("evaluate --help");
  EXPECT_EQ(h.code, 0) << h.out;
  for (const char* flag : {"--pred", "--gt", "--out", "--previews", "--no-previews", "--threads"})
    EXPECT_NE(h.out.find(flag), std::string::npos) << flag << h.out;
  EXPECT_EQ(Nephron("evaluate --gt " + (root_ / "data").string()).code, 2);  // --pred is required
}

// Copies the synthetic ground truth into a prediction folder as <id>.nii.gz.
fs::path GroundTruthAsPredictions(const fs::path& data, const fs::path& pred) {
  fs::remove_all(pred);
  fs::create_directories(pred);
  for (const auto& e : fs::directory_iterator(data))
    if (e.is_directory()) fs::copy_file(e.path() / "segmentation.nii.gz", pred / (e.path().filename().string() + ".nii.gz"));
  return pred;
}

TEST_F(CliTest, EvaluatePerfectPredictionsScoresOneAndWritesPreviews) {
  const fs::path pred = GroundTruthAsPredictions(root_ / "data", root_ / "eval_pred");
  const CmdResult r = Nephron("evaluate --pred " + pred.string() + " --gt " + (root_ / "data").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("mean"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1.0000"), std::string::npos) << r.out;
  auto j = ReadJsonFile((pred / "evaluation.json").string());
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["num_cases"], 5);
  EXPECT_DOUBLE_EQ((*j)["composite"].get<double>(), 1.0);
  EXPECT_NE(Slurp(pred / "evaluation.csv").find("mean,1.000000,1.000000,1.000000"), std::string::npos);
  for (int i = 0; i < 5; ++i) {
    char id[32];
    std::snprintf(id, sizeof(id), "case_%05d", i);
    EXPECT_GT(fs::file_size(pred / "previews" / (std::string(id) + ".png")), 100u) << id;
  }
}

TEST_F(CliTest, EvaluateGeometryMismatchFailsNamingSpacing) {
  const fs::path pred = GroundTruthAsPredictions(root_ / "data", root_ / "eval_bad");
  auto lab = data::ReadLabels((pred / "case_00002.nii.gz").string(), 2);
  ASSERT_TRUE(lab.ok());
  lab->geometry.spacing[0] *= 1.5;
  ASSERT_TRUE(data::WriteImage(*lab, (pred / "case_00002.nii.gz").string()).ok());
  const CmdResult r = Nephron("evaluate --pred " + pred.string() + " --gt " + (root_ / "data").string());
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("spacing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("case_00002.nii.gz"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(pred / "evaluation.json"));
  EXPECT_FALSE(fs::exists(pred / "previews"));
}

}  // namespace
}  // namespace nephron

namespace nephron {
namespace {

// --device-plugin loads the backend library before any device is parsed; a
// device LibTorch does not know is refused naming the plugin.
TEST(DevicePluginTest, IsLoadedFirstAndUnknownDevicesNameIt) {
  if (!NEPHRON_HAS_TRAIN) GTEST_SKIP() << "built without LibTorch (no `nephron train`)";
  const std::string mark = std::filesystem::temp_directory_path() / ("nephron_plugin_" + std::to_string(getpid()));
  std::filesystem::remove(mark);
  const std::string env = "NEPHRON_FAKE_PLUGIN_MARK=" + mark + " ";
  testing::CmdResult r =
      testing::Nephron("--device-plugin " FAKE_DEVICE_PLUGIN " train --experiment /nonexistent --fold 0 --device npu:0");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("npu:0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(FAKE_DEVICE_PLUGIN), std::string::npos) << r.out;
  // The library ran its initialisers (loaded from the environment variable too).
  r = testing::Nephron("synth --help");  // no plugin: nothing loaded
  EXPECT_FALSE(std::filesystem::exists(mark));
  const std::string cmd = env + "NEPHRON_DEVICE_PLUGIN=" FAKE_DEVICE_PLUGIN " " NEPHRON_BINARY " synth --help >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_TRUE(std::filesystem::exists(mark));
  std::filesystem::remove(mark);

  r = testing::Nephron("train --experiment /nonexistent --fold 0 --device npu:0");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--device-plugin"), std::string::npos) << r.out;
  r = testing::Nephron("--device-plugin /no/such/libbackend.so synth --help");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("/no/such/libbackend.so"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cannot load"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace nephron
