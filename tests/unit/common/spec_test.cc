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
