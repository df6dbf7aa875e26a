#include "common/spec.h"

#include <gtest/gtest.h>

namespace nephron {
namespace {

TEST(SpecTest, PresetsAreComplete) {
  auto nn = PresetSpec("nnunet");
  ASSERT_TRUE(nn.ok());
  EXPECT_EQ(nn->plan.planner, "v2");
  EXPECT_FALSE(nn->plan.target_spacing.has_value());
  EXPECT_EQ(nn->preprocess.label_interpolation, "onehot_linear");
  EXPECT_TRUE(nn->preprocess.normalize_before_resample);

  auto b = PresetSpec("bdci2022");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->plan.planner, "v1");
  ASSERT_TRUE(b->plan.target_spacing.has_value());
  EXPECT_DOUBLE_EQ((*b->plan.target_spacing)[0], 3.22);
  EXPECT_DOUBLE_EQ((*b->plan.target_spacing)[1], 1.62);
  EXPECT_EQ(b->plan.downsampling, "maxpool");
  EXPECT_EQ(b->preprocess.label_interpolation, "nearest");
  EXPECT_FALSE(b->preprocess.normalize_before_resample);

  EXPECT_EQ(PresetSpec("nnunet3").status().code(), StatusCode::kNotFound);
}

TEST(SpecTest, OverridesApplyOnTopOfThePreset) {
  auto s = ParseJobSpec(
      "preset: bdci2022\nname: demo\nplan:\n  gpu_memory_gb: 4\n  target_spacing: [2.0, 1.0, 1.0]\n"
      "preprocess:\n  on_bad_case: stop\n",
      "spec.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->name, "demo");
  EXPECT_EQ(s->preset, "bdci2022");
  EXPECT_EQ(s->plan.planner, "v1");
  EXPECT_DOUBLE_EQ(s->plan.gpu_memory_gb, 4);
  EXPECT_DOUBLE_EQ((*s->plan.target_spacing)[0], 2.0);
  EXPECT_EQ(s->preprocess.on_bad_case, "stop");
}

TEST(SpecTest, CommandLinePresetWinsOverTheFile) {
  auto s = ParseJobSpec("preset: bdci2022\n", "spec.yaml", "nnunet");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->plan.planner, "v2");
}

TEST(SpecTest, NullTargetSpacingSelectsTheMedianRule) {
  auto s = ParseJobSpec("preset: bdci2022\nplan:\n  target_spacing: null\n", "spec.yaml");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->plan.target_spacing.has_value());
}

TEST(SpecTest, EveryProblemIsListedWithItsFieldPath) {
  auto s = ParseJobSpec(
      "plan:\n  gpu_memory_gb: -3\n  target_spacing: [1, 2]\n  planer: v1\n"
      "preprocess:\n  on_bad_case: ignore\n  threads: many\nbogus: 1\n",
      "bad.yaml");
  ASSERT_FALSE(s.ok());
  const std::string m = s.status().message();
  EXPECT_NE(m.find("bad.yaml"), std::string::npos);
  EXPECT_NE(m.find("plan.gpu_memory_gb: must be between"), std::string::npos) << m;
  EXPECT_NE(m.find("plan.target_spacing: expected a list of 3"), std::string::npos) << m;
  EXPECT_NE(m.find("plan.planer: unknown key"), std::string::npos) << m;
  EXPECT_NE(m.find("preprocess.on_bad_case: 'ignore' is not one of"), std::string::npos) << m;
  EXPECT_NE(m.find("preprocess.threads: expected a number"), std::string::npos) << m;
  EXPECT_NE(m.find("bogus: unknown key"), std::string::npos) << m;
  EXPECT_NE(m.find("6 problems"), std::string::npos) << m;
}

TEST(SpecTest, SchedulingAndInferenceSectionsHaveDefaults) {
  auto s = ParseJobSpec("", "spec.yaml");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->dataset.test_cases.empty());
  EXPECT_TRUE(s->inference.tta);
  EXPECT_DOUBLE_EQ(s->inference.step, 0.5);
  EXPECT_EQ(s->inference.batch, 2);
  EXPECT_EQ(s->inference.checkpoint, "final");
  EXPECT_TRUE(s->inference.postprocessing);
  EXPECT_EQ(s->resources.device, "any");
  EXPECT_EQ(s->resources.memory_mb, 0);
  EXPECT_EQ(s->resources.predict_shards, 2);
  EXPECT_EQ(s->retry.max_attempts, 3);
  EXPECT_DOUBLE_EQ(s->retry.backoff_seconds, 2);
  EXPECT_DOUBLE_EQ(s->retry.backoff_cap_seconds, 120);
  EXPECT_TRUE(s->folds.empty());
}

TEST(SpecTest, SchedulingAndInferenceSectionsAreRead) {
  auto s = ParseJobSpec(
      "dataset:\n  test_cases: [case_00003, case_00007]\n"
      "inference:\n  tta: false\n  step: 1\n  batch: 8\n  checkpoint: best\n  postprocessing: false\n"
      "resources:\n  device: cuda\n  memory_mb: 40000\n  threads: 4\n  fingerprint_shards: 1\n"
      "  preprocess_shards: 1000\n  predict_shards: 7\n"
      "retry:\n  max_attempts: 100\n  backoff_seconds: 0\n  backoff_cap_seconds: 0\n"
      "plan:\n  num_folds: 3\nfolds: [2, 0]\n",
      "spec.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->dataset.test_cases, (std::vector<std::string>{"case_00003", "case_00007"}));
  EXPECT_FALSE(s->inference.tta);
  EXPECT_DOUBLE_EQ(s->inference.step, 1.0);
  EXPECT_EQ(s->inference.batch, 8);
  EXPECT_EQ(s->inference.checkpoint, "best");
  EXPECT_FALSE(s->inference.postprocessing);
  EXPECT_EQ(s->resources.device, "cuda");
  EXPECT_EQ(s->resources.memory_mb, 40000);
  EXPECT_EQ(s->resources.threads, 4);
  EXPECT_EQ(s->resources.fingerprint_shards, 1);
  EXPECT_EQ(s->resources.preprocess_shards, 1000);
  EXPECT_EQ(s->resources.predict_shards, 7);
  EXPECT_EQ(s->retry.max_attempts, 100);
  EXPECT_DOUBLE_EQ(s->retry.backoff_seconds, 0);
  EXPECT_DOUBLE_EQ(s->retry.backoff_cap_seconds, 0);
  EXPECT_EQ(s->folds, (std::vector<int>{2, 0}));
}

TEST(SpecTest, BadSchedulingAndInferenceValuesAreAllListed) {
  auto s = ParseJobSpec(
      "dataset:\n  test_cases: [case_00001, [x], '']\n"
      "inference:\n  tta: maybe\n  step: 0\n  batch: 0\n  checkpoint: newest\n  postprocessing: 2\n"
      "resources:\n  device: tpu\n  memory_mb: -1\n  threads: -2\n  fingerprint_shards: 0\n"
      "  preprocess_shards: 1001\n  predict_shards: two\n  gpus: 1\n"
      "retry:\n  max_attempts: 0\n  backoff_seconds: -1\n  backoff_cap_seconds: 101\n"
      "folds: [0, -1, x]\n",
      "bad.yaml");
  ASSERT_FALSE(s.ok());
  const std::string m = s.status().message();
  for (const char* want : {
           "dataset.test_cases[1]: expected a string", "dataset.test_cases[2]: must not be empty",
           "inference.tta: expected true or false", "inference.step: must be > 0 and <= 1, got 0",
           "inference.batch: must be between 1 and", "inference.checkpoint: 'newest' is not one of: best, final, latest",
           "inference.postprocessing: expected true or false", "resources.device: 'tpu' is not one of: any, cpu, cuda",
           "resources.memory_mb: must be between 0 and", "resources.threads: must be between 0 and",
           "resources.fingerprint_shards: must be between 1 and 1000, got 0",
           "resources.preprocess_shards: must be between 1 and 1000, got 1001",
           "resources.predict_shards: expected a number", "resources.gpus: unknown key",
           "retry.max_attempts: must be between 1 and 100, got 0", "retry.backoff_seconds: must be between 0 and",
           "folds[1]: must be between 0 and 99, got -1", "folds[2]: expected a number",
       })
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n" << m;
  EXPECT_NE(m.find("18 problems"), std::string::npos) << m;
}

TEST(SpecTest, CrossFieldRulesNameTheFieldAndListEveryProblem) {
  auto s = ParseJobSpec(
      "dataset:\n  test_cases: [a, b, a]\nretry:\n  backoff_seconds: 30\n  backoff_cap_seconds: 10\n"
      "plan:\n  num_folds: 3\nfolds: [0, 3, 1, 0]\n",
      "cross.yaml");
  ASSERT_FALSE(s.ok());
  const std::string m = s.status().message();
  EXPECT_NE(m.find("cross.yaml"), std::string::npos) << m;
  EXPECT_NE(m.find("dataset.test_cases[2]: 'a' is listed twice"), std::string::npos) << m;
  EXPECT_NE(m.find("retry.backoff_cap_seconds: must be >= retry.backoff_seconds (30), got 10"), std::string::npos) << m;
  EXPECT_NE(m.find("folds[1]: fold 3 does not exist (plan.num_folds is 3: 0..2)"), std::string::npos) << m;
  EXPECT_NE(m.find("folds[3]: fold 0 is listed twice"), std::string::npos) << m;

  // With a value problem in the same file, the cross-field problems are listed too.
  auto t = ParseJobSpec("inference:\n  step: 2\nfolds: [5]\n", "both.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("inference.step: must be > 0 and <= 1, got 2"), std::string::npos);
  EXPECT_NE(t.status().message().find("folds[0]: fold 5 does not exist"), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("2 problems"), std::string::npos) << t.status().message();

  // ValidateJobSpec applies the same rules to a spec built in code.
  JobSpec js;
  js.folds = {0, 9};
  Status v = ValidateJobSpec(js, "code");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.message().find("folds[1]: fold 9 does not exist (plan.num_folds is 5"), std::string::npos) << v.message();
}

TEST(SpecTest, UnknownPresetAndBrokenYamlAreRejected) {
  auto a = ParseJobSpec("preset: fancy\n", "a.yaml");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("a.yaml: preset: unknown preset 'fancy'"), std::string::npos);
  auto b = ParseJobSpec("plan: [unclosed\n", "b.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("b.yaml: not valid YAML"), std::string::npos);
}

TEST(SpecTest, MissingFileIsNotFound) {
  auto s = LoadJobSpecFile("/nonexistent/spec.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("/nonexistent/spec.yaml"), std::string::npos);
}

}  // namespace
}  // namespace nephron
