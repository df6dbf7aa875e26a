// Cross-validation splits, identical to nnU-Net's: case ids sorted, then
// scikit-learn KFold(n_splits, shuffle=True, random_state=seed), each fold's
// "train" and "val" lists in ascending order. Stored as splits_final.json
// (a list of {"train": [...], "val": [...]}); an existing file is honoured.
#pragma once

#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"

namespace nephron::preprocess {

struct Fold {
  std::vector<std::string> train;
  std::vector<std::string> val;
};

std::vector<Fold> MakeSplits(std::vector<std::string> case_ids, int num_folds, uint32_t seed);
Json SplitsToJson(const std::vector<Fold>& folds);
// Validates structure; with `known_ids` non-empty, every id must be known.
Result<std::vector<Fold>> SplitsFromJson(const Json& j, const std::string& source,
                                         const std::vector<std::string>& known_ids = {});

}  // namespace nephron::preprocess
