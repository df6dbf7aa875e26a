// Argument checks shared by every Store backend, so that both refuse the same
// inputs with the same messages (the contract suite runs against both).
#pragma once

#include <vector>

#include "common/status.h"
#include "coordinator/store.h"

namespace nephron::coord {

// The task graph given to CreateExperiment: every dep is an index into
// `tasks` other than the task's own, and names are unique. InvalidArgument
// naming the task and field otherwise.
Status ValidateTaskGraph(const std::vector<TaskRecord>& tasks);

// FinishTask's target: succeeded, failed or cancelled. InvalidArgument for
// pending/running (a programming error, not a stale attempt).
Status ValidateFinishState(int64_t task_id, TaskState state);

}  // namespace nephron::coord
