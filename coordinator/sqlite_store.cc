// SqliteStore: the Store contract over one SQLite connection (see
// sqlite_schema.cc for the tables). One mutex serialises every call; each
// mutation is one statement in autocommit mode or one BEGIN IMMEDIATE
// transaction, so with WAL + synchronous=FULL it is on disk when it returns.
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>

#include "common/json_util.h"
#include "coordinator/sqlite_schema.h"
#include "coordinator/sqlite_util.h"
#include "coordinator/store.h"
#include "coordinator/store_checks.h"

namespace nephron::coord {
namespace {

using sqlite::Db;
using sqlite::Statement;
using sqlite::Transaction;

constexpr char kExperimentColumns[] =
    "id, name, state, spec_yaml, dir, error, created_ms, finished_ms, results_json";
constexpr char kTaskColumns[] =
    "t.id, t.experiment_id, t.kind, t.name, t.fold, t.shard, t.num_shards, t.device_kind, t.memory_mb, "
    "t.max_attempts, t.noop_seconds, t.state, t.attempt, t.worker, t.created_ms, t.started_ms, t.finished_ms, "
    "t.not_before_ms, t.error, t.permanent_error, t.progress, t.progress_message";
constexpr char kMetricColumns[] =
    "task_id, experiment_id, fold, epoch, attempt, train_loss, val_loss, dice, ema_dice, lr, seconds";
constexpr char kWorkerColumns[] =
    "name, host, device, memory_mb, threads, engine_version, state, draining, task, attempt, registered_ms, "
    "last_heartbeat_ms, tasks_done, key_name, files";

// Dice per class as a JSON array; NaN (a class absent from both masks) is
// stored as null, which JSON has in place of NaN.
std::string DiceToJson(const std::vector<double>& dice) {
  Json a = Json::array();
  for (double d : dice) a.push_back(std::isfinite(d) ? Json(d) : Json(nullptr));
  return a.dump();
}

Status DiceFromJson(const Db& db, const std::string& text, std::vector<double>* out) {
  const Json a = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!a.is_array()) return DataLoss(db.path() + ": metrics.dice: not a JSON array: " + text);
  out->clear();
  for (const Json& d : a) out->push_back(d.is_number() ? d.get<double>() : std::numeric_limits<double>::quiet_NaN());
  return Status::Ok();
}

Status ExperimentFromRow(const Db& db, const Statement& st, ExperimentRecord* e) {
  e->id = st.Int64(0);
  e->name = st.Text(1);
  if (!ParseExperimentState(st.Text(2), &e->state))
    return DataLoss(db.path() + ": experiment " + std::to_string(e->id) + ": state: unknown '" + st.Text(2) + "'");
  e->spec_yaml = st.Text(3);
  e->dir = st.Text(4);
  e->error = st.Text(5);
  e->created_ms = st.Int64(6);
  e->finished_ms = st.Int64(7);
  e->results_json = st.Text(8);
  return Status::Ok();
}

Status TaskFromRow(const Db& db, const Statement& st, TaskRecord* t) {
  t->id = st.Int64(0);
  t->experiment_id = st.Int64(1);
  t->kind = st.Text(2);
  t->name = st.Text(3);
  t->fold = st.Int(4);
  t->shard = st.Int(5);
  t->num_shards = st.Int(6);
  t->device_kind = st.Text(7);
  t->memory_mb = st.Int64(8);
  t->max_attempts = st.Int(9);
  t->noop_seconds = st.Double(10);
  if (!ParseTaskState(st.Text(11), &t->state))
    return DataLoss(db.path() + ": task " + std::to_string(t->id) + ": state: unknown '" + st.Text(11) + "'");
  t->attempt = st.Int(12);
  t->worker = st.Text(13);
  t->created_ms = st.Int64(14);
  t->started_ms = st.Int64(15);
  t->finished_ms = st.Int64(16);
  t->not_before_ms = st.Int64(17);
  t->error = st.Text(18);
  t->permanent_error = st.Bool(19);
  t->progress = st.Double(20);
  t->progress_message = st.Text(21);
  return Status::Ok();
}

Status MetricFromRow(const Db& db, const Statement& st, MetricRecord* m) {
  m->task_id = st.Int64(0);
  m->experiment_id = st.Int64(1);
  m->fold = st.Int(2);
  m->epoch = st.Int(3);
  m->attempt = st.Int(4);
  m->train_loss = st.Double(5);
  m->val_loss = st.Double(6);
  RETURN_IF_ERROR(DiceFromJson(db, st.Text(7), &m->dice));
  m->ema_dice = st.Double(8);
  m->lr = st.Double(9);
  m->seconds = st.Double(10);
  return Status::Ok();
}

void WorkerFromRow(const Statement& st, WorkerRecord* w) {
  w->name = st.Text(0);
  w->host = st.Text(1);
  w->device = st.Text(2);
  w->memory_mb = st.Int64(3);
  w->threads = st.Int(4);
  w->engine_version = st.Text(5);
  w->state = st.Text(6);
  w->draining = st.Bool(7);
  w->task = st.Int64(8);
  w->attempt = st.Int(9);
  w->registered_ms = st.Int64(10);
  w->last_heartbeat_ms = st.Int64(11);
  w->tasks_done = st.Int64(12);
  w->key_name = st.Text(13);
  w->files = st.Text(14);
}

class SqliteStore : public Store {
 public:
  explicit SqliteStore(Db db) : db_(std::move(db)) {}

  Result<int64_t> CreateExperiment(const ExperimentRecord& exp, const std::vector<TaskRecord>& tasks) override {
    RETURN_IF_ERROR(ValidateTaskGraph(tasks));
    std::lock_guard<std::mutex> lock(mu_);
    Transaction tx(&db_);
    RETURN_IF_ERROR(tx.Begin());
    RETURN_IF_ERROR(Exec(
        "INSERT INTO experiments(name, state, spec_yaml, dir, error, created_ms, finished_ms, results_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        exp.name, ExperimentStateName(exp.state), exp.spec_yaml, exp.dir, exp.error, exp.created_ms,
        exp.finished_ms, exp.results_json));
    const int64_t id = db_.LastInsertId();
    std::vector<int64_t> ids;
    for (const TaskRecord& t : tasks) {
      RETURN_IF_ERROR(Exec(
          "INSERT INTO tasks(experiment_id, kind, name, fold, shard, num_shards, device_kind, memory_mb, "
          "max_attempts, noop_seconds, state, attempt, worker, created_ms, started_ms, finished_ms, not_before_ms, "
          "error, permanent_error, progress, progress_message) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          id, t.kind, t.name, t.fold, t.shard, t.num_shards, t.device_kind, t.memory_mb, t.max_attempts,
          t.noop_seconds, TaskStateName(t.state), t.attempt, t.worker, t.created_ms, t.started_ms, t.finished_ms,
          t.not_before_ms, t.error, t.permanent_error, t.progress, t.progress_message));
      ids.push_back(db_.LastInsertId());
    }
    for (size_t i = 0; i < tasks.size(); ++i) {
      for (size_t pos = 0; pos < tasks[i].deps.size(); ++pos) {
        RETURN_IF_ERROR(Exec("INSERT INTO task_deps(task_id, position, dep_id) VALUES (?, ?, ?)", ids[i],
                             static_cast<int64_t>(pos), ids[static_cast<size_t>(tasks[i].deps[pos])]));
      }
    }
    RETURN_IF_ERROR(tx.Commit());
    return id;
  }

  Result<std::vector<ExperimentRecord>> ListExperiments() override {
    std::lock_guard<std::mutex> lock(mu_);
    return QueryExperiments("1 ORDER BY id DESC", std::nullopt);
  }

  Result<ExperimentRecord> GetExperiment(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(auto rows, QueryExperiments("id = ?", id));
    if (rows.empty()) return ExperimentNotFound(id);
    return rows.front();
  }

  Status SetExperimentState(int64_t id, ExperimentState state, const std::string& error, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t finished = state == ExperimentState::kRunning ? 0 : now_ms;
    return UpdateExperiment(id, "UPDATE experiments SET state = ?, error = ?, finished_ms = ? WHERE id = ?",
                            ExperimentStateName(state), error, finished, id);
  }

  Status SetExperimentDir(int64_t id, const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    return UpdateExperiment(id, "UPDATE experiments SET dir = ? WHERE id = ?", dir, id);
  }

  Status SetResults(int64_t id, const std::string& results_json) override {
    std::lock_guard<std::mutex> lock(mu_);
    return UpdateExperiment(id, "UPDATE experiments SET results_json = ? WHERE id = ?", results_json, id);
  }

  Result<std::vector<TaskRecord>> ListTasks(int64_t experiment_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return QueryTasks("t.experiment_id = ?", experiment_id);
  }

  Result<std::vector<TaskRecord>> ActiveTasks() override {
    std::lock_guard<std::mutex> lock(mu_);
    return QueryTasks("t.state IN ('pending', 'running')", std::nullopt);
  }

  Result<TaskRecord> GetTask(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return GetTaskLocked(id);
  }

  Result<bool> ClaimTask(int64_t id, int expected_attempt, const std::string& worker, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction tx(&db_);
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(TaskRecord t, GetTaskLocked(id));
    if (t.state != TaskState::kPending || t.attempt != expected_attempt) return false;  // rolls back
    RETURN_IF_ERROR(Exec(
        "UPDATE tasks SET state = 'running', attempt = attempt + 1, worker = ?, started_ms = ?, finished_ms = 0, "
        "progress = 0, progress_message = '' WHERE id = ?",
        worker, now_ms, id));
    RETURN_IF_ERROR(tx.Commit());
    return true;
  }

  Result<bool> FinishTask(int64_t id, int attempt, TaskState state, const std::string& error, bool permanent,
                          int64_t now_ms) override {
    RETURN_IF_ERROR(ValidateFinishState(id, state));
    std::lock_guard<std::mutex> lock(mu_);
    return UpdateTask(id,
                      "UPDATE tasks SET state = ?, error = ?, permanent_error = ?, finished_ms = ? "
                      "WHERE id = ? AND state = 'running' AND attempt = ?",
                      TaskStateName(state), error, permanent, now_ms, id, attempt);
  }

  Result<bool> RequeueTask(int64_t id, int attempt, int64_t not_before_ms, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    return UpdateTask(id,
                      "UPDATE tasks SET state = 'pending', not_before_ms = ?, error = ? "
                      "WHERE id = ? AND state = 'running' AND attempt = ?",
                      not_before_ms, error, id, attempt);
  }

  Result<bool> RetryTask(int64_t id, int64_t /*now_ms*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction tx(&db_);
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(bool changed, UpdateTask(id,
                                              "UPDATE tasks SET state = 'pending', error = '', permanent_error = 0, "
                                              "not_before_ms = 0, finished_ms = 0, progress = 0, "
                                              "progress_message = '' WHERE id = ? AND state IN ('failed', 'cancelled')",
                                              id));
    if (!changed) return false;
    RETURN_IF_ERROR(Exec(
        "UPDATE experiments SET state = 'running', error = '', finished_ms = 0 "
        "WHERE id = (SELECT experiment_id FROM tasks WHERE id = ?)",
        id));
    RETURN_IF_ERROR(tx.Commit());
    return true;
  }

  Result<std::vector<TaskRecord>> CancelExperiment(int64_t id, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction tx(&db_);
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(auto exps, QueryExperiments("id = ?", id));
    if (exps.empty()) return ExperimentNotFound(id);
    ASSIGN_OR_RETURN(auto running, QueryTasks("t.experiment_id = ? AND t.state = 'running'", id));
    RETURN_IF_ERROR(Exec(
        "UPDATE tasks SET state = 'cancelled', finished_ms = ? "
        "WHERE experiment_id = ? AND state IN ('pending', 'running')",
        now_ms, id));
    // A finished experiment keeps its outcome: cancelling cannot undo a success.
    RETURN_IF_ERROR(
        Exec("UPDATE experiments SET state = 'cancelled', finished_ms = ? WHERE id = ? AND state = 'running'", now_ms,
             id));
    RETURN_IF_ERROR(tx.Commit());
    for (TaskRecord& t : running) {
      t.state = TaskState::kCancelled;
      t.finished_ms = now_ms;
    }
    return running;
  }

  Result<bool> SetProgress(int64_t id, int attempt, double fraction, const std::string& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    return UpdateTask(id,
                      "UPDATE tasks SET progress = ?, progress_message = ? "
                      "WHERE id = ? AND state = 'running' AND attempt = ?",
                      fraction, message, id, attempt);
  }

  Status AddMetric(const MetricRecord& m) override {
    std::lock_guard<std::mutex> lock(mu_);
    // The experiment comes from the task; the upsert's WHERE keeps a newer
    // attempt's row. INSERT ... SELECT needs its own WHERE before ON CONFLICT.
    // UpdateTask's false (an older or repeated attempt) is ignored by contract.
    return UpdateTask(m.task_id,
                      "INSERT INTO metrics(task_id, experiment_id, fold, epoch, attempt, train_loss, val_loss, dice, "
                      "ema_dice, lr, seconds) "
                      "SELECT id, experiment_id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM tasks WHERE id = ? "
                      "ON CONFLICT(task_id, epoch) DO UPDATE SET experiment_id = excluded.experiment_id, "
                      "fold = excluded.fold, attempt = excluded.attempt, train_loss = excluded.train_loss, "
                      "val_loss = excluded.val_loss, dice = excluded.dice, ema_dice = excluded.ema_dice, "
                      "lr = excluded.lr, seconds = excluded.seconds WHERE excluded.attempt > metrics.attempt",
                      m.fold, m.epoch, m.attempt, m.train_loss, m.val_loss, DiceToJson(m.dice), m.ema_dice, m.lr,
                      m.seconds, m.task_id)
        .status();
  }

  Result<std::vector<MetricRecord>> Metrics(int64_t experiment_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement st, Prepare(std::string("SELECT ") + kMetricColumns +
                                           " FROM metrics WHERE experiment_id = ? ORDER BY task_id, epoch"));
    st.BindAll(experiment_id);
    std::vector<MetricRecord> out;
    RETURN_IF_ERROR(st.ForEachRow([&] { return MetricFromRow(db_, st, &out.emplace_back()); }));
    return out;
  }

  Status AppendLogs(int64_t task_id, int attempt, const std::vector<std::string>& lines, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction tx(&db_);
    RETURN_IF_ERROR(tx.Begin());
    RETURN_IF_ERROR(TaskExists(task_id));
    ASSIGN_OR_RETURN(Statement st, Prepare("INSERT INTO logs(task_id, attempt, ts_ms, line) VALUES (?, ?, ?, ?)"));
    for (const std::string& line : lines) {
      st.BindAll(task_id, attempt, now_ms, line);
      RETURN_IF_ERROR(st.Run());
      st.Reset();
    }
    return tx.Commit();
  }

  Result<std::vector<LogRecord>> Logs(int64_t task_id, int64_t after_seq, int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<LogRecord> out;
    if (limit <= 0) return out;
    ASSIGN_OR_RETURN(Statement st, Prepare("SELECT seq, task_id, attempt, ts_ms, line FROM logs "
                                           "WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?"));
    st.BindAll(task_id, after_seq, limit);
    RETURN_IF_ERROR(st.ForEachRow([&] {
      out.push_back(LogRecord{st.Int64(0), st.Int64(1), st.Int(2), st.Int64(3), st.Text(4)});
      return Status::Ok();
    }));
    return out;
  }

  Status AddEvent(int64_t experiment_id, int64_t task_id, const std::string& text, int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(Exec("INSERT INTO events(experiment_id, task_id, ts_ms, text) "
                         "SELECT id, ?, ?, ? FROM experiments WHERE id = ?",
                         task_id, now_ms, text, experiment_id));
    if (db_.Changes() == 0) return ExperimentNotFound(experiment_id);
    return Status::Ok();
  }

  Result<std::vector<EventRecord>> Events(int64_t experiment_id, int64_t after_seq, int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<EventRecord> out;
    if (limit <= 0) return out;
    ASSIGN_OR_RETURN(Statement st, Prepare("SELECT seq, experiment_id, task_id, ts_ms, text FROM events "
                                           "WHERE experiment_id = ? AND seq > ? ORDER BY seq LIMIT ?"));
    st.BindAll(experiment_id, after_seq, limit);
    RETURN_IF_ERROR(st.ForEachRow([&] {
      out.push_back(EventRecord{st.Int64(0), st.Int64(1), st.Int64(2), st.Int64(3), st.Text(4)});
      return Status::Ok();
    }));
    return out;
  }

  Status AddArtifacts(int64_t task_id, int attempt, const std::vector<ArtifactRecord>& artifacts) override {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction tx(&db_);
    RETURN_IF_ERROR(tx.Begin());
    for (const auto& a : artifacts) {
      RETURN_IF_ERROR(Exec("INSERT OR REPLACE INTO artifacts(experiment_id, path, task_id, attempt, size, sha256) "
                           "SELECT experiment_id, ?, id, ?, ?, ? FROM tasks WHERE id = ?",
                           a.path, attempt, a.size, a.sha256, task_id));
      if (db_.Changes() == 0) return NotFound("task " + std::to_string(task_id) + " does not exist");
    }
    return tx.Commit();
  }

  Result<std::vector<ArtifactRecord>> Artifacts(int64_t experiment_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ArtifactRecord> out;
    ASSIGN_OR_RETURN(Statement st, Prepare("SELECT experiment_id, path, task_id, attempt, size, sha256 FROM artifacts "
                                           "WHERE experiment_id = ? ORDER BY path"));
    st.BindAll(experiment_id);
    RETURN_IF_ERROR(st.ForEachRow([&] {
      out.push_back(ArtifactRecord{st.Int64(0), st.Text(1), st.Int64(2), st.Int(3), st.Int64(4), st.Text(5)});
      return Status::Ok();
    }));
    return out;
  }

  Status UpsertWorker(const WorkerRecord& w) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Exec(std::string("INSERT OR REPLACE INTO workers(") + kWorkerColumns +
                    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                w.name, w.host, w.device, w.memory_mb, w.threads, w.engine_version, w.state, w.draining, w.task,
                w.attempt, w.registered_ms, w.last_heartbeat_ms, w.tasks_done, w.key_name, w.files);
  }

  Result<std::vector<WorkerRecord>> ListWorkers() override {
    std::lock_guard<std::mutex> lock(mu_);
    return QueryWorkers("1 ORDER BY name", std::nullopt);
  }

  Result<WorkerRecord> GetWorker(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(auto rows, QueryWorkers("name = ?", name));
    if (rows.empty()) return NotFound("worker '" + name + "' is not registered");
    return rows.front();
  }

 private:
  // Everything below requires mu_.

  Result<Statement> Prepare(const std::string& sql) { return Statement::Prepare(db_, sql); }

  // Prepares `sql`, binds `args` to ?1.., and runs it to completion.
  template <typename... Args>
  Status Exec(const std::string& sql, const Args&... args) {
    ASSIGN_OR_RETURN(Statement st, Prepare(sql));
    st.BindAll(args...);
    return st.Run();
  }

  // Runs a conditional write on task `id`: true if it changed a row; false if
  // the condition refused it (stale); NotFound if the task does not exist.
  template <typename... Args>
  Result<bool> UpdateTask(int64_t id, const std::string& sql, const Args&... args) {
    RETURN_IF_ERROR(Exec(sql, args...));
    if (db_.Changes() > 0) return true;
    RETURN_IF_ERROR(TaskExists(id));  // NotFound, else stale
    return false;
  }

  template <typename... Args>
  Status UpdateExperiment(int64_t id, const std::string& sql, const Args&... args) {
    RETURN_IF_ERROR(Exec(sql, args...));
    if (db_.Changes() == 0) return ExperimentNotFound(id);
    return Status::Ok();
  }

  Result<std::vector<ExperimentRecord>> QueryExperiments(const std::string& where, std::optional<int64_t> arg) {
    ASSIGN_OR_RETURN(Statement st, Prepare(std::string("SELECT ") + kExperimentColumns + " FROM experiments WHERE " +
                                           where));
    if (arg) st.BindAll(*arg);
    std::vector<ExperimentRecord> out;
    RETURN_IF_ERROR(st.ForEachRow([&] { return ExperimentFromRow(db_, st, &out.emplace_back()); }));
    return out;
  }

  // Tasks matching `where` (over alias t), by id, with their deps.
  Result<std::vector<TaskRecord>> QueryTasks(const std::string& where, std::optional<int64_t> arg) {
    ASSIGN_OR_RETURN(Statement st, Prepare(std::string("SELECT ") + kTaskColumns + " FROM tasks t WHERE " + where +
                                           " ORDER BY t.id"));
    if (arg) st.BindAll(*arg);
    std::vector<TaskRecord> out;
    RETURN_IF_ERROR(st.ForEachRow([&] { return TaskFromRow(db_, st, &out.emplace_back()); }));
    if (out.empty()) return out;
    ASSIGN_OR_RETURN(Statement deps, Prepare("SELECT d.task_id, d.dep_id FROM task_deps d JOIN tasks t ON "
                                             "t.id = d.task_id WHERE " + where + " ORDER BY d.task_id, d.position"));
    if (arg) deps.BindAll(*arg);
    // Both lists are sorted by task id: merge.
    size_t i = 0;
    RETURN_IF_ERROR(deps.ForEachRow([&] {
      while (i < out.size() && out[i].id < deps.Int64(0)) ++i;
      if (i < out.size() && out[i].id == deps.Int64(0)) out[i].deps.push_back(deps.Int64(1));
      return Status::Ok();
    }));
    return out;
  }

  Result<TaskRecord> GetTaskLocked(int64_t id) {
    ASSIGN_OR_RETURN(auto rows, QueryTasks("t.id = ?", id));
    if (rows.empty()) return TaskNotFound(id);
    return rows.front();
  }

  Status TaskExists(int64_t id) {
    ASSIGN_OR_RETURN(Statement st, Prepare("SELECT 1 FROM tasks WHERE id = ?"));
    st.BindAll(id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? Status::Ok() : TaskNotFound(id);
  }

  Result<std::vector<WorkerRecord>> QueryWorkers(const std::string& where, std::optional<std::string> arg) {
    ASSIGN_OR_RETURN(Statement st, Prepare(std::string("SELECT ") + kWorkerColumns + " FROM workers WHERE " + where));
    if (arg) st.BindAll(*arg);
    std::vector<WorkerRecord> out;
    RETURN_IF_ERROR(st.ForEachRow([&] {
      WorkerFromRow(st, &out.emplace_back());
      return Status::Ok();
    }));
    return out;
  }

  Status TaskNotFound(int64_t id) const {
    return NotFound(db_.path() + ": task " + std::to_string(id) + " does not exist");
  }
  Status ExperimentNotFound(int64_t id) const {
    return NotFound(db_.path() + ": experiment " + std::to_string(id) + " does not exist");
  }

  std::mutex mu_;
  Db db_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  ASSIGN_OR_RETURN(Db db, sqlite::OpenStoreDb(path));
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(db)));
}

}  // namespace nephron::coord
