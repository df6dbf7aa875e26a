// Raw data set discovery: the KiTS19 layout and the nnU-Net raw layout.
//
// KiTS19:  ROOT/case_XXXXX/imaging.nii.gz [+ segmentation.nii.gz]
//          (ROOT may also be the repository root with the cases under data/).
//          Cases with a segmentation are training cases, the others test cases.
// nnU-Net: ROOT/dataset.json, ROOT/imagesTr/<id>_0000<ext>, ROOT/labelsTr/<id><ext>,
//          optional ROOT/imagesTs/<id>_0000<ext>; <ext> is dataset.json's
//          file_ending (default .nii.gz). Single-channel (CT) only.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace nephron::data {

enum class Layout { kKits19, kNnunet };
const char* LayoutName(Layout l);

struct CaseFiles {
  std::string id;     // "case_00012" or the nnU-Net identifier
  std::string image;  // path
  std::string label;  // path; empty for a test case
};

struct Dataset {
  std::string root;
  Layout layout = Layout::kKits19;
  std::vector<CaseFiles> training;  // sorted by id
  std::vector<CaseFiles> test;      // sorted by id
  int num_classes = 3;              // background, kidney, tumour
};

// layout: "auto", "kits19" or "nnunet". An empty data set is an error naming
// the folder and what was looked for.
Result<Dataset> DiscoverDataset(const std::string& root, const std::string& layout = "auto");

// Cases i, i+n, i+2n, ... of `cases` (shard i of n, 0-based).
std::vector<CaseFiles> ShardCases(const std::vector<CaseFiles>& cases, int shard, int num_shards);

}  // namespace nephron::data
