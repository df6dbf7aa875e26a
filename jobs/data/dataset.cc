#include "jobs/data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/json_util.h"

namespace nephron::data {

namespace fs = std::filesystem;

const char* LayoutName(Layout l) { return l == Layout::kKits19 ? "kits19" : "nnunet"; }

namespace {

bool SortById(const CaseFiles& a, const CaseFiles& b) { return a.id < b.id; }

Result<Dataset> DiscoverKits(const std::string& root) {
  Dataset d;
  d.root = root;
  d.layout = Layout::kKits19;
  std::string base = root;
  if (!fs::exists(fs::path(root) / "case_00000") && fs::is_directory(fs::path(root) / "data")) {
    bool has_cases = false;
    for (const auto& e : fs::directory_iterator(fs::path(root) / "data"))
      if (e.path().filename().string().rfind("case_", 0) == 0) has_cases = true;
    if (has_cases) base = (fs::path(root) / "data").string();
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(base, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.rfind("case_", 0) != 0) continue;
    CaseFiles c;
    c.id = name;
    c.image = (e.path() / "imaging.nii.gz").string();
    if (!fs::exists(c.image)) {
      // A case folder without an image is reported rather than silently skipped.
      return NotFound(e.path().string() + ": case folder has no imaging.nii.gz");
    }
    const auto seg = e.path() / "segmentation.nii.gz";
    if (fs::exists(seg)) {
      c.label = seg.string();
      d.training.push_back(c);
    } else {
      d.test.push_back(c);
    }
  }
  if (ec) return NotFound(root + ": cannot list folder (" + ec.message() + ")");
  std::sort(d.training.begin(), d.training.end(), SortById);
  std::sort(d.test.begin(), d.test.end(), SortById);
  return d;
}

Status CollectImages(const fs::path& dir, const std::string& ending, const fs::path& label_dir,
                     std::vector<CaseFiles>* out) {
  if (!fs::is_directory(dir)) return Status::Ok();
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= ending.size() || name.compare(name.size() - ending.size(), ending.size(), ending) != 0) continue;
    const std::string stem = name.substr(0, name.size() - ending.size());
    if (stem.size() < 5 || stem[stem.size() - 5] != '_') continue;
    const std::string channel = stem.substr(stem.size() - 4);
    const std::string id = stem.substr(0, stem.size() - 5);
    if (channel != "0000")
      return InvalidArgument(e.path().string() + ": channel " + channel +
                             " found; only single-channel (CT, _0000) data sets are supported");
    CaseFiles c;
    c.id = id;
    c.image = e.path().string();
    if (!label_dir.empty()) {
      const auto lab = label_dir / (id + ending);
      if (!fs::exists(lab)) return NotFound(c.image + ": training image has no label file " + lab.string());
      c.label = lab.string();
    }
    out->push_back(c);
  }
  std::sort(out->begin(), out->end(), SortById);
  return Status::Ok();
}

Result<Dataset> DiscoverNnunet(const std::string& root) {
  Dataset d;
  d.root = root;
  d.layout = Layout::kNnunet;
  const std::string json_path = (fs::path(root) / "dataset.json").string();
  ASSIGN_OR_RETURN(Json j, ReadJsonFile(json_path));
  std::string ending = ".nii.gz";
  if (j.contains("file_ending")) {
    if (!j["file_ending"].is_string()) return InvalidArgument(json_path + ": field file_ending must be a string");
    ending = j["file_ending"].get<std::string>();
  }
  if (j.contains("labels")) {
    if (!j["labels"].is_object()) return InvalidArgument(json_path + ": field labels must be an object");
    d.num_classes = static_cast<int>(j["labels"].size());
  }
  if (j.contains("channel_names") && j["channel_names"].is_object() && j["channel_names"].size() != 1)
    return InvalidArgument(json_path + ": field channel_names lists " + std::to_string(j["channel_names"].size()) +
                           " channels; only single-channel CT is supported");
  RETURN_IF_ERROR(CollectImages(fs::path(root) / "imagesTr", ending, fs::path(root) / "labelsTr", &d.training));
  RETURN_IF_ERROR(CollectImages(fs::path(root) / "imagesTs", ending, fs::path(), &d.test));
  if (j.contains("numTraining") && j["numTraining"].is_number_integer() &&
      j["numTraining"].get<size_t>() != d.training.size())
    return InvalidArgument(json_path + ": field numTraining says " + std::to_string(j["numTraining"].get<size_t>()) +
                           " but imagesTr holds " + std::to_string(d.training.size()) + " cases");
  return d;
}

}  // namespace

Result<Dataset> DiscoverDataset(const std::string& root, const std::string& layout) {
  if (!fs::is_directory(root)) return NotFound(root + ": data folder does not exist");
  std::string l = layout;
  if (l == "auto") l = fs::exists(fs::path(root) / "dataset.json") ? "nnunet" : "kits19";
  Result<Dataset> d = l == "nnunet" ? DiscoverNnunet(root) : DiscoverKits(root);
  if (!d.ok()) return d;
  if (d->training.empty() && d->test.empty())
    return NotFound(root + ": empty data set (no " +
                    std::string(l == "nnunet" ? "imagesTr/<id>_0000 files" : "case_XXXXX/imaging.nii.gz folders") +
                    " found)");
  return d;
}

Status HoldOutTestCases(Dataset* d, const std::vector<std::string>& ids) {
  std::set<std::string> training, test;
  for (const auto& c : d->training) training.insert(c.id);
  for (const auto& c : d->test) test.insert(c.id);
  std::string unknown;
  std::set<std::string> held_out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (training.count(ids[i])) {
      held_out.insert(ids[i]);
    } else if (!test.count(ids[i])) {
      unknown += "\n  dataset.test_cases[" + std::to_string(i) + "]: case '" + ids[i] + "' is not in the data set";
    }
  }
  if (!unknown.empty()) return InvalidArgument(d->root + ": dataset.test_cases names unknown cases:" + unknown);
  if (held_out.empty()) return Status::Ok();
  std::vector<CaseFiles> keep;
  for (auto& c : d->training) (held_out.count(c.id) ? d->test : keep).push_back(std::move(c));
  d->training = std::move(keep);
  std::sort(d->test.begin(), d->test.end(), SortById);
  return Status::Ok();
}

Result<std::vector<CaseFiles>> SelectCases(const std::vector<CaseFiles>& cases, const std::vector<std::string>& ids,
                                           const std::string& what) {
  if (ids.empty()) return InvalidArgument(what + ": no case ids given");
  std::set<std::string> wanted(ids.begin(), ids.end()), known;
  for (const auto& c : cases) known.insert(c.id);
  std::string unknown;
  for (const auto& id : ids)
    if (!known.count(id) && unknown.find("'" + id + "'") == std::string::npos)
      unknown += (unknown.empty() ? "" : ", ") + ("'" + id + "'");
  if (!unknown.empty())
    return InvalidArgument(what + ": unknown case id(s) " + unknown + " (" + std::to_string(cases.size()) +
                           " case(s) available" + (cases.empty() ? "" : ", e.g. '" + cases.front().id + "'") + ")");
  std::vector<CaseFiles> out;
  for (const auto& c : cases)
    if (wanted.count(c.id)) out.push_back(c);
  return out;
}

std::vector<CaseFiles> ShardCases(const std::vector<CaseFiles>& cases, int shard, int num_shards) {
  std::vector<CaseFiles> out;
  for (size_t i = 0; i < cases.size(); ++i)
    if (static_cast<int>(i % static_cast<size_t>(num_shards)) == shard) out.push_back(cases[i]);
  return out;
}

}  // namespace nephron::data
