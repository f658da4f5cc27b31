#include "keystore/sqlite.hpp"

#include <sqlite3.h>

#include "schema/migrations.hpp"

namespace keygate::sqlite {

namespace {

// SQLite's messages name tables, columns and SQL fragments, never bound parameters, so they are
// safe to surface; all keygate SQL binds its values.
Error db_error(sqlite3* db, int rc, std::string_view what) {
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int ext = db ? sqlite3_extended_errcode(db) : rc;
  if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Error::conflict("already exists (" + detail + ")");
  }
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
    return Error::unavailable("database is busy: " + std::string(what), "database_busy");
  }
  return Error::internal("database error during " + std::string(what) + ": " + detail);
}

}  // namespace

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    bind_error_ = other.bind_error_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

void Statement::note_bind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == 0) {
    bind_error_ = rc;
  }
}

Statement& Statement::bind(int index, int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  note_bind(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  // data() of an empty view may be null, which SQLite would store as NULL; "" keeps it TEXT.
  const char* p = text.empty() ? "" : text.data();
  note_bind(sqlite3_bind_text64(stmt_, index, p, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_static(int index, std::string_view text) {
  const char* p = text.empty() ? "" : text.data();  // as in bind(): "" stays TEXT, not NULL
  note_bind(sqlite3_bind_text64(stmt_, index, p, text.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_static_or_null(int index, std::string_view text) {
  return text.empty() ? bind(index, nullptr) : bind_static(index, text);
}

Statement& Statement::bind(int index, std::span<const unsigned char> blob) {
  static const unsigned char kEmpty = 0;
  const void* p = blob.empty() ? &kEmpty : blob.data();
  note_bind(sqlite3_bind_blob64(stmt_, index, p, blob.size(), SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  note_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Statement& Statement::bind(int index, const std::optional<int64_t>& value) {
  return value ? bind(index, *value) : bind(index, nullptr);
}

Statement& Statement::bind(int index, const std::optional<std::string>& value) {
  return value ? bind(index, std::string_view(*value)) : bind(index, nullptr);
}

Result<bool> Statement::step() {
  if (bind_error_ != 0) {
    return fail(Error::internal(std::string("database error binding a parameter: ") +
                                sqlite3_errstr(bind_error_)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  Error e = db_error(db_, rc, "a query");
  sqlite3_reset(stmt_);
  return fail(std::move(e));
}

Result<void> Statement::run() {
  while (true) {
    auto r = step();
    if (!r) {
      return fail(r.error());
    }
    if (!*r) {
      return {};
    }
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = 0;
}

void Statement::rewind() {
  sqlite3_reset(stmt_);
  bind_error_ = 0;
}

int Statement::column_count() const {
  return sqlite3_column_count(stmt_);
}

std::string Statement::column_name(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name ? name : "";
}

Statement::Type Statement::column_type(int column) const {
  switch (sqlite3_column_type(stmt_, column)) {
    case SQLITE_INTEGER:
      return Type::integer;
    case SQLITE_FLOAT:
      return Type::real;
    case SQLITE_TEXT:
      return Type::text;
    case SQLITE_BLOB:
      return Type::blob;
    default:
      return Type::null;
  }
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::column_int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::column_double(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Statement::column_text(int column) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (p == nullptr) {
    return {};
  }
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

Blob Statement::column_blob(int column) const {
  auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, column));
  if (p == nullptr) {
    return {};
  }
  return Blob(p, p + sqlite3_column_bytes(stmt_, column));
}

std::optional<int64_t> Statement::column_opt_int(int column) const {
  if (is_null(column)) {
    return std::nullopt;
  }
  return column_int(column);
}

std::optional<std::string> Statement::column_opt_text(int column) const {
  if (is_null(column)) {
    return std::nullopt;
  }
  return column_text(column);
}

void configure_library() {
  // SQLITE_MISUSE when SQLite was initialised first (by code outside keygate): then its
  // defaults stay, which are correct, only slower.
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)configured;
}

Result<Database> Database::open(const std::string& path, const char* vfs) {
  configure_library();
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs);
  Database db(raw);  // owns the handle even when open failed
  if (rc != SQLITE_OK) {
    return fail(Error::internal("cannot open database " + path + ": " +
                                (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  auto pragmas = db.exec(
      "PRAGMA journal_mode=WAL;"
      "PRAGMA foreign_keys=ON;"
      "PRAGMA secure_delete=ON;"
      "PRAGMA synchronous=NORMAL;");
  if (!pragmas) {
    return fail(pragmas.error());
  }
  return db;
}

Database::Database(Database&& other) noexcept : db_(other.db_) {
  other.db_ = nullptr;
}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = other.db_;
    other.db_ = nullptr;
  }
  return *this;
}

Database::~Database() {
  sqlite3_close_v2(db_);
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return fail(db_error(db_, rc, "prepare"));
  }
  return Statement(db_, stmt);
}

Result<void> Database::exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec needs a terminated string
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return fail(db_error(db_, rc, "exec"));
  }
  return {};
}

int64_t Database::changes() const {
  return sqlite3_changes64(db_);
}

Result<Transaction> transaction(Database& db) {
  auto r = db.exec("BEGIN IMMEDIATE");
  if (!r) {
    return fail(r.error());
  }
  return Transaction(&db);
}

Result<int> schema_version(Database& db) {
  auto stmt = db.prepare("PRAGMA user_version");
  if (!stmt) {
    return fail(stmt.error());
  }
  auto row = stmt->step();
  if (!row) {
    return fail(row.error());
  }
  return *row ? static_cast<int>(stmt->column_int(0)) : 0;
}

Result<void> apply_migrations(Database& db) {
  for (const Migration& m : migrations()) {
    auto tx = transaction(db);
    if (!tx) {
      return fail(tx.error());
    }
    // Read the version inside the write transaction, so two processes migrating the same file
    // cannot both apply the same step.
    auto current = schema_version(db);
    if (!current) {
      return fail(current.error());
    }
    if (*current > latest_schema_version()) {
      return fail(Error::internal("database schema version " + std::to_string(*current) +
                                  " is newer than this keygate (" +
                                  std::to_string(latest_schema_version()) + "); upgrade keygate"));
    }
    if (*current >= m.version) {
      continue;  // the transaction rolls back: nothing was written
    }
    auto applied = db.exec(m.sql);
    if (!applied) {
      Error e = applied.error();
      e.message = "migration " + std::to_string(m.version) + " (" + std::string(m.name) +
                  ") failed: " + e.message;
      return fail(std::move(e));
    }
    auto bumped = db.exec("PRAGMA user_version = " + std::to_string(m.version));
    if (!bumped) {
      return fail(bumped.error());
    }
    if (auto c = tx->commit(); !c) {
      return c;
    }
  }
  return {};
}

}  // namespace keygate::sqlite
