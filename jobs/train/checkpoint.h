// Training checkpoints: one LibTorch archive per file with the model's
// parameters and buffers ("model"), the SGD state ("optimizer") and a JSON
// string ("meta": position in training, moving averages, log, plan id).
// Written to a temporary name and renamed, so a crash while saving never
// leaves a corrupt file under the final name.
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/json_util.h"
#include "common/status.h"
#include "jobs/preprocess/planner.h"
#include "jobs/train/network.h"

namespace nephron::train {

// The network a plan describes (the architecture every checkpoint of an
// experiment holds); deep supervision only changes what forward returns.
UNetConfig ConfigFromPlan(const preprocess::Plan& p, bool deep_supervision);

Status SaveCheckpoint(const std::string& path, PlainConvUNet& model, torch::optim::SGD& opt, const Json& meta);
// Loads weights (and the optimiser state when `opt` is given) onto `device`;
// returns the meta JSON. NotFound for a missing file, DataLoss for a corrupt one.
Result<Json> LoadCheckpoint(const std::string& path, PlainConvUNet& model, torch::optim::SGD* opt,
                            const torch::Device& device);

}  // namespace nephron::train
