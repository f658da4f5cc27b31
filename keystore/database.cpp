#include "keystore/database.hpp"

#include "schema/migrations.hpp"
#include "schema/try.hpp"

namespace keygate::db {

namespace {

// pg_advisory_xact_lock's key for keystore transactions: any constant no other application on
// the same database uses ("keygate" in ASCII, 0x6b657967617465).
constexpr std::string_view kBeginLocked = "BEGIN; SELECT pg_advisory_xact_lock(30229394607928421)";

Result<int> postgres_schema_version(Database& db) {
  KG_TRY(exists, db.prepare("SELECT to_regclass('keygate_schema') IS NOT NULL"));
  KG_TRY(row, exists->step());
  if (!*row || exists->column_int(0) == 0) {
    return 0;
  }
  KG_TRY(version, db.prepare("SELECT coalesce(max(version), 0) FROM keygate_schema"));
  KG_TRY(has, version->step());
  return *has ? static_cast<int>(version->column_int(0)) : 0;
}

Result<void> apply_postgres_migrations(Database& db) {
  KG_TRY(tx, transaction(db));  // the advisory lock: instances starting together migrate once
  KG_CHECK(db.exec("CREATE TABLE IF NOT EXISTS keygate_schema (version BIGINT NOT NULL)"));
  KG_TRY(current, postgres_schema_version(db));
  if (*current > latest_postgres_schema_version()) {
    return fail(Error::internal(
        "database schema version " + std::to_string(*current) + " is newer than this keygate (" +
        std::to_string(latest_postgres_schema_version()) + "); upgrade keygate"));
  }
  for (const Migration& m : postgres_migrations()) {
    if (m.version <= *current) {
      continue;
    }
    if (auto applied = db.exec(m.sql); !applied) {
      Error e = applied.error();
      e.message = "migration " + std::to_string(m.version) + " (" + std::string(m.name) +
                  ") failed: " + e.message;
      return fail(std::move(e));
    }
    KG_TRY(bump, db.prepare("INSERT INTO keygate_schema(version) VALUES(?)"));
    bump->bind(1, static_cast<int64_t>(m.version));
    KG_CHECK(bump->run());
  }
  return tx->commit();
}

}  // namespace

Result<Database> Database::open(const std::string& target) {
  if (pg::is_postgres_target(target)) {
    KG_TRY(connection, pg::Connection::open(target));
    return Database(std::move(*connection));
  }
  KG_TRY(file, sqlite::Database::open(target));
  return Database(std::move(*file));
}

Result<Statement> Database::prepare(std::string_view sql) {
  if (auto* file = std::get_if<sqlite::Database>(&db_)) {
    KG_TRY(stmt, file->prepare(sql));
    return Statement(std::move(*stmt));
  }
  return Statement(std::get<std::unique_ptr<pg::Connection>>(db_)->prepare(sql));
}

Result<void> Database::exec(std::string_view sql) {
  if (auto* file = std::get_if<sqlite::Database>(&db_)) {
    return file->exec(sql);
  }
  return std::get<std::unique_ptr<pg::Connection>>(db_)->exec(sql);
}

int64_t Database::changes() const {
  if (const auto* file = std::get_if<sqlite::Database>(&db_)) {
    return file->changes();
  }
  return std::get<std::unique_ptr<pg::Connection>>(db_)->changes();
}

Result<Transaction> transaction(Database& db) {
  // IMMEDIATE takes SQLite's write lock up front, so a read-then-write never fails half-way
  // with BUSY; the advisory lock does the same between keygate instances on PostgreSQL.
  auto r =
      db.exec(db.backend() == Backend::sqlite ? std::string_view("BEGIN IMMEDIATE") : kBeginLocked);
  if (!r) {
    if (db.backend() == Backend::postgres) {
      (void)db.exec("ROLLBACK");  // BEGIN ran, the lock did not
    }
    return fail(r.error());
  }
  return Transaction(&db);
}

Result<void> apply_migrations(Database& db) {
  if (auto* file = db.sqlite()) {
    return sqlite::apply_migrations(*file);
  }
  return apply_postgres_migrations(db);
}

Result<int> schema_version(Database& db) {
  if (auto* file = db.sqlite()) {
    return sqlite::schema_version(*file);
  }
  return postgres_schema_version(db);
}

}  // namespace keygate::db
