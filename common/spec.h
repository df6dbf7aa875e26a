// The job spec: what a user writes in SPEC.yaml. A preset (`nnunet` or
// `bdci2022`) fills every field; the YAML file overrides any of them.
//
// Parsing validates everything at once and reports every problem with its
// field path ("plan.target_spacing: expected 3 positive numbers"), so a user
// fixes a spec in one round. Later issues add the training, inference and
// scheduling sections here; this is the single definition of the spec.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace nephron {

struct DatasetSpec {
  std::string root;            // folder with the raw data (KiTS19 or nnU-Net raw layout)
  std::string layout = "auto"; // auto | kits19 | nnunet
  // Labelled cases held out as the test set (predicted by the ensemble and
  // scored); unlabelled cases are test cases anyway. Ids as in the data set
  // ("case_00012" or the nnU-Net identifier).
  std::vector<std::string> test_cases;
};

struct FingerprintSpec {
  // Foreground intensity samples over the whole data set, split evenly across
  // cases (REFERENCE.md: about 1e7 / n_cases per case).
  int64_t foreground_samples_total = 10'000'000;
  uint32_t seed = 1234;
};

struct PlanSpec {
  // Which nnU-Net planner's rules to follow: "v2" (nnU-Net v2 ExperimentPlanner)
  // or "v1" (nnU-Net v1 ExperimentPlanner3D_v21, which the BDCI team ran).
  std::string planner = "v2";
  // Fixed target spacing in mm, coarsest axis first; empty = median rule.
  std::optional<std::array<double, 3>> target_spacing;
  double gpu_memory_gb = 8.0;
  int base_features = 32;
  int max_features = 320;
  int conv_per_stage = 2;
  int min_batch_size = 2;
  double max_dataset_covered = 0.05;
  double anisotropy_threshold = 3.0;
  int featuremap_min_edge = 4;
  std::string downsampling = "conv";  // conv (strided conv) | maxpool
  bool reorient = true;               // permute/flip every case to one canonical axis order
  bool suppress_transpose = false;
  std::optional<std::array<int, 3>> patch_size;  // overrides the planned patch
  std::optional<int> batch_size;                  // overrides the planned batch size
  int num_folds = 5;
  uint32_t split_seed = 12345;
};

struct PreprocessSpec {
  std::string image_interpolation = "bspline3";        // bspline3 | linear
  std::string label_interpolation = "onehot_linear";   // onehot_linear | nearest
  bool normalize_before_resample = true;               // v2 order; v1 resamples first
  int foreground_locations_per_class = 10000;
  double min_location_coverage = 0.01;
  uint32_t seed = 1234;
  std::string on_bad_case = "skip";  // skip | stop
  int threads = 0;                   // 0 = all cores
};

struct TrainSpec {
  int epochs = 1000;
  int iterations_per_epoch = 250;
  int val_iterations = 50;
  double initial_lr = 0.01;
  double momentum = 0.99;
  bool nesterov = true;
  double weight_decay = 3e-5;
  double grad_clip = 12.0;            // gradient norm clip; 0 = off
  double oversample_foreground = 0.33;
  bool deep_supervision = true;
  bool augmentation = true;
  bool mixed_precision = true;        // bf16 autocast on CUDA (no effect on CPU)
  int checkpoint_every = 50;          // epochs between "latest" checkpoints
  int loader_threads = 2;             // background batch preparation
  uint64_t seed = 12345;              // network init, sampling, augmentation
};

// How the trained folds are applied (predict, validate).
struct InferenceSpec {
  bool tta = true;                       // mirroring over all 8 flip combinations
  double step = 0.5;                     // tile step as a fraction of the patch
  int batch = 2;                         // network inputs per forward pass
  std::string checkpoint = "final";      // final | best | latest
  bool postprocessing = true;            // decide (crossval) and apply the LCC rule
};

// What each task needs from a worker, and how the work is split.
struct ResourcesSpec {
  std::string device = "any";            // any | cpu | cuda: which workers may run the tasks
  int64_t memory_mb = 0;                 // minimum device memory of a worker (0: any)
  int threads = 0;                       // engine threads per task (0: the worker's)
  int fingerprint_shards = 2;
  int preprocess_shards = 2;
  int predict_shards = 2;
};

struct RetrySpec {
  int max_attempts = 3;                  // attempts per task, the first included
  double backoff_seconds = 2;            // first retry after this, doubling
  double backoff_cap_seconds = 120;
};

struct JobSpec {
  std::string name = "experiment";
  std::string preset = "nnunet";
  DatasetSpec dataset;
  FingerprintSpec fingerprint;
  PlanSpec plan;
  PreprocessSpec preprocess;
  TrainSpec train;
  InferenceSpec inference;
  ResourcesSpec resources;
  RetrySpec retry;
  std::vector<int> folds;  // folds to train, validate and ensemble; empty = all plan.num_folds
};

// The complete defaults of a preset; NotFound for an unknown name.
Result<JobSpec> PresetSpec(const std::string& preset);

// Parses YAML text. `source` names the file in error messages. The preset is
// `preset_override` if non-empty, else the spec's `preset:` key, else nnunet.
Result<JobSpec> ParseJobSpec(const std::string& yaml_text, const std::string& source,
                             const std::string& preset_override = "");
Result<JobSpec> LoadJobSpecFile(const std::string& path, const std::string& preset_override = "");

// `dataset.root` of a spec's YAML text, or "" (also when the text does not
// parse): lets a caller check the root even when other fields are invalid.
std::string DatasetRootOf(const std::string& yaml_text);

// Checks cross-field rules; lists every problem.
Status ValidateJobSpec(const JobSpec& spec, const std::string& source);

}  // namespace nephron
