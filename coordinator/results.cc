#include "coordinator/results.h"

#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "common/json_util.h"

namespace nephron::coord {

namespace {



Json Means(const Json& summary) {
  return {{"kidney_dice", summary.value("kidney_dice", 0.0)},
          {"tumor_dice", summary.value("tumor_dice", 0.0)},
          {"composite", summary.value("composite", 0.0)}};
}

}  // namespace

Result<std::string> BuildResults(const ExperimentRecord& exp, const std::vector<int>& folds, bool postprocessing) {
  Json r;
  r["experiment_id"] = exp.id;
  r["name"] = exp.name;
  r["state"] = ExperimentStateName(exp.state);
  r["dir"] = exp.dir;
  Json fj = Json::array();
  for (int k : folds) {
    const std::string path = exp.dir + "/fold_" + std::to_string(k) + "/validation/summary.json";
    if (!FileExists(path)) continue;
    ASSIGN_OR_RETURN(Json s, ReadJsonFile(path));
    Json row = Means(s);
    row["fold"] = k;
    row["cases"] = s.value("num_cases", 0);
    fj.push_back(row);
  }
  r["folds"] = fj;
  const std::string cv_path = exp.dir + (postprocessing ? "/crossval/summary_postprocessed.json" : "/crossval/summary.json");
  if (FileExists(cv_path)) {
    ASSIGN_OR_RETURN(Json s, ReadJsonFile(cv_path));
    r["cv"] = Means(s);
  } else {
    r["cv"] = nullptr;
  }
  const std::string pred_dir = exp.dir + "/predictions";
  r["predictions_dir"] = pred_dir;
  r["previews_dir"] = pred_dir + "/previews";
  Json cases = Json::array();
  r["kidney_dice"] = r["tumor_dice"] = r["composite"] = nullptr;
  if (FileExists(pred_dir + "/evaluation.json")) {
    ASSIGN_OR_RETURN(Json s, ReadJsonFile(pred_dir + "/evaluation.json"));
    for (const auto& c : s.value("cases", Json::array()))
      cases.push_back({{"id", c.value("id", "")},
                       {"kidney_dice", c.value("kidney_dice", 0.0)},
                       {"tumor_dice", c.value("tumor_dice", 0.0)},
                       {"composite", c.value("composite", 0.0)}});
    if (!cases.empty()) {
      r["kidney_dice"] = s.value("kidney_dice", 0.0);
      r["tumor_dice"] = s.value("tumor_dice", 0.0);
      r["composite"] = s.value("composite", 0.0);
    }
  }
  r["cases"] = cases;
  return r.dump(2);
}

}  // namespace nephron::coord
