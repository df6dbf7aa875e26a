#include "coordinator/sqlite_util.h"

#include <sqlite3.h>

namespace nephron::coord::sqlite {
namespace {

// SQL as it appears in messages: one line, at most ~70 characters.
std::string ShortOp(const std::string& sql) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    const bool ws = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= 70) return out + "...";
  }
  return out;
}

StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return StatusCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StatusCode::kDataLoss;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      return StatusCode::kInvalidArgument;
    default:
      return StatusCode::kInternal;
  }
}

}  // namespace

Result<Db> Db::Open(const std::string& path) {
  sqlite3* handle = nullptr;
  // NOMUTEX: the owner serialises access; SQLite's own mutex would be a second lock.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  Db db(handle, path);  // closes the handle on every path out
  if (handle == nullptr) return Status(StatusCode::kInternal, path + ": open: out of memory");
  if (rc != SQLITE_OK) return db.Error(rc, "open");
  sqlite3_extended_result_codes(handle, 1);
  return db;
}

Db::~Db() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Db::Db(Db&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) { other.db_ = nullptr; }

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    other.db_ = nullptr;
  }
  return *this;
}

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  const std::string reason = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status(CodeFor(rc), path_ + ": " + ShortOp(sql) + ": " + reason);
}

int64_t Db::Changes() const { return sqlite3_changes(db_); }
int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }

Status Db::Error(int rc, const std::string& op) const {
  // The connection's message is the detailed one ("no such table: x") when it
  // belongs to this error; otherwise fall back to the generic text for rc.
  std::string reason = sqlite3_errstr(rc);
  if (db_ != nullptr && sqlite3_extended_errcode(db_) == rc) reason = sqlite3_errmsg(db_);
  return Status(CodeFor(rc), path_ + ": " + op + ": " + reason);
}

Result<Statement> Statement::Prepare(Db& db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), static_cast<int>(sql.size() + 1), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return db.Error(rc, ShortOp(sql));
  }
  return Statement(&db, stmt, ShortOp(sql));
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), op_(std::move(other.op_)), bind_status_(std::move(other.bind_status_)) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    op_ = std::move(other.op_);
    bind_status_ = std::move(other.bind_status_);
    other.stmt_ = nullptr;
  }
  return *this;
}

void Statement::NoteBind(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok())
    bind_status_ = db_->Error(rc, op_ + " (binding parameter " + std::to_string(index) + ")");
}

Statement& Statement::Bind(int index, int64_t v) {
  NoteBind(sqlite3_bind_int64(stmt_, index, v), index);
  return *this;
}

Statement& Statement::Bind(int index, double v) {
  NoteBind(sqlite3_bind_double(stmt_, index, v), index);
  return *this;
}

Statement& Statement::Bind(int index, const std::string& v) {
  NoteBind(sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT), index);
  return *this;
}

Result<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, op_);
}

Status Statement::Run() {
  return ForEachRow([] { return Status::Ok(); });
}

void Statement::Reset() {
  // sqlite3_reset repeats the last step's error, which Run already reported.
  (void)sqlite3_reset(stmt_);
}

int64_t Statement::Int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::Double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

Transaction::~Transaction() {
  // Best effort: a failed ROLLBACK leaves SQLite to roll back on close.
  if (open_) (void)db_->Exec("ROLLBACK");
}

Status Transaction::Begin() {
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  open_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  open_ = false;
  return Status::Ok();
}

}  // namespace nephron::coord::sqlite
