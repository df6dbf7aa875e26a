#include "jobs/preprocess/splits.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "jobs/data/numpy_random.h"

namespace nephron::preprocess {

std::vector<Fold> MakeSplits(std::vector<std::string> ids, int k, uint32_t seed) {
  std::sort(ids.begin(), ids.end());
  const size_t n = ids.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  data::NumpyRandomState rs(seed);
  rs.Shuffle(&order);
  std::vector<Fold> folds;
  size_t start = 0;
  for (int f = 0; f < k; ++f) {
    const size_t size = n / static_cast<size_t>(k) + (static_cast<size_t>(f) < n % static_cast<size_t>(k) ? 1 : 0);
    std::vector<bool> is_val(n, false);
    for (size_t i = start; i < start + size; ++i) is_val[order[i]] = true;
    start += size;
    Fold fold;
    for (size_t i = 0; i < n; ++i) (is_val[i] ? fold.val : fold.train).push_back(ids[i]);
    folds.push_back(std::move(fold));
  }
  return folds;
}

Json SplitsToJson(const std::vector<Fold>& folds) {
  Json j = Json::array();
  for (const auto& f : folds) j.push_back({{"train", f.train}, {"val", f.val}});
  return j;
}

Result<std::vector<Fold>> SplitsFromJson(const Json& j, const std::string& source,
                                         const std::vector<std::string>& known_ids) {
  if (!j.is_array() || j.empty()) return InvalidArgument(source + ": expected a non-empty list of folds");
  std::set<std::string> known(known_ids.begin(), known_ids.end());
  std::vector<Fold> folds;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string where = source + ": fold " + std::to_string(i);
    if (!j[i].is_object() || !j[i].contains("train") || !j[i].contains("val"))
      return InvalidArgument(where + ": expected an object with \"train\" and \"val\"");
    Fold f;
    try {
      f.train = j[i]["train"].get<std::vector<std::string>>();
      f.val = j[i]["val"].get<std::vector<std::string>>();
    } catch (const Json::exception&) {
      return InvalidArgument(where + ": \"train\" and \"val\" must be lists of case ids");
    }
    if (!known.empty())
      for (const auto* list : {&f.train, &f.val})
        for (const auto& id : *list)
          if (!known.count(id)) return InvalidArgument(where + ": unknown case id '" + id + "'");
    folds.push_back(std::move(f));
  }
  return folds;
}

}  // namespace nephron::preprocess
