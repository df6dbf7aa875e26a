#include "jobs/evaluate/evaluate.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/fs_util.h"
#include "jobs/data/dataset.h"
#include "jobs/data/nifti_io.h"
#include "jobs/evaluate/overlay.h"

namespace nephron::evaluate {

namespace fs = std::filesystem;

namespace {

struct GtFiles {
  std::string label, image;
};

// "<id>" when `name` is "<id>.nii.gz" or "<id>.nii", else "".
std::string NiftiStem(const std::string& name) {
  for (const std::string ext : {".nii.gz", ".nii"})
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
      return name.substr(0, name.size() - ext.size());
  return "";
}

// id -> path of every NIfTI file directly in `dir` (sorted by id).
std::map<std::string, std::string> ListNifti(const fs::path& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string id = NiftiStem(e.path().filename().string());
    if (!id.empty()) out.emplace(id, e.path().string());
  }
  return out;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool HasKitsCases(const fs::path& root) {
  for (const fs::path& d : {root, root / "data"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.is_directory() && e.path().filename().string().rfind("case_", 0) == 0) return true;
  }
  return false;
}

// `unlabelled` receives the ids of a data set's cases without a label (its
// test cases), which may have been predicted but cannot be scored.
Result<std::map<std::string, GtFiles>> FindGroundTruth(const std::string& gt_dir, std::set<std::string>* unlabelled) {
  const fs::path root(gt_dir);
  if (!fs::is_directory(root)) return NotFound("--gt " + gt_dir + ": ground-truth folder does not exist");
  std::map<std::string, GtFiles> gt;
  if (fs::exists(root / "dataset.json") || HasKitsCases(root)) {
    ASSIGN_OR_RETURN(data::Dataset d, data::DiscoverDataset(gt_dir, "auto"));
    for (const auto& c : d.training) gt[c.id] = {c.label, c.image};
    for (const auto& c : d.test) unlabelled->insert(c.id);
  } else if (fs::is_directory(root / "labelsTr")) {
    for (const auto& [id, path] : ListNifti(root / "labelsTr")) {
      const std::string ext = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0 ? ".nii.gz" : ".nii";
      const fs::path image = root / "imagesTr" / (id + "_0000" + ext);
      gt[id] = {path, fs::exists(image) ? image.string() : ""};
    }
  } else {
    for (const auto& [id, path] : ListNifti(root)) gt[id] = {path, ""};
  }
  if (gt.empty())
    return NotFound("--gt " + gt_dir + ": no ground-truth label maps found (looked for case_XXXXX/segmentation.nii.gz, "
                    "labelsTr/<id>.nii.gz and <id>.nii.gz)");
  return gt;
}

void Report(ProgressSink* p, int64_t done, int64_t total, const std::string& msg) {
  if (p) {
    p->Report("evaluate", done, total, msg);
  } else if (done == 0) {
    std::fprintf(stderr, "nephron evaluate: %s\n", msg.c_str());
  }
}

// Scores one case and writes its preview.
Result<CaseMetrics> EvaluateCase(const EvalCase& c, const std::string& preview_path) {
  ASSIGN_OR_RETURN(data::Volume<uint8_t> pred, data::ReadLabels(c.pred, 2));
  ASSIGN_OR_RETURN(data::Volume<uint8_t> gt, data::ReadLabels(c.gt, 2));
  RETURN_IF_ERROR(CheckSameGeometry(pred.geometry, pred.shape, gt.geometry, gt.shape, c.pred, c.gt));
  CaseMetrics m = KitsMetrics(c.id, pred.data, gt.data);
  if (preview_path.empty()) return m;
  // An image stored on another grid than its labels is not shown.
  data::Volume<float> image;
  bool have_image = false;
  if (!c.image.empty()) {
    ASSIGN_OR_RETURN(data::ImageHeader h, data::ReadHeader(c.image));
    if (CheckSameGeometry(h.geometry, h.shape, gt.geometry, gt.shape, c.image, c.gt).ok()) {
      ASSIGN_OR_RETURN(image, data::ReadImage(c.image));
      have_image = true;
    }
  }
  RETURN_IF_ERROR(WritePreview(have_image ? &image : nullptr, pred, gt, preview_path));
  return m;
}

}  // namespace

std::string SummaryPath(const EvaluateOptions& o) {
  return o.out.empty() ? (fs::path(o.pred_dir) / "evaluation.json").string() : o.out;
}

std::string PreviewsDir(const EvaluateOptions& o) {
  return o.previews_dir.empty() ? (fs::path(o.pred_dir) / "previews").string() : o.previews_dir;
}

Result<std::vector<EvalCase>> MatchCases(const std::string& pred_dir, const std::string& gt_dir,
                                         std::vector<std::string>* unmatched_gt,
                                         std::vector<std::string>* unlabelled_pred) {
  if (!fs::is_directory(pred_dir)) return NotFound("--pred " + pred_dir + ": prediction folder does not exist");
  const std::map<std::string, std::string> preds = ListNifti(pred_dir);
  if (preds.empty()) return NotFound("--pred " + pred_dir + ": no <id>.nii.gz predictions found");
  std::set<std::string> unlabelled;
  ASSIGN_OR_RETURN(auto gt, FindGroundTruth(gt_dir, &unlabelled));
  std::vector<EvalCase> cases;
  if (unlabelled_pred) unlabelled_pred->clear();
  for (const auto& [id, path] : preds) {
    auto it = gt.find(id);
    if (it == gt.end() && unlabelled.count(id)) {
      if (unlabelled_pred) unlabelled_pred->push_back(id);
      continue;
    }
    if (it == gt.end()) return NotFound(path + ": no ground truth for case " + id + " in " + gt_dir);
    cases.push_back({id, path, it->second.label, it->second.image});
  }
  if (cases.empty())
    return NotFound("--pred " + pred_dir + ": none of the " + std::to_string(preds.size()) +
                    " prediction(s) has ground truth in " + gt_dir + " (all are of unlabelled cases)");
  if (unmatched_gt) {
    unmatched_gt->clear();
    for (const auto& [id, files] : gt)
      if (!preds.count(id)) unmatched_gt->push_back(id);
  }
  return cases;
}

Result<Summary> EvaluateFolders(const EvaluateOptions& o) {
  const std::string summary_path = SummaryPath(o);
  if (!EndsWith(summary_path, ".json") && !EndsWith(summary_path, ".csv"))
    return InvalidArgument("--out " + summary_path + ": summary path must end in .json or .csv");
  std::vector<std::string> unmatched, unlabelled;
  ASSIGN_OR_RETURN(std::vector<EvalCase> cases, MatchCases(o.pred_dir, o.gt_dir, &unmatched, &unlabelled));
  const int64_t total = static_cast<int64_t>(cases.size());
  auto warn = [&](const std::vector<std::string>& list, const std::string& what) {
    if (list.empty()) return;
    std::string ids;
    for (size_t i = 0; i < list.size() && i < 20; ++i) ids += (i ? ", " : "") + list[i];
    if (list.size() > 20) ids += ", ...";
    Report(o.progress, 0, total, "warning: " + std::to_string(list.size()) + " " + what + " skipped: " + ids);
  };
  warn(unmatched, "ground-truth case(s) without a prediction");
  warn(unlabelled, "prediction(s) of unlabelled cases (no ground truth)");
  // Headers first: a geometry mismatch anywhere stops the run before any output.
  for (const auto& c : cases) {
    ASSIGN_OR_RETURN(data::ImageHeader hp, data::ReadHeader(c.pred));
    ASSIGN_OR_RETURN(data::ImageHeader hg, data::ReadHeader(c.gt));
    RETURN_IF_ERROR(CheckSameGeometry(hp.geometry, hp.shape, hg.geometry, hg.shape, c.pred, c.gt));
  }
  const std::string previews = o.previews ? PreviewsDir(o) : "";
  if (o.previews) RETURN_IF_ERROR(MakeDirs(previews));

  int threads = o.threads > 0 ? o.threads : std::min(2, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  threads = static_cast<int>(std::min<int64_t>(threads, total));
  std::vector<CaseMetrics> metrics(cases.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mu;
  Status first_error;
  auto worker = [&] {
    for (size_t i = next++; i < cases.size(); i = next++) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!first_error.ok()) return;
        if (o.progress && o.progress->Cancelled()) first_error = Cancelled("evaluation cancelled");
        if (!first_error.ok()) return;
      }
      const std::string png = previews.empty() ? "" : (fs::path(previews) / (cases[i].id + ".png")).string();
      Result<CaseMetrics> m = EvaluateCase(cases[i], png);
      std::lock_guard<std::mutex> lock(mu);
      if (!m.ok()) {
        if (first_error.ok()) first_error = m.status().WithContext("case " + cases[i].id);
        return;
      }
      metrics[i] = *m;
      char msg[160];
      std::snprintf(msg, sizeof(msg), "%s kidney %.4f tumour %.4f", cases[i].id.c_str(), m->kidney_dice, m->tumor_dice);
      if (o.progress) o.progress->Report("evaluate", ++done, total, msg);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (!first_error.ok()) return first_error;

  Summary s = Summarize(std::move(metrics));
  RETURN_IF_ERROR(WriteSummary(s, summary_path));
  return s;
}

}  // namespace nephron::evaluate
