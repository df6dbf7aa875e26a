// A thin RAII layer over the sqlite3 C API for the coordinator's store: a
// connection (Db), a prepared statement (Statement) and a write transaction
// (Transaction). Every failure becomes a Status whose message names the
// database file, the operation (the SQL, shortened) and SQLite's reason:
//   "/var/lib/nephron/coord.db: INSERT INTO tasks(...: FOREIGN KEY constraint failed"
// None of these classes is thread-safe; the owner serialises all calls on one
// connection (SqliteStore holds a mutex). All are move-only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace nephron::coord::sqlite {

class Db {
 public:
  // Opens (creating if absent) `path` read-write. A file that exists but is
  // not a database opens fine; the first statement reports it (DataLoss).
  static Result<Db> Open(const std::string& path);

  Db() = default;
  ~Db();
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Runs `sql` (one or more statements, no parameters, rows ignored).
  Status Exec(const std::string& sql);
  // Rows changed by the last INSERT/UPDATE/DELETE; its last inserted rowid.
  int64_t Changes() const;
  int64_t LastInsertId() const;

  // The Status for result code `rc` of operation `op`. Busy/locked and I/O
  // errors are Unavailable, a corrupt or non-database file DataLoss, a
  // constraint InvalidArgument, anything else Internal.
  Status Error(int rc, const std::string& op) const;

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  static Result<Statement> Prepare(Db& db, const std::string& sql);

  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based. A failed bind is reported by the next Step/Run.
  Statement& Bind(int index, int64_t v);
  Statement& Bind(int index, int v) { return Bind(index, static_cast<int64_t>(v)); }
  Statement& Bind(int index, bool v) { return Bind(index, static_cast<int64_t>(v ? 1 : 0)); }
  Statement& Bind(int index, double v);
  Statement& Bind(int index, const std::string& v);
  Statement& Bind(int index, const char* v) { return Bind(index, std::string(v)); }
  // Binds `args` to parameters 1, 2, ... in order.
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    int index = 0;
    (Bind(++index, args), ...);
    return *this;
  }

  // True when a row is ready to read, false when the statement is done.
  Result<bool> Step();
  // Steps to completion, ignoring any rows.
  Status Run();
  // Makes the statement ready to bind and run again (bindings are kept).
  void Reset();
  // Calls `fn()` (returning Status) for each row; stops at the first error.
  template <typename Fn>
  Status ForEachRow(Fn&& fn) {
    for (;;) {
      ASSIGN_OR_RETURN(bool row, Step());
      if (!row) return Status::Ok();
      RETURN_IF_ERROR(fn());
    }
  }

  // Columns of the current row, 0-based. NULL reads as 0 / "".
  int64_t Int64(int col) const;
  int Int(int col) const { return static_cast<int>(Int64(col)); }
  bool Bool(int col) const { return Int64(col) != 0; }
  double Double(int col) const;
  std::string Text(int col) const;

  // The operation as it appears in messages (the SQL, shortened).
  const std::string& op() const { return op_; }

 private:
  Statement(Db* db, sqlite3_stmt* stmt, std::string op) : db_(db), stmt_(stmt), op_(std::move(op)) {}
  void NoteBind(int rc, int index);

  Db* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string op_;
  Status bind_status_;
};

// BEGIN IMMEDIATE (the write lock is taken up front, so a read-then-write
// inside cannot fail half-way on a lock upgrade). Rolls back on destruction
// unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db* db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin();
  Status Commit();

 private:
  Db* db_;
  bool open_ = false;
};

}  // namespace nephron::coord::sqlite
