#pragma once
// A small RAII layer over the SQLite C API. Every failure becomes a keygate::Error (500 internal,
// or 409 conflict for a UNIQUE/PRIMARY KEY violation) whose message names the operation but never
// a bound value, so secrets and tokens cannot leak through error text.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schema/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace keygate::sqlite {

using Blob = std::vector<unsigned char>;

// A prepared statement. bind() calls chain and remember the first failure; step() reports it,
// which keeps call sites short without dropping errors.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Indexes start at 1, as in SQLite.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bind(int index, std::span<const unsigned char> blob);
  Statement& bind(int index, std::nullptr_t);
  Statement& bind(int index, const std::optional<int64_t>& value);
  Statement& bind(int index, const std::optional<std::string>& value);
  // Binds `text` without copying it (SQLITE_STATIC): SQLite reads the caller's bytes when the
  // statement steps, so they must stay valid and unchanged until the last step() that uses them;
  // reset() drops the binding. For hot loops that bind strings which outlive the statement run.
  Statement& bind_static(int index, std::string_view text);
  // bind_static(), but an empty view binds NULL (keygate's "none" for optional text columns).
  Statement& bind_static_or_null(int index, std::string_view text);

  // true: a row is ready for the column getters; false: done.
  Result<bool> step();
  // Runs to completion (for statements that return no rows).
  Result<void> run();
  // Clears the statement for re-execution with new bindings.
  void reset();
  // Rewinds the statement, its bindings left in place: for a caller that binds every parameter
  // before each run (sqlite3_clear_bindings walks all of them: ~300 instructions a usage row).
  // Bindings made without a copy keep pointing at their text, which SQLite reads only in step().
  void rewind();

  // For code that copies rows whose shape it does not know (database_copy.cpp).
  enum class Type { integer, real, text, blob, null };
  int column_count() const;
  std::string column_name(int column) const;
  Type column_type(int column) const;

  bool is_null(int column) const;
  int64_t column_int(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  Blob column_blob(int column) const;
  std::optional<int64_t> column_opt_int(int column) const;
  std::optional<std::string> column_opt_text(int column) const;

 private:
  void note_bind(int rc);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_error_ = 0;  // first failing sqlite result code from bind(), 0 if none
};

// Process-wide SQLite settings, applied before SQLite first initialises (Database::open and the
// paced VFS call it; later calls do nothing). Memory statistics off: with them on, every
// allocation SQLite makes takes a global mutex to count bytes nobody reads here: 2-4% of the
// usage writer's instructions a row (callgrind, on databases of 2M and 39M rows).
void configure_library();

class Database {
 public:
  // Opens (creating if needed) the file and sets the PRAGMAs keygate relies on: WAL, foreign
  // keys, a 5 s busy timeout, secure_delete (freed pages are zeroed, so deleted ciphertexts and
  // token hashes do not linger in the file) and synchronous=NORMAL. `vfs`: a registered VFS's
  // name, or nullptr for the default one.
  static Result<Database> open(const std::string& path, const char* vfs = nullptr);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  Result<Statement> prepare(std::string_view sql);
  // Runs one or more statements without results (DDL, PRAGMAs, BEGIN/COMMIT).
  Result<void> exec(std::string_view sql);
  int64_t changes() const;
  sqlite3* handle() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// An open transaction on `Db` (anything with exec()): rolls back on destruction unless commit()
// succeeded. Made by transaction() here and by db::transaction() (keystore/database.hpp).
template <class Db>
class BasicTransaction {
 public:
  // Adopts a transaction that `db` has just begun.
  explicit BasicTransaction(Db* db) : db_(db) {}
  BasicTransaction(BasicTransaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  BasicTransaction(const BasicTransaction&) = delete;
  BasicTransaction& operator=(const BasicTransaction&) = delete;
  BasicTransaction& operator=(BasicTransaction&&) = delete;
  ~BasicTransaction() {
    if (db_ != nullptr) {
      (void)db_->exec("ROLLBACK");
    }
  }

  Result<void> commit() {
    auto r = db_->exec("COMMIT");
    if (!r) {
      return r;  // the destructor rolls back
    }
    db_ = nullptr;
    return {};
  }

 private:
  Db* db_ = nullptr;
};

using Transaction = BasicTransaction<Database>;

// BEGIN IMMEDIATE: it takes the write lock up front so a read-then-write never fails half-way
// with BUSY.
Result<Transaction> transaction(Database& db);

// Applies every migration newer than PRAGMA user_version, each in its own transaction that also
// bumps user_version. Running it again is a no-op. A database newer than this binary is refused.
Result<void> apply_migrations(Database& db);

// PRAGMA user_version.
Result<int> schema_version(Database& db);

}  // namespace keygate::sqlite
