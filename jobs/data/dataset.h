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
  std::string label;  // path; empty for an unlabelled case
};

struct Dataset {
  std::string root;
  Layout layout = Layout::kKits19;
  std::vector<CaseFiles> training;  // sorted by id
  std::vector<CaseFiles> test;      // sorted by id; held-out labelled cases keep their label
  int num_classes = 3;              // background, kidney, tumour
};

// layout: "auto", "kits19" or "nnunet". An empty data set is an error naming
// the folder and what was looked for.
Result<Dataset> DiscoverDataset(const std::string& root, const std::string& layout = "auto");

// Moves the labelled cases named in `ids` (the spec's dataset.test_cases)
// from training to test, keeping their labels so that predictions of them can
// be scored. An id that is already an unlabelled test case is accepted; an id
// the data set does not have is InvalidArgument naming dataset.test_cases[i]
// (every unknown id is listed). `d` is unchanged on error.
Status HoldOutTestCases(Dataset* d, const std::vector<std::string>& ids);

// The cases of `cases` whose ids are in `ids`, in the order of `cases`.
// `what` names the option in errors ("--cases"); every id `cases` does not
// have is listed. An empty `ids` is InvalidArgument.
Result<std::vector<CaseFiles>> SelectCases(const std::vector<CaseFiles>& cases, const std::vector<std::string>& ids,
                                           const std::string& what);

// Cases i, i+n, i+2n, ... of `cases` (shard i of n, 0-based).
std::vector<CaseFiles> ShardCases(const std::vector<CaseFiles>& cases, int shard, int num_shards);

}  // namespace nephron::data
