// The client's pure pieces: the dataset-root edit of submitted specs, the
// progress lines of `nephron local`, the text tables, the demo spec.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "common/spec.h"
#include "coordinator/client/api_client.h"
#include "coordinator/client/demo_spec.h"
#include "coordinator/client/format.h"
#include "coordinator/client/local_monitor.h"
#include "coordinator/client/spec_text.h"

namespace nephron::client {
namespace {

TEST(ResolveDatasetRootTest, RelativeRootBecomesAbsoluteInPlaceKeepingComments) {
  EXPECT_EQ(ResolveDatasetRoot("# top\ndataset:\n  root: data/kits  # here\nname: x\n", "/specs"),
            "# top\ndataset:\n  root: \"/specs/data/kits\"  # here\nname: x\n");
  EXPECT_EQ(ResolveDatasetRoot("dataset: {root: ../d, layout: auto}\n", "/a/b"),
            "dataset: {root: \"/a/d\", layout: auto}\n");
  EXPECT_EQ(ResolveDatasetRoot("dataset:\n  root: 'it''s'\n", "/s"), "dataset:\n  root: \"/s/it's\"\n");
  EXPECT_EQ(ResolveDatasetRoot("dataset:\n  root: \"q\\\"d\"\n", "/s"), "dataset:\n  root: \"/s/q\\\"d\"\n");
}

TEST(ResolveDatasetRootTest, LeavesAbsoluteMissingAndInvalidAlone) {
  for (const std::string text : {"dataset:\n  root: /abs/data\n", "name: x\n", "dataset: [1, 2\n", "", "dataset: 3\n"})
    EXPECT_EQ(ResolveDatasetRoot(text, "/s"), text);
}

TEST(ResolveDatasetRootTest, MultiLineScalarIsReEmitted) {
  const std::string out = ResolveDatasetRoot("dataset:\n  root: >-\n    data\nname: x\n", "/s");
  YAML::Node n = YAML::Load(out);
  EXPECT_EQ(n["dataset"]["root"].as<std::string>(), "/s/data");
  EXPECT_EQ(n["name"].as<std::string>(), "x");
}

TEST(PathSegmentTest, EncodesEverythingButUnreserved) {
  EXPECT_EQ(PathSegment("local-1_a.b~"), "local-1_a.b~");
  EXPECT_EQ(PathSegment("node a/b:c"), "node%20a%2Fb%3Ac");
}

Json Snapshot(const std::string& state, int attempt, const std::string& worker = "", double progress = 0,
              const std::string& message = "", const std::string& error = "") {
  return Json{{"tasks", Json::array({Json{{"id", 7},
                                          {"name", "train fold 0"},
                                          {"state", state},
                                          {"attempt", attempt},
                                          {"worker", worker},
                                          {"progress", progress},
                                          {"progress_message", message},
                                          {"error", error},
                                          {"started_ms", 1000},
                                          {"finished_ms", 126000}},
                                     Json{{"id", 8}, {"name", "validate fold 0"}, {"state", "pending"}}})}};
}

TEST(ExperimentMonitorTest, OneLinePerStateChangeAndThrottledProgress) {
  ExperimentMonitor m(10'000);
  // Pending tasks are not announced.
  EXPECT_EQ(m.Update(Snapshot("pending", 0), 0), "");
  std::string out = m.Update(Snapshot("running", 1, "local-1", 0.1, "epoch 1/8"), 1000);
  EXPECT_NE(out.find("] train fold 0: running on local-1 (attempt 1)\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("validate"), std::string::npos);
  // No change, and less than 10 s since the first snapshot: nothing.
  EXPECT_EQ(m.Update(Snapshot("running", 1, "local-1", 0.2, "epoch 2/8"), 5000), "");
  out = m.Update(Snapshot("running", 1, "local-1", 0.42, "epoch 4/8"), 10'000);
  EXPECT_NE(out.find("  train fold 0: 42% epoch 4/8\n"), std::string::npos) << out;
  EXPECT_EQ(m.Update(Snapshot("running", 1, "local-1", 0.5, "epoch 5/8"), 12'000), "");
  out = m.Update(Snapshot("pending", 1, "local-1", 0, "", "worker local-1 lost"), 13'000);
  EXPECT_NE(out.find("train fold 0: back in the queue after attempt 1: worker local-1 lost"), std::string::npos) << out;
  out = m.Update(Snapshot("running", 2, "local-2"), 14'000);
  EXPECT_NE(out.find("running on local-2 (attempt 2)"), std::string::npos) << out;
  out = m.Update(Snapshot("succeeded", 2, "local-2"), 15'000);
  EXPECT_NE(out.find("train fold 0: succeeded in 2m05s"), std::string::npos) << out;
}

TEST(ExperimentMonitorTest, FailureShowsTheErrorsFirstLine) {
  ExperimentMonitor m;
  m.Update(Snapshot("running", 3, "w"), 0);
  const std::string out = m.Update(Snapshot("failed", 3, "w", 0, "", "case_00003: bad NIfTI\nstack..."), 1000);
  EXPECT_NE(out.find("train fold 0: failed (attempt 3): case_00003: bad NIfTI\n"), std::string::npos) << out;
}

TEST(FormatTest, DurationsNumbersAndTables) {
  EXPECT_EQ(Duration(42), "42s");
  EXPECT_EQ(Duration(185), "3m05s");
  EXPECT_EQ(Duration(7620), "2h07m");
  EXPECT_EQ(Fixed(0.91234), "0.912");
  EXPECT_EQ(Fixed(nullptr), "-");
  EXPECT_EQ(Percent(0.425), "42%");
  TextTable t({"A", "LONGER"});
  t.Add({"wide cell", "x"});
  t.Section("stage");
  t.Add({"b", "y"});
  EXPECT_EQ(t.Render(), "A          LONGER\nwide cell  x\nstage\nb          y\n");
}

TEST(FormatTest, ResultsTableShowsFoldsCasesAndMeans) {
  const Json r = Json::parse(R"({"experiment_id": 3, "name": "demo", "state": "succeeded",
    "folds": [{"fold": 0, "kidney_dice": 0.9, "tumor_dice": 0.5, "composite": 0.7, "cases": 4}],
    "cv": {"kidney_dice": 0.9, "tumor_dice": 0.5, "composite": 0.7},
    "cases": [{"id": "case_00020", "kidney_dice": 0.95, "tumor_dice": null, "composite": 0.95}],
    "kidney_dice": 0.95, "tumor_dice": null, "composite": 0.95, "predictions_dir": "/p"})");
  const std::string out = ResultsTable(r);
  for (const char* part : {"experiment 3 demo: succeeded", "case_00020", "0.950", "0.700", "mean", "predictions: /p"})
    EXPECT_NE(out.find(part), std::string::npos) << part << "\n" << out;
  EXPECT_EQ(ResultsTable(Json::object()).find("experiment - -"), 0u);  // never throws on missing fields
}

TEST(DemoSpecTest, IsAValidSpecOnTheGivenDataWithFourTestCases) {
  auto spec = ParseJobSpec(DemoSpec("/work dir/data \"x\""), "demo.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->dataset.root, "/work dir/data \"x\"");
  EXPECT_EQ(spec->dataset.test_cases.size(), 4u);
  EXPECT_EQ(spec->name, "demo");
  EXPECT_EQ(kDemoCases, 24);
}

}  // namespace
}  // namespace nephron::client
