#include "coordinator/client/demo_spec.h"

#include "common/json_util.h"

namespace nephron::client {
namespace {

// nnU-Net's rules with a network and schedule small enough for a 2-core CPU
// (the spec of the README's first command). Four of the kDemoCases synthetic
// cases are the held-out test set: two with a tumour, two without. {DATA_ROOT} is replaced by the data folder.
constexpr char kDemoSpecTemplate[] = R"(# nephron local --demo: the whole graph (5 folds, validation, postprocessing
# decision, ensemble prediction, evaluation) with nnU-Net's rules, on `tiny`
# synthetic phantoms, with a network and schedule small enough for a 2-core CPU
# in under 10 minutes. One departure from nnU-Net, for that budget: no
# mirroring at inference (8 network passes per tile). Training uses nnU-Net's
# full augmentation set.
name: demo
preset: nnunet
dataset:
  root: {DATA_ROOT}
  test_cases: [case_00016, case_00017, case_00022, case_00023]  # two of them with a tumour
plan:
  patch_size: [16, 32, 32]
  batch_size: 2
  base_features: 16
  max_features: 128
train:
  epochs: 20
  iterations_per_epoch: 25
  val_iterations: 3
  checkpoint_every: 2
inference:
  tta: false
)";

}  // namespace

std::string DemoSpec(const std::string& data_root) {
  std::string spec = kDemoSpecTemplate;
  const std::string key = "{DATA_ROOT}";
  // A JSON string is a valid YAML double-quoted scalar, whatever the path holds.
  spec.replace(spec.find(key), key.size(), Json(data_root).dump());
  return spec;
}

}  // namespace nephron::client
