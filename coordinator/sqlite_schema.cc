#include "coordinator/sqlite_schema.h"

#include <vector>

namespace nephron::coord::sqlite {
namespace {

// How long a statement waits for another connection's lock before failing
// with Unavailable (e.g. the sqlite3 shell holding the file open).
constexpr int kBusyTimeoutMs = 5000;

// kMigrations[i] takes the schema from version i to i + 1. Append only.
// States are stored by name (store_names.cc); times are ms since the epoch;
// a 0 time means "not yet". Nothing is ever deleted, so ids and sequence
// numbers are AUTOINCREMENT (never reused).
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> kMigrations = {
      // 1: the initial schema.
      R"sql(
CREATE TABLE experiments (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  name         TEXT    NOT NULL,
  state        TEXT    NOT NULL,
  spec_yaml    TEXT    NOT NULL,
  dir          TEXT    NOT NULL,
  error        TEXT    NOT NULL,
  created_ms   INTEGER NOT NULL,
  finished_ms  INTEGER NOT NULL,
  results_json TEXT    NOT NULL
);
CREATE TABLE tasks (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  experiment_id    INTEGER NOT NULL REFERENCES experiments(id),
  kind             TEXT    NOT NULL,
  name             TEXT    NOT NULL,
  fold             INTEGER NOT NULL,
  shard            INTEGER NOT NULL,
  num_shards       INTEGER NOT NULL,
  device_kind      TEXT    NOT NULL,
  memory_mb        INTEGER NOT NULL,
  max_attempts     INTEGER NOT NULL,
  noop_seconds     REAL    NOT NULL,
  state            TEXT    NOT NULL,
  attempt          INTEGER NOT NULL,
  worker           TEXT    NOT NULL,
  created_ms       INTEGER NOT NULL,
  started_ms       INTEGER NOT NULL,
  finished_ms      INTEGER NOT NULL,
  not_before_ms    INTEGER NOT NULL,
  error            TEXT    NOT NULL,
  permanent_error  INTEGER NOT NULL,
  progress         REAL    NOT NULL,
  progress_message TEXT    NOT NULL,
  UNIQUE (experiment_id, name)
);
CREATE INDEX tasks_by_state ON tasks(state);
-- A task's dependencies, in the order they were given.
CREATE TABLE task_deps (
  task_id  INTEGER NOT NULL REFERENCES tasks(id),
  position INTEGER NOT NULL,
  dep_id   INTEGER NOT NULL REFERENCES tasks(id),
  PRIMARY KEY (task_id, position)
);
CREATE TABLE workers (
  name              TEXT PRIMARY KEY,
  host              TEXT    NOT NULL,
  device            TEXT    NOT NULL,
  memory_mb         INTEGER NOT NULL,
  threads           INTEGER NOT NULL,
  engine_version    TEXT    NOT NULL,
  state             TEXT    NOT NULL,
  draining          INTEGER NOT NULL,
  task              INTEGER NOT NULL,
  attempt           INTEGER NOT NULL,
  registered_ms     INTEGER NOT NULL,
  last_heartbeat_ms INTEGER NOT NULL,
  tasks_done        INTEGER NOT NULL
);
-- One row per (task, epoch): the latest attempt's. dice is a JSON array
-- (null for NaN).
CREATE TABLE metrics (
  task_id       INTEGER NOT NULL REFERENCES tasks(id),
  epoch         INTEGER NOT NULL,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  fold          INTEGER NOT NULL,
  attempt       INTEGER NOT NULL,
  train_loss    REAL    NOT NULL,
  val_loss      REAL    NOT NULL,
  dice          TEXT    NOT NULL,
  ema_dice      REAL    NOT NULL,
  lr            REAL    NOT NULL,
  seconds       REAL    NOT NULL,
  PRIMARY KEY (task_id, epoch)
);
CREATE INDEX metrics_by_experiment ON metrics(experiment_id, task_id, epoch);
CREATE TABLE logs (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id INTEGER NOT NULL REFERENCES tasks(id),
  attempt INTEGER NOT NULL,
  ts_ms   INTEGER NOT NULL,
  line    TEXT    NOT NULL
);
CREATE INDEX logs_by_task ON logs(task_id, seq);
-- task_id 0: about the experiment as a whole.
CREATE TABLE events (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  task_id       INTEGER NOT NULL,
  ts_ms         INTEGER NOT NULL,
  text          TEXT    NOT NULL
);
CREATE INDEX events_by_experiment ON events(experiment_id, seq);
)sql",
      // 1 -> 2: artifacts with size and content hash.
      R"sql(
CREATE TABLE artifacts (
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  path          TEXT    NOT NULL,
  task_id       INTEGER NOT NULL,
  attempt       INTEGER NOT NULL,
  size          INTEGER NOT NULL,
  sha256        TEXT    NOT NULL,
  PRIMARY KEY (experiment_id, path)
);
)sql",
      // 2 -> 3: the name of the CURVE key a worker authenticated with.
      R"sql(
ALTER TABLE workers ADD COLUMN key_name TEXT NOT NULL DEFAULT '';
)sql",
      // 3 -> 4: how a worker reaches task files (shared data root or fetched over the link).
      R"sql(
ALTER TABLE workers ADD COLUMN files TEXT NOT NULL DEFAULT '';
)sql",
  };
  return kMigrations;
}

Result<int> UserVersion(Db& db) {
  ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, "PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status(StatusCode::kInternal, db.path() + ": PRAGMA user_version returned no row");
  return st.Int(0);
}

Status CheckNotNewer(const Db& db, int version) {
  if (version <= CurrentSchemaVersion()) return Status::Ok();
  return FailedPrecondition(db.path() + ": schema version " + std::to_string(version) +
                            " was written by a newer Nephron (this one knows up to " +
                            std::to_string(CurrentSchemaVersion()) + "); upgrade Nephron or use another database");
}

// Applies each missing migration in its own transaction. The version is read
// again under the write lock, so a concurrent opener's work is not redone.
Status Migrate(Db& db) {
  const auto& steps = Migrations();
  for (int target = 1; target <= static_cast<int>(steps.size()); ++target) {
    Transaction tx(&db);
    RETURN_IF_ERROR(tx.Begin());
    ASSIGN_OR_RETURN(int version, UserVersion(db));
    RETURN_IF_ERROR(CheckNotNewer(db, version));
    if (version >= target) continue;  // rolls back the empty transaction
    RETURN_IF_ERROR(db.Exec(steps[target - 1]).WithContext("migration to schema version " + std::to_string(target)));
    RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(target)));
    RETURN_IF_ERROR(tx.Commit());
  }
  return Status::Ok();
}

}  // namespace

int CurrentSchemaVersion() { return static_cast<int>(Migrations().size()); }

Result<Db> OpenStoreDb(const std::string& path) {
  ASSIGN_OR_RETURN(Db db, Db::Open(path));
  RETURN_IF_ERROR(db.Exec("PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs)));
  // Read before anything writes: refuses a non-database file (DataLoss) and a
  // newer schema before this code touches either.
  ASSIGN_OR_RETURN(int version, UserVersion(db));
  RETURN_IF_ERROR(CheckNotNewer(db, version));
  {
    ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, "PRAGMA journal_mode = WAL"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    const std::string mode = row ? st.Text(0) : "";
    if (mode != "wal")
      return FailedPrecondition(path + ": PRAGMA journal_mode = WAL: the database stayed in '" + mode + "' mode");
  }
  RETURN_IF_ERROR(db.Exec("PRAGMA synchronous = FULL"));
  RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = ON"));
  RETURN_IF_ERROR(Migrate(db));
  return db;
}

}  // namespace nephron::coord::sqlite
