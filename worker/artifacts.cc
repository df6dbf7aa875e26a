#include "worker/artifacts.h"

#include <filesystem>

#include "common/file_transfer.h"

namespace nephron::worker {

namespace fs = std::filesystem;

std::vector<std::string> OutputRoots(const proto::AssignMsg& a) {
  const std::string fold = "fold_" + std::to_string(a.fold);
  if (a.kind == "fingerprint") return {"fingerprint", "experiment.json", "reports"};
  if (a.kind == "plan") return {"plans.json", "splits_final.json", "dataset_fingerprint.json", "experiment.json"};
  if (a.kind == "preprocess") return {"nnUNetPlans_3d_fullres", "reports"};
  if (a.kind == "train")
    return {fold + "/checkpoint_final.pt", fold + "/checkpoint_best.pt", fold + "/checkpoint_latest.pt",
            fold + "/training_log.jsonl"};
  if (a.kind == "validate") return {fold + "/validation"};
  if (a.kind == "crossval") return {"crossval", "postprocessing.json"};
  if (a.kind == "predict") return {"predictions"};
  if (a.kind == "evaluate") return {"predictions/evaluation.json", "predictions/evaluation.csv", "predictions/previews"};
  return {};
}

std::vector<std::string> ExperimentInputs(const proto::AssignMsg& a) {
  std::vector<std::string> p = {"plans.json", "splits_final.json", "dataset_fingerprint.json", "experiment.json"};
  const std::string fold = "fold_" + std::to_string(a.fold) + "/*";
  auto add = [&p](std::initializer_list<const char*> more) { p.insert(p.end(), more.begin(), more.end()); };
  if (a.kind == "fingerprint" || a.kind == "plan") add({"fingerprint/*"});
  if (a.kind == "preprocess" || a.kind == "train" || a.kind == "validate" || a.kind == "crossval")
    add({"nnUNetPlans_3d_fullres/*"});
  if (a.kind == "train" || a.kind == "validate") p.push_back(fold);
  if (a.kind == "crossval") add({"fold_*/validation/*", "crossval/*", "postprocessing.json"});
  if (a.kind == "predict") {
    // The checkpoint the spec names (every kind when the coordinator did not say).
    if (a.checkpoint.empty())
      add({"fold_*/checkpoint_final.pt", "fold_*/checkpoint_best.pt", "fold_*/checkpoint_latest.pt"});
    else
      p.push_back("fold_*/checkpoint_" + a.checkpoint + ".pt");
    add({"postprocessing.json", "predictions/*"});
  }
  if (a.kind == "evaluate") add({"predictions/*"});
  return p;
}

bool ReadsRawData(const proto::AssignMsg& a) {
  return a.kind == "fingerprint" || a.kind == "plan" || a.kind == "preprocess" || a.kind == "predict" ||
         a.kind == "evaluate";
}

namespace {

void Stamp(const fs::path& base, const fs::path& p, Snapshot* out) {
  std::error_code ec;
  const auto st = fs::status(p, ec);
  if (ec) return;
  if (fs::is_regular_file(st)) {
    FileStamp s;
    s.size = static_cast<int64_t>(fs::file_size(p, ec));
    s.mtime_ns = fs::last_write_time(p, ec).time_since_epoch().count();
    (*out)[fs::relative(p, base, ec).string()] = s;
  } else if (fs::is_directory(st)) {
    for (const auto& e : fs::recursive_directory_iterator(p, ec))
      if (e.is_regular_file(ec)) Stamp(base, e.path(), out);
  }
}

}  // namespace

Snapshot TakeSnapshot(const std::string& exp_dir, const std::vector<std::string>& roots) {
  Snapshot s;
  for (const auto& r : roots) Stamp(exp_dir, fs::path(exp_dir) / r, &s);
  return s;
}

std::vector<proto::ArtifactInfo> ChangedFiles(const std::string& exp_dir, const std::vector<std::string>& roots,
                                              const Snapshot& before) {
  std::vector<proto::ArtifactInfo> out;
  for (const auto& [path, stamp] : TakeSnapshot(exp_dir, roots)) {
    auto it = before.find(path);
    if (it != before.end() && it->second == stamp) continue;
    if (path.find(".tmp") != std::string::npos) continue;  // another writer's temporary file
    auto hash = Sha256File((fs::path(exp_dir) / path).string());
    if (!hash.ok()) continue;  // replaced meanwhile (atomic rename by a concurrent shard)
    out.push_back({path, stamp.size, *hash});
  }
  return out;
}

// One implementation of file hashing: the file transfer's (same hex SHA-256).
Result<std::string> Sha256File(const std::string& path) { return net::Sha256OfFile(path); }

}  // namespace nephron::worker
