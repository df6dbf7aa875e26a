// The coordinator database's schema and how a connection to it is set up.
//
// The schema version is SQLite's `PRAGMA user_version`. Migration N (1-based)
// takes a database from version N-1 to N inside its own BEGIN IMMEDIATE
// transaction, so a crash mid-migration leaves the previous version intact,
// and two coordinators opening the same new file do not both migrate it.
// Migrations are append-only: a released step is never edited.
#pragma once

#include <string>

#include "common/status.h"
#include "coordinator/sqlite_util.h"

namespace nephron::coord::sqlite {

// The version this code writes (the number of migrations).
int CurrentSchemaVersion();

// Opens `path` ready for the store: busy timeout, WAL journal,
// synchronous=FULL, foreign keys on, schema migrated to the current version.
// FailedPrecondition naming the file if it was written by a newer schema;
// DataLoss if the file is not a SQLite database.
Result<Db> OpenStoreDb(const std::string& path);

}  // namespace nephron::coord::sqlite
