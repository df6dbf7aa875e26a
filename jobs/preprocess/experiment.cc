#include "jobs/preprocess/experiment.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "common/fs_util.h"
#include "common/json_util.h"
#include "jobs/preprocess/fingerprint.h"
#include "jobs/preprocess/preprocessor.h"
#include "jobs/preprocess/splits.h"

namespace nephron::preprocess {

namespace fs = std::filesystem;

int StageReport::Count(const std::string& s) const {
  int n = 0;
  for (const auto& c : cases) n += c.status == s;
  return n;
}

std::string StageReport::Summary() const {
  std::ostringstream ss;
  ss << stage << ": " << Count("done") << " done, " << Count("already_done") << " already done, " << Count("failed")
     << " failed, " << Count("skipped") << " skipped";
  for (const auto& c : cases)
    if (c.status == "failed") ss << "\n  " << c.id << ": " << c.error;
  return ss.str();
}

Status ParseShard(const std::string& text, int* shard, int* num_shards) {
  int i = 0, n = 0;
  char extra;
  if (std::sscanf(text.c_str(), "%d/%d%c", &i, &n, &extra) != 2 || n < 1 || i < 0 || i >= n)
    return InvalidArgument("--shard: expected i/n with 0 <= i < n, got '" + text + "'");
  *shard = i;
  *num_shards = n;
  return Status::Ok();
}

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The spec's held-out test cases as experiment.json records them (sorted).
Json HeldOutIds(const JobSpec& spec) {
  std::vector<std::string> ids = spec.dataset.test_cases;
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Records the data root, preset and held-out test cases on first use; refuses
// different ones later (the splits and the plan were made without those cases).
Status BindExperiment(const StageOptions& o, const data::Dataset& d) {
  ExperimentPaths paths{o.experiment_dir};
  RETURN_IF_ERROR(MakeDirs(o.experiment_dir));
  const std::string abs_root = RecordedPath(o.data_root);
  const Json held_out = HeldOutIds(o.spec);
  if (FileExists(paths.ExperimentJson())) {
    ASSIGN_OR_RETURN(Json j, ReadJsonFile(paths.ExperimentJson()));
    const std::string prev = j.value("data_root", "");
    if (prev != abs_root)
      return FailedPrecondition(paths.ExperimentJson() + ": field data_root: this experiment was created for " + prev +
                                ", not " + abs_root + "; use a new --experiment folder");
    const std::string prev_preset = j.value("preset", "");
    if (prev_preset != o.spec.preset)
      return FailedPrecondition(paths.ExperimentJson() + ": field preset: this experiment uses preset " + prev_preset +
                                ", not " + o.spec.preset);
    const Json prev_held_out = j.value("test_cases", Json::array());
    if (prev_held_out != held_out)
      return FailedPrecondition(paths.ExperimentJson() + ": field test_cases: this experiment holds out " +
                                prev_held_out.dump() + " as test cases, but the spec's dataset.test_cases is " +
                                held_out.dump() + "; use the same spec, or a new --experiment folder");
    return Status::Ok();
  }
  Json j = {{"data_root", abs_root},
            {"layout", data::LayoutName(d.layout)},
            {"preset", o.spec.preset},
            {"name", o.spec.name},
            {"num_training_cases", d.training.size()},
            {"num_test_cases", d.test.size()},
            {"test_cases", held_out}};
  return WriteJsonFile(paths.ExperimentJson(), j);
}

Status WriteReport(const StageOptions& o, const StageReport& r) {
  ExperimentPaths paths{o.experiment_dir};
  RETURN_IF_ERROR(MakeDirs(paths.ReportsDir()));
  Json cases = Json::array();
  for (const auto& c : r.cases)
    cases.push_back({{"id", c.id}, {"status", c.status}, {"error", c.error}, {"seconds", c.seconds}});
  std::string name = r.stage;
  if (o.num_shards > 1) name += "_shard_" + std::to_string(o.shard) + "_of_" + std::to_string(o.num_shards);
  return WriteJsonFile(paths.ReportsDir() + "/" + name + ".json",
                       {{"stage", r.stage},
                        {"shard", o.shard},
                        {"num_shards", o.num_shards},
                        {"done", r.Count("done")},
                        {"already_done", r.Count("already_done")},
                        {"failed", r.Count("failed")},
                        {"skipped", r.Count("skipped")},
                        {"cases", cases}});
}

Result<data::Dataset> Discover(const StageOptions& o) {
  ASSIGN_OR_RETURN(data::Dataset d, data::DiscoverDataset(o.data_root, o.spec.dataset.layout));
  // Held-out test cases are invisible to fingerprint, plan, splits and preprocessing.
  RETURN_IF_ERROR(data::HoldOutTestCases(&d, o.spec.dataset.test_cases));
  if (d.training.empty())
    return NotFound(o.data_root + ": no training cases (cases with a segmentation" +
                    std::string(o.spec.dataset.test_cases.empty() ? "" : ", not in dataset.test_cases") + ") found");
  RETURN_IF_ERROR(BindExperiment(o, d));
  return d;
}

void Tell(const StageOptions& o, const std::string& stage, int64_t done, int64_t total, const std::string& msg) {
  if (o.progress) o.progress->Report(stage, done, total, msg);
}

std::string FixedSeconds(double s) {
  std::ostringstream ss;
  ss << std::fixed << std::setprecision(2) << s << " s";
  return ss.str();
}

// Fingerprints `cases` (those not yet done); failures recorded per case.
Result<StageReport> FingerprintCases(const StageOptions& o, const std::vector<data::CaseFiles>& cases,
                                     int64_t total_cases, int num_classes) {
  ExperimentPaths paths{o.experiment_dir};
  const std::string dir = paths.FingerprintDir();
  RETURN_IF_ERROR(MakeDirs(dir));
  StageReport report;
  report.stage = "fingerprint";
  int64_t i = 0;
  for (const auto& c : cases) {
    ++i;
    if (o.progress && o.progress->Cancelled()) return Cancelled("fingerprint cancelled");
    CaseOutcome out{c.id, "", "", 0};
    if (FileExists(dir + "/" + c.id + ".json")) {
      out.status = "already_done";
      report.cases.push_back(out);
      continue;
    }
    const auto t = Clock::now();
    auto f = FingerprintCase(c, o.spec.fingerprint, o.spec.plan.reorient, total_cases, num_classes - 1);
    Status st = f.ok() ? WriteCaseFingerprint(dir, *f) : f.status();
    out.seconds = Since(t);
    if (st.ok()) {
      std::remove((dir + "/" + c.id + ".failed.json").c_str());
      out.status = "done";
      Tell(o, "fingerprint", i, static_cast<int64_t>(cases.size()), c.id + " " + FixedSeconds(out.seconds));
    } else {
      out.status = "failed";
      out.error = st.message();
      RETURN_IF_ERROR(WriteJsonFile(dir + "/" + c.id + ".failed.json", {{"id", c.id}, {"error", st.message()}}));
      Tell(o, "fingerprint", i, static_cast<int64_t>(cases.size()), c.id + " FAILED: " + st.message());
      if (o.spec.preprocess.on_bad_case == "stop") {
        report.cases.push_back(out);
        RETURN_IF_ERROR(WriteReport(o, report));
        return st;
      }
    }
    report.cases.push_back(out);
  }
  return report;
}

// Merges when every training case has a fingerprint or a recorded failure.
// Returns NotFound listing missing cases otherwise.
Result<DatasetFingerprint> MergeIfComplete(const StageOptions& o, const data::Dataset& d) {
  ExperimentPaths paths{o.experiment_dir};
  std::vector<CaseFingerprint> fps;
  std::vector<std::string> missing;
  for (const auto& c : d.training) {
    auto f = ReadCaseFingerprint(paths.FingerprintDir(), c.id);
    if (f.ok()) {
      fps.push_back(std::move(f).value());
    } else if (!FileExists(paths.FingerprintDir() + "/" + c.id + ".failed.json")) {
      missing.push_back(c.id);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 10; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 10) list += ", ...";
    return NotFound("fingerprints missing for " + std::to_string(missing.size()) + " case(s): " + list);
  }
  if (fps.empty()) return FailedPrecondition("no case could be fingerprinted; see " + paths.FingerprintDir());
  DatasetFingerprint merged = MergeFingerprints(std::move(fps));
  RETURN_IF_ERROR(WriteJsonFile(paths.DatasetFingerprint(), FingerprintToJson(merged)));
  return merged;
}

}  // namespace

std::string PlanId(const std::string& plans_text) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char ch : plans_text) h = (h ^ ch) * 1099511628211ULL;
  std::ostringstream ss;
  ss << std::hex << std::setw(16) << std::setfill('0') << h;
  return ss.str();
}

Result<StageReport> RunFingerprint(const StageOptions& o) {
  ASSIGN_OR_RETURN(data::Dataset d, Discover(o));
  const auto shard = data::ShardCases(d.training, o.shard, o.num_shards);
  ASSIGN_OR_RETURN(StageReport r, FingerprintCases(o, shard, static_cast<int64_t>(d.training.size()), d.num_classes));
  RETURN_IF_ERROR(WriteReport(o, r));
  // The shard that completes the set writes the merged fingerprint.
  auto merged = MergeIfComplete(o, d);
  if (!merged.ok() && merged.status().code() != StatusCode::kNotFound) return merged.status();
  return r;
}

Result<Plan> RunPlan(const StageOptions& o) {
  ASSIGN_OR_RETURN(data::Dataset d, Discover(o));
  ExperimentPaths paths{o.experiment_dir};
  auto merged = MergeIfComplete(o, d);
  if (!merged.ok() && merged.status().code() == StatusCode::kNotFound) {
    StageOptions all = o;
    all.shard = 0;
    all.num_shards = 1;
    ASSIGN_OR_RETURN(StageReport r, FingerprintCases(all, d.training, static_cast<int64_t>(d.training.size()), d.num_classes));
    RETURN_IF_ERROR(WriteReport(all, r));
    merged = MergeIfComplete(o, d);
  }
  if (!merged.ok()) return merged.status();
  ASSIGN_OR_RETURN(Plan plan, MakePlan(*merged, o.spec, d.num_classes));
  const std::string name = fs::path(fs::absolute(o.data_root).lexically_normal()).filename().string();
  RETURN_IF_ERROR(WriteJsonFile(paths.Plans(), PlanToJson(plan, name)));
  if (FileExists(paths.Splits())) {
    ASSIGN_OR_RETURN(Json j, ReadJsonFile(paths.Splits()));
    std::vector<std::string> ids;
    for (const auto& c : d.training) ids.push_back(c.id);
    auto folds = SplitsFromJson(j, paths.Splits(), ids);
    if (!folds.ok()) return folds.status();
  } else {
    RETURN_IF_ERROR(WriteJsonFile(paths.Splits(),
                                  SplitsToJson(MakeSplits(merged->case_ids, o.spec.plan.num_folds, o.spec.plan.split_seed))));
  }
  Tell(o, "plan", 1, 1, "plans.json written");
  return plan;
}

Result<Plan> LoadPlan(const std::string& experiment_dir) {
  ExperimentPaths paths{experiment_dir};
  if (!FileExists(paths.Plans())) return FailedPrecondition(paths.Plans() + ": no plan yet; run `nephron plan` first");
  ASSIGN_OR_RETURN(Json j, ReadJsonFile(paths.Plans()));
  return PlanFromJson(j, paths.Plans());
}

Result<StageReport> RunPreprocess(const StageOptions& o) {
  ASSIGN_OR_RETURN(data::Dataset d, Discover(o));
  ExperimentPaths paths{o.experiment_dir};
  if (!FileExists(paths.Plans())) {
    auto p = RunPlan(o);
    if (!p.ok()) return p.status();
  }
  ASSIGN_OR_RETURN(Plan plan, LoadPlan(o.experiment_dir));
  ASSIGN_OR_RETURN(std::string plans_text, ReadFile(paths.Plans()));
  const std::string plan_id = PlanId(plans_text);
  const std::string out_dir = paths.PreprocessedDir();
  RETURN_IF_ERROR(MakeDirs(out_dir));

  StageReport report;
  report.stage = "preprocess";
  const auto shard = data::ShardCases(d.training, o.shard, o.num_shards);
  int64_t i = 0;
  for (const auto& c : shard) {
    ++i;
    if (o.progress && o.progress->Cancelled()) return Cancelled("preprocess cancelled");
    CaseOutcome out{c.id, "", "", 0};
    if (FileExists(paths.FingerprintDir() + "/" + c.id + ".failed.json")) {
      auto failed = ReadJsonFile(paths.FingerprintDir() + "/" + c.id + ".failed.json");
      out.status = "skipped";
      out.error = "fingerprint failed: " + (failed.ok() ? failed->value("error", "") : std::string("?"));
      report.cases.push_back(out);
      continue;
    }
    const std::string props = out_dir + "/" + c.id + ".json";
    if (FileExists(props)) {
      auto j = ReadJsonFile(props);
      if (j.ok() && j->value("plan_id", "") == plan_id) {
        out.status = "already_done";
        report.cases.push_back(out);
        continue;
      }
    }
    const auto t = Clock::now();
    auto pc = PreprocessCase(c, plan, o.spec.preprocess, o.threads);
    Status st = pc.status();
    if (pc.ok()) {
      const auto tw = Clock::now();
      pc->props.seconds.push_back({"write", 0});
      st = WritePreprocessedCase(out_dir, *pc, plan_id);
      // Record the write time in the properties file that was just written.
      if (st.ok()) {
        auto j = ReadJsonFile(props);
        if (j.ok()) {
          (*j)["seconds"]["write"] = Since(tw);
          (*j)["seconds"]["total"] = Since(t);
          st = WriteJsonFile(props, *j);
        }
      }
    }
    out.seconds = Since(t);
    if (st.ok()) {
      out.status = "done";
      Tell(o, "preprocess", i, static_cast<int64_t>(shard.size()), c.id + " " + FixedSeconds(out.seconds));
    } else {
      out.status = "failed";
      out.error = st.message();
      Tell(o, "preprocess", i, static_cast<int64_t>(shard.size()), c.id + " FAILED: " + st.message());
      if (o.spec.preprocess.on_bad_case == "stop") {
        report.cases.push_back(out);
        RETURN_IF_ERROR(WriteReport(o, report));
        return st;
      }
    }
    report.cases.push_back(out);
  }
  RETURN_IF_ERROR(WriteReport(o, report));
  return report;
}

}  // namespace nephron::preprocess
