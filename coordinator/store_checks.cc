#include "coordinator/store_checks.h"

#include <set>
#include <string>

namespace nephron::coord {

Status ValidateTaskGraph(const std::vector<TaskRecord>& tasks) {
  std::set<std::string> names;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const TaskRecord& t = tasks[i];
    const std::string where = "task " + std::to_string(i) + " ('" + t.name + "')";
    if (!names.insert(t.name).second) return InvalidArgument(where + ": name: duplicate within the experiment");
    for (int64_t dep : t.deps) {
      if (dep < 0 || dep >= static_cast<int64_t>(tasks.size()) || dep == static_cast<int64_t>(i)) {
        return InvalidArgument(where + ": deps: " + std::to_string(dep) + " is not the index of another task of the " +
                               std::to_string(tasks.size()) + " given");
      }
    }
  }
  return Status::Ok();
}

Status ValidateFinishState(int64_t task_id, TaskState state) {
  if (IsTerminal(state)) return Status::Ok();
  return InvalidArgument("FinishTask(" + std::to_string(task_id) + "): state: '" + TaskStateName(state) +
                         "' is not a final state (succeeded, failed or cancelled)");
}

}  // namespace nephron::coord
