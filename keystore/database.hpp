#pragma once
// The keystore's database, whichever it is: a SQLite file (the embedded default) or a
// PostgreSQL server that several keygate instances share. Both speak through the same small
// API as keystore/sqlite.hpp, so the keystore's SQL is written once; it sticks to what both
// dialects accept (`?` placeholders, ON CONFLICT, RETURNING, IS NOT DISTINCT FROM), and the few
// differences are named here (insertion_order) or live in each backend's migrations.
//
// Transactions: SQLite has one writer at a time (BEGIN IMMEDIATE). On PostgreSQL a keystore
// transaction takes a transaction-scoped advisory lock, so keystore writes from several
// instances are serialised the same way and a read-then-write never interleaves with another
// instance's (keystore writes are rare: users, tokens, keys, agents). Usage rows are not
// keystore transactions and do not take it.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "keystore/postgres.hpp"
#include "keystore/sqlite.hpp"
#include "schema/error.hpp"

namespace keygate::db {

enum class Backend { sqlite, postgres };

using Blob = std::vector<unsigned char>;

class Statement {
 public:
  explicit Statement(sqlite::Statement s) : s_(std::move(s)) {}
  explicit Statement(pg::Statement s) : s_(std::move(s)) {}

  // Every overload of the backends' bind(), bind_static() and bind_static_or_null().
  template <class T>
  Statement& bind(int index, T&& value) {
    std::visit([&](auto& s) { s.bind(index, std::forward<T>(value)); }, s_);
    return *this;
  }
  Statement& bind_static(int index, std::string_view text) {
    std::visit([&](auto& s) { s.bind_static(index, text); }, s_);
    return *this;
  }
  Statement& bind_static_or_null(int index, std::string_view text) {
    std::visit([&](auto& s) { s.bind_static_or_null(index, text); }, s_);
    return *this;
  }

  Result<bool> step() {
    return std::visit([](auto& s) { return s.step(); }, s_);
  }
  Result<void> run() {
    return std::visit([](auto& s) { return s.run(); }, s_);
  }
  void reset() {
    std::visit([](auto& s) { s.reset(); }, s_);
  }

  bool is_null(int column) const {
    return std::visit([&](auto& s) { return s.is_null(column); }, s_);
  }
  int64_t column_int(int column) const {
    return std::visit([&](auto& s) { return s.column_int(column); }, s_);
  }
  double column_double(int column) const {
    return std::visit([&](auto& s) { return s.column_double(column); }, s_);
  }
  std::string column_text(int column) const {
    return std::visit([&](auto& s) { return s.column_text(column); }, s_);
  }
  Blob column_blob(int column) const {
    return std::visit([&](auto& s) { return s.column_blob(column); }, s_);
  }
  std::optional<int64_t> column_opt_int(int column) const {
    return std::visit([&](auto& s) { return s.column_opt_int(column); }, s_);
  }
  std::optional<std::string> column_opt_text(int column) const {
    return std::visit([&](auto& s) { return s.column_opt_text(column); }, s_);
  }

 private:
  std::variant<sqlite::Statement, pg::Statement> s_;
};

class Database {
 public:
  // `target`: a postgres:// or postgresql:// URI, or else a SQLite file's path (created if
  // missing). Does not migrate: see apply_migrations().
  static Result<Database> open(const std::string& target);
  explicit Database(sqlite::Database db) : db_(std::move(db)) {}
  explicit Database(std::unique_ptr<pg::Connection> db) : db_(std::move(db)) {}

  Backend backend() const {
    return std::holds_alternative<sqlite::Database>(db_) ? Backend::sqlite : Backend::postgres;
  }
  Result<Statement> prepare(std::string_view sql);
  // Runs one or more statements without parameters or results (DDL, BEGIN/COMMIT).
  Result<void> exec(std::string_view sql);
  int64_t changes() const;

  // A column that orders a table's rows by insertion, for ties: SQLite's rowid; on PostgreSQL
  // the tables that need one have a `seq` identity column.
  std::string_view insertion_order() const {
    return backend() == Backend::sqlite ? "rowid" : "seq";
  }

  // The SQLite connection, or null on PostgreSQL (for SQLite-only tuning).
  sqlite::Database* sqlite() { return std::get_if<sqlite::Database>(&db_); }

 private:
  std::variant<sqlite::Database, std::unique_ptr<pg::Connection>> db_;
};

// See the header comment. Rolls back on destruction unless commit() succeeded.
using Transaction = sqlite::BasicTransaction<Database>;

Result<Transaction> transaction(Database& db);

// Brings the schema up to date (SQLite: schema/migrations.hpp's list, versioned in PRAGMA
// user_version; PostgreSQL: its own list, versioned in the keygate_schema table, under an
// advisory lock so instances starting together migrate once). A database newer than this
// binary is refused.
Result<void> apply_migrations(Database& db);

// The schema version the database is at.
Result<int> schema_version(Database& db);

}  // namespace keygate::db
