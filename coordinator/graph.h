// Expands a validated job spec into the experiment's task graph (DESIGN.md
// §2): fingerprint shards -> plan -> preprocess shards -> one training per
// fold -> one validation per fold -> crossval (CV metrics, postprocessing
// decision) -> prediction shards (ensemble of the folds on the test cases)
// -> evaluation. Deps are indexes into the returned vector (Store::
// CreateExperiment translates them to ids).
#pragma once

#include <string>
#include <vector>

#include "common/spec.h"
#include "coordinator/store.h"

namespace nephron::coord {

// The stages in graph order (for display and grouping).
const std::vector<std::string>& StageKinds();

std::vector<TaskRecord> ExpandSpec(const JobSpec& spec);

// A graph of `count` independent noop tasks of `seconds` each (load tests,
// protocol tests): the spec key `noop_tasks` would be wrong for users, so
// this is only reachable from code.
std::vector<TaskRecord> NoopGraph(int count, double seconds);

}  // namespace nephron::coord
