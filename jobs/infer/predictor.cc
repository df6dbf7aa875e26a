#include "jobs/infer/predictor.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

#include "common/fs_util.h"
#include "common/json_util.h"
#include "jobs/data/nifti_io.h"
#include "jobs/data/npy.h"
#include "jobs/infer/engine.h"
#include "jobs/infer/export.h"
#include "jobs/infer/postprocess.h"
#include "jobs/preprocess/experiment.h"
#include "jobs/preprocess/splits.h"
#include "jobs/train/trainer.h"

namespace nephron::infer {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool IsNifti(const std::string& name) {
  auto ends = [&](const std::string& s) { return name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
  return ends(".nii.gz") || ends(".nii");
}

std::string IdFromFileName(std::string name) {
  for (const std::string ext : {".nii.gz", ".nii"})
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      name.resize(name.size() - ext.size());
      break;
    }
  if (name.size() > 5 && name.compare(name.size() - 5, 5, "_0000") == 0) name.resize(name.size() - 5);
  return name;
}

Status CheckCheckpointKind(const std::string& kind) {
  if (kind == "final" || kind == "best" || kind == "latest") return Status::Ok();
  return InvalidArgument("--checkpoint: expected final, best or latest, got '" + kind + "'");
}

struct Experiment {
  preprocess::Plan plan;
  std::string plan_id;
  std::vector<preprocess::Fold> folds;
};

Result<Experiment> LoadExperiment(const std::string& dir) {
  Experiment e;
  const preprocess::ExperimentPaths paths{dir};
  if (!fs::is_directory(dir)) return NotFound("--experiment " + dir + ": no such folder");
  if (!FileExists(paths.Plans())) return FailedPrecondition(paths.Plans() + ": missing; run `nephron plan` and `nephron train` first");
  ASSIGN_OR_RETURN(e.plan, preprocess::LoadPlan(dir));
  ASSIGN_OR_RETURN(std::string text, ReadFile(paths.Plans()));
  e.plan_id = preprocess::PlanId(text);
  ASSIGN_OR_RETURN(Json sj, ReadJsonFile(paths.Splits()));
  ASSIGN_OR_RETURN(e.folds, preprocess::SplitsFromJson(sj, paths.Splits()));
  return e;
}

Result<std::optional<PostprocessingDecision>> LoadDecision(const std::string& exp) {
  const std::string path = exp + "/postprocessing.json";
  if (!FileExists(path)) return std::optional<PostprocessingDecision>();
  ASSIGN_OR_RETURN(Json j, ReadJsonFile(path));
  ASSIGN_OR_RETURN(PostprocessingDecision d, DecisionFromJson(j, path));
  return std::optional<PostprocessingDecision>(std::move(d));
}

std::string FoldDir(const std::string& exp, int fold) { return exp + "/fold_" + std::to_string(fold); }

void Report(ProgressSink* p, const std::string& stage, size_t done, size_t total, const std::string& msg) {
  if (p) p->Report(stage, static_cast<int64_t>(done), static_cast<int64_t>(total), msg);
}

std::string Seconds(double s) {
  std::ostringstream ss;
  ss.setf(std::ios::fixed);
  ss.precision(1);
  ss << s << " s";
  return ss.str();
}

}  // namespace

Result<std::vector<data::CaseFiles>> DiscoverInputs(const std::string& input) {
  std::error_code ec;
  if (fs::is_regular_file(input, ec)) {
    if (!IsNifti(input)) return InvalidArgument("--input " + input + ": not a NIfTI file (expected .nii or .nii.gz)");
    // A KiTS19 case file (case_XXXXX/imaging.nii.gz) is named after its folder.
    const fs::path path(input);
    std::string id = IdFromFileName(path.filename().string());
    if (id == "imaging" && path.has_parent_path()) id = fs::absolute(path).parent_path().filename().string();
    return std::vector<data::CaseFiles>{{id, input, ""}};
  }
  if (!fs::is_directory(input, ec)) return NotFound("--input " + input + ": no such file or folder");
  std::vector<data::CaseFiles> cases;
  auto ds = data::DiscoverDataset(input, "auto");
  if (ds.ok()) {
    if (ds->layout == data::Layout::kNnunet) {
      cases = ds->test.empty() ? ds->training : ds->test;
    } else {
      cases = ds->training;
      cases.insert(cases.end(), ds->test.begin(), ds->test.end());
    }
  } else {
    for (const auto& entry : fs::directory_iterator(input, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && IsNifti(name)) cases.push_back({IdFromFileName(name), entry.path().string(), ""});
    }
    if (cases.empty())
      return NotFound("--input " + input + ": no images found (not a KiTS19 or nnU-Net raw folder: " +
                      ds.status().message() + "; and no .nii/.nii.gz files in it)");
  }
  for (auto& c : cases) c.label.clear();
  std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (size_t i = 1; i < cases.size(); ++i)
    if (cases[i].id == cases[i - 1].id)
      return InvalidArgument("--input " + input + ": two images for case " + cases[i].id + " (" + cases[i - 1].image +
                             ", " + cases[i].image + ")");
  return cases;
}

Result<std::vector<data::CaseFiles>> SelectInputs(const std::string& input, const CaseSelection& s) {
  std::vector<data::CaseFiles> cases;
  if (s.test_set) {
    if (!fs::is_directory(input))
      return InvalidArgument("--test-set: --input " + input + " must be the raw data set folder");
    auto ds = data::DiscoverDataset(input, s.layout);
    if (!ds.ok()) return ds.status().WithContext("--test-set: --input " + input);
    RETURN_IF_ERROR(data::HoldOutTestCases(&*ds, s.test_cases));
    cases = std::move(ds->test);
    for (auto& c : cases) c.label.clear();
  } else {
    ASSIGN_OR_RETURN(cases, DiscoverInputs(input));
  }
  if (!s.cases.empty()) {
    ASSIGN_OR_RETURN(cases, data::SelectCases(cases, s.cases, "--cases"));
  }
  if (s.num_shards < 1 || s.shard < 0 || s.shard >= s.num_shards)
    return InvalidArgument("--shard: expected i/n with 0 <= i < n, got " + std::to_string(s.shard) + "/" +
                           std::to_string(s.num_shards));
  return data::ShardCases(cases, s.shard, s.num_shards);
}

Result<std::vector<std::string>> RecordedTestCases(const std::string& experiment_dir, const std::string& data_root) {
  const std::string path = preprocess::ExperimentPaths{experiment_dir}.ExperimentJson();
  if (!FileExists(path)) return std::vector<std::string>();
  ASSIGN_OR_RETURN(Json j, ReadJsonFile(path));
  if (j.value("data_root", "") != RecordedPath(data_root) || !j.contains("test_cases"))
    return std::vector<std::string>();
  const std::string bad = path + ": field test_cases must be a list of case ids";
  if (!j["test_cases"].is_array()) return InvalidArgument(bad);
  std::vector<std::string> ids;
  for (const auto& id : j["test_cases"]) {
    if (!id.is_string()) return InvalidArgument(bad);
    ids.push_back(id.get<std::string>());
  }
  return ids;
}

Status CheckHeldOutList(const std::string& experiment_dir, const std::string& data_root,
                        std::vector<std::string> test_cases) {
  const std::string path = preprocess::ExperimentPaths{experiment_dir}.ExperimentJson();
  if (!FileExists(path)) return Status::Ok();
  ASSIGN_OR_RETURN(Json j, ReadJsonFile(path));
  if (j.value("data_root", "") != RecordedPath(data_root)) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<std::string> recorded, RecordedTestCases(experiment_dir, data_root));
  std::sort(recorded.begin(), recorded.end());
  std::sort(test_cases.begin(), test_cases.end());
  if (recorded == test_cases) return Status::Ok();
  return FailedPrecondition("--test-set: " + path + " records dataset.test_cases " + Json(recorded).dump() +
                            " for this data set, but the spec holds out " + Json(test_cases).dump() +
                            "; another test set would include cases the folds were trained on");
}

std::string PredictionReportPath(const std::string& output_dir, const CaseSelection& s) {
  if (s.num_shards <= 1) return output_dir + "/prediction.json";
  return output_dir + "/prediction_shard_" + std::to_string(s.shard) + "_of_" + std::to_string(s.num_shards) + ".json";
}

Result<std::vector<int>> ResolveFolds(const std::string& exp, const std::string& folds, const std::string& checkpoint) {
  RETURN_IF_ERROR(CheckCheckpointKind(checkpoint));
  ASSIGN_OR_RETURN(Json sj, ReadJsonFile(preprocess::ExperimentPaths{exp}.Splits()));
  ASSIGN_OR_RETURN(auto splits, preprocess::SplitsFromJson(sj, preprocess::ExperimentPaths{exp}.Splits()));
  const int n = static_cast<int>(splits.size());
  auto ckpt = [&](int k) { return FoldDir(exp, k) + "/checkpoint_" + checkpoint + ".pt"; };
  std::vector<int> out;
  if (folds == "all") {
    for (int k = 0; k < n; ++k)
      if (FileExists(ckpt(k))) out.push_back(k);
    if (out.empty())
      return FailedPrecondition(exp + ": no fold has checkpoint_" + checkpoint + ".pt; train first (`nephron train --fold K`)");
    return out;
  }
  std::stringstream ss(folds);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
      return InvalidArgument("--folds: expected 'all' or a list like 0,1,2, got '" + folds + "'");
    const int k = std::stoi(item);
    if (k >= n) return InvalidArgument("--folds: fold " + item + " does not exist (splits_final.json has " + std::to_string(n) + ")");
    if (!FileExists(ckpt(k))) return NotFound(ckpt(k) + ": missing; fold " + item + " is not trained");
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  }
  if (out.empty()) return InvalidArgument("--folds: empty list");
  return out;
}

Result<PredictReport> PredictCases(const PredictOptions& o) {
  RETURN_IF_ERROR(train::CheckDevice(o.run.device));
  ASSIGN_OR_RETURN(Experiment exp, LoadExperiment(o.experiment_dir));
  PredictReport report;
  ASSIGN_OR_RETURN(report.folds, ResolveFolds(o.experiment_dir, o.folds, o.run.checkpoint));
  if (o.select.test_set) RETURN_IF_ERROR(CheckHeldOutList(o.experiment_dir, o.input, o.select.test_cases));
  ASSIGN_OR_RETURN(std::vector<data::CaseFiles> cases, SelectInputs(o.input, o.select));
  Ensemble ensemble(exp.plan, o.run);
  for (int k : report.folds) RETURN_IF_ERROR(ensemble.AddFold(o.experiment_dir, k, exp.plan_id));
  std::optional<PostprocessingDecision> decision;
  if (o.postprocess) {
    ASSIGN_OR_RETURN(decision, LoadDecision(o.experiment_dir));
  }
  report.postprocessed = decision.has_value();
  RETURN_IF_ERROR(MakeDirs(o.output_dir));

  Json jcases = Json::array();
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    CaseOutput out;
    out.label_path = o.output_dir + "/" + c.id + ".nii.gz";
    if (o.save_probabilities) {
      out.probabilities_path = o.output_dir + "/" + c.id + "_probabilities.npy";
      out.properties_path = o.output_dir + "/" + c.id + "_properties.json";
    }
    out.postprocessing = decision ? &*decision : nullptr;
    ASSIGN_OR_RETURN(CaseTiming t, PredictCaseFile(ensemble, exp.plan, c, out, o.run.threads, o.progress));
    report.cases.push_back({c.id, c.image, out.label_path, t.Total()});
    jcases.push_back({{"id", c.id}, {"image", c.image}, {"output", out.label_path}, {"seconds_preprocess", t.preprocess},
                      {"seconds_predict", t.predict}, {"seconds_export", t.export_}, {"seconds_write", t.write}});
    Report(o.progress, "predict", i + 1, cases.size(), c.id + " " + Seconds(t.Total()));
  }
  Json summary = {{"experiment", o.experiment_dir},
                  {"plan_id", exp.plan_id},
                  {"folds", report.folds},
                  {"checkpoint", o.run.checkpoint},
                  {"tta", o.run.tta},
                  {"step", o.run.step},
                  {"batch", o.run.batch},
                  {"device", o.run.device},
                  {"postprocessing", decision ? DecisionToJson(*decision) : Json(nullptr)},
                  {"test_set", o.select.test_set},
                  {"shard", o.select.shard},
                  {"num_shards", o.select.num_shards},
                  {"cases", jcases}};
  RETURN_IF_ERROR(WriteJsonFile(PredictionReportPath(o.output_dir, o.select), summary));
  return report;
}

Result<evaluate::Summary> ValidateFold(const ValidateOptions& o) {
  RETURN_IF_ERROR(train::CheckDevice(o.run.device));
  ASSIGN_OR_RETURN(Experiment exp, LoadExperiment(o.experiment_dir));
  if (o.fold < 0 || o.fold >= static_cast<int>(exp.folds.size()))
    return InvalidArgument("--fold " + std::to_string(o.fold) + ": splits_final.json has " +
                           std::to_string(exp.folds.size()) + " folds");
  RETURN_IF_ERROR(CheckCheckpointKind(o.run.checkpoint));
  Ensemble ensemble(exp.plan, o.run);
  RETURN_IF_ERROR(ensemble.AddFold(o.experiment_dir, o.fold, exp.plan_id));
  const std::string pre = preprocess::ExperimentPaths{o.experiment_dir}.PreprocessedDir();
  const std::string dir = FoldDir(o.experiment_dir, o.fold) + "/validation";
  RETURN_IF_ERROR(MakeDirs(dir));
  const auto& ids = exp.folds[static_cast<size_t>(o.fold)].val;
  std::vector<evaluate::CaseMetrics> metrics;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    const auto t0 = Clock::now();
    ASSIGN_OR_RETURN(Json pj, ReadJsonFile(pre + "/" + id + ".json"));
    ASSIGN_OR_RETURN(preprocess::CaseProperties props, preprocess::PropertiesFromJson(pj, pre + "/" + id + ".json"));
    ASSIGN_OR_RETURN(data::NpyArray image, data::ReadNpy(pre + "/" + id + ".npy"));
    const auto& s = props.shape_after_resample;
    if (image.dtype != "<f4" || image.shape != std::vector<int64_t>{1, s[0], s[1], s[2]})
      return DataLoss(pre + "/" + id + ".npy: array does not match shape_after_resampling in " + id + ".json");
    auto probs = ensemble.Predict(image.As<float>(), s, o.progress);
    if (!probs.ok()) return probs.status().WithContext("case " + id);
    image = data::NpyArray();
    ASSIGN_OR_RETURN(data::Volume<uint8_t> pred,
                     ExportSegmentation(probs->data_ptr<float>(), exp.plan.num_classes, props, exp.plan, o.run.threads));
    RETURN_IF_ERROR(data::WriteImage(pred, dir + "/" + id + ".nii.gz"));
    ASSIGN_OR_RETURN(data::Volume<uint8_t> gt, data::ReadLabels(props.label_path, exp.plan.num_classes - 1));
    RETURN_IF_ERROR(evaluate::CheckSameGeometry(pred.geometry, pred.shape, gt.geometry, gt.shape,
                                                dir + "/" + id + ".nii.gz", props.label_path));
    metrics.push_back(evaluate::KitsMetrics(id, pred.data, gt.data));
    Report(o.progress, "validate", i + 1, ids.size(), id + " kidney " + std::to_string(metrics.back().kidney_dice).substr(0, 6) +
                                                       " tumour " + std::to_string(metrics.back().tumor_dice).substr(0, 6) +
                                                       " " + Seconds(Since(t0)));
  }
  evaluate::Summary summary = evaluate::Summarize(std::move(metrics));
  RETURN_IF_ERROR(evaluate::WriteSummary(summary, dir + "/summary.json"));
  return summary;
}

Result<CrossValReport> CrossValidate(const CrossValOptions& o) {
  const std::string& exp_dir = o.experiment_dir;
  ProgressSink* progress = o.progress;
  ASSIGN_OR_RETURN(Experiment exp, LoadExperiment(exp_dir));
  const std::string pre = preprocess::ExperimentPaths{exp_dir}.PreprocessedDir();
  CrossValReport r;
  struct Item {
    std::string id, pred, gt;
  };
  std::vector<Item> items;
  for (int k = 0; k < static_cast<int>(exp.folds.size()); ++k) {
    const std::string dir = FoldDir(exp_dir, k) + "/validation";
    if (!FileExists(dir + "/summary.json")) continue;
    r.folds.push_back(k);
    for (const auto& id : exp.folds[static_cast<size_t>(k)].val) {
      ASSIGN_OR_RETURN(Json pj, ReadJsonFile(pre + "/" + id + ".json"));
      items.push_back({id, dir + "/" + id + ".nii.gz", pj.value("label", std::string())});
    }
  }
  if (r.folds.empty())
    return FailedPrecondition(exp_dir + ": no fold has been validated (fold_K/validation/summary.json); run `nephron validate --fold K`");
  const int max_label = exp.plan.num_classes - 1;
  PostprocessingDecider decider(exp.plan.num_classes);
  std::vector<evaluate::CaseMetrics> raw, post;
  for (size_t i = 0; i < items.size(); ++i) {
    ASSIGN_OR_RETURN(data::Volume<uint8_t> pred, data::ReadLabels(items[i].pred, max_label));
    ASSIGN_OR_RETURN(data::Volume<uint8_t> gt, data::ReadLabels(items[i].gt, max_label));
    RETURN_IF_ERROR(evaluate::CheckSameGeometry(pred.geometry, pred.shape, gt.geometry, gt.shape, items[i].pred, items[i].gt));
    raw.push_back(evaluate::KitsMetrics(items[i].id, pred.data, gt.data));
    decider.AddCase(items[i].id, pred.data, gt.data, pred.shape);
    Report(progress, "crossval", i + 1, 2 * items.size(), items[i].id);
  }
  PostprocessingDecision decision = decider.Decide();
  if (!o.postprocessing) {
    decision.largest_foreground = false;
    decision.largest_per_class.clear();
    decision.report["disabled_by_spec"] = true;  // inference.postprocessing: false
  }
  for (size_t i = 0; i < items.size(); ++i) {
    ASSIGN_OR_RETURN(data::Volume<uint8_t> pred, data::ReadLabels(items[i].pred, max_label));
    ASSIGN_OR_RETURN(data::Volume<uint8_t> gt, data::ReadLabels(items[i].gt, max_label));
    ApplyPostprocessing(decision, &pred.data, pred.shape);
    post.push_back(evaluate::KitsMetrics(items[i].id, pred.data, gt.data));
    Report(progress, "crossval", items.size() + i + 1, 2 * items.size(), items[i].id + " (postprocessed)");
  }
  r.raw = evaluate::Summarize(std::move(raw));
  r.postprocessed = evaluate::Summarize(std::move(post));
  RETURN_IF_ERROR(MakeDirs(exp_dir + "/crossval"));
  RETURN_IF_ERROR(evaluate::WriteSummary(r.raw, exp_dir + "/crossval/summary.json"));
  RETURN_IF_ERROR(evaluate::WriteSummary(r.postprocessed, exp_dir + "/crossval/summary_postprocessed.json"));
  Json dj = DecisionToJson(decision);
  dj["folds"] = r.folds;
  r.decision_path = exp_dir + "/postprocessing.json";
  RETURN_IF_ERROR(WriteJsonFile(r.decision_path, dj));
  return r;
}

}  // namespace nephron::infer
