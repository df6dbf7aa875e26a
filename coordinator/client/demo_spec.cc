#include "coordinator/client/demo_spec.h"

#include "common/json_util.h"

namespace nephron::client {
namespace {

// nnU-Net's rules with a network and schedule small enough for a 2-core CPU
// (started from deploy/demo.yaml). The last four of the kDemoCases synthetic
// cases are the held-out test set. {DATA_ROOT} is replaced by the data folder.
constexpr char kDemoSpecTemplate[] = R"(# nephron local --demo
name: demo
preset: nnunet
dataset:
  root: {DATA_ROOT}
  test_cases: [case_00020, case_00021, case_00022, case_00023]
plan:
  patch_size: [32, 64, 64]
  batch_size: 2
  base_features: 16
  max_features: 128
train:
  epochs: 8
  iterations_per_epoch: 25
  val_iterations: 5
  checkpoint_every: 2
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
