#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "keystore/sqlite.hpp"
#include "schema/migrations.hpp"
#include "test_support.hpp"

using namespace keygate;

namespace {

bool table_exists(sqlite::Database& db, const std::string& name) {
  auto stmt = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  REQUIRE(stmt.has_value());
  stmt->bind(1, name);
  auto row = stmt->step();
  REQUIRE(row.has_value());
  return *row;
}

std::string pragma_text(sqlite::Database& db, const char* pragma) {
  auto stmt = db.prepare(std::string("PRAGMA ") + pragma);
  REQUIRE(stmt.has_value());
  REQUIRE(stmt->step().value());
  return stmt->column_text(0);
}

}  // namespace

TEST_CASE("migrations create every table in a fresh file and set user_version", "[sqlite]") {
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("k.db"));
  REQUIRE(db.has_value());
  REQUIRE(sqlite::apply_migrations(*db).has_value());
  CHECK(sqlite::schema_version(*db).value() == latest_schema_version());
  for (const char* t :
       {"users", "tokens", "provider_keys", "agents", "audit_log", "meta", "usage"}) {
    INFO(t);
    CHECK(table_exists(*db, t));
  }
}

TEST_CASE("re-applying migrations and reopening is a no-op (guards double-apply on restart)",
          "[sqlite]") {
  testing::TempDir dir;
  {
    auto db = sqlite::Database::open(dir.file("k.db"));
    REQUIRE(sqlite::apply_migrations(*db).has_value());
    REQUIRE(db->exec("INSERT INTO meta(key, value) VALUES('probe', 'kept')").has_value());
    REQUIRE(sqlite::apply_migrations(*db).has_value());
  }
  auto db = sqlite::Database::open(dir.file("k.db"));
  REQUIRE(sqlite::apply_migrations(*db).has_value());
  CHECK(sqlite::schema_version(*db).value() == latest_schema_version());
  auto stmt = db->prepare("SELECT value FROM meta WHERE key = 'probe'");
  REQUIRE(stmt->step().value());
  CHECK(stmt->column_text(0) == "kept");
}

TEST_CASE("a version 2 database keeps its usage rows when it gains the version 3 columns",
          "[sqlite]") {
  // Guards against an upgrade that loses recorded usage, or leaves old rows with NULL counts a
  // report would sum wrongly.
  testing::TempDir dir;
  {
    auto db = sqlite::Database::open(dir.file("k.db"));
    REQUIRE(db.has_value());
    for (const Migration& m : migrations().first(2)) {
      REQUIRE(db->exec(m.sql).has_value());
    }
    REQUIRE(db->exec("PRAGMA user_version = 2").has_value());
    REQUIRE(db->exec("INSERT INTO usage (request_id, started_at_ms, prompt_tokens, "
                     "cached_tokens, usage_known, cost_usd, day) VALUES "
                     "('req_old', 1, 100, 60, 'reported', 0.5, '1970-01-01')")
                .has_value());
  }
  auto db = sqlite::Database::open(dir.file("k.db"));
  REQUIRE(sqlite::apply_migrations(*db).has_value());
  CHECK(sqlite::schema_version(*db).value() == latest_schema_version());
  auto row = db->prepare(
      "SELECT prompt_tokens, cached_tokens, cost_usd, cache_write_tokens, web_search_requests "
      "FROM usage WHERE request_id = 'req_old'");
  REQUIRE(row.has_value());
  REQUIRE(row->step().value());
  CHECK(row->column_int(0) == 100);
  CHECK(row->column_int(1) == 60);
  CHECK(row->column_double(2) == 0.5);
  CHECK(row->column_int(3) == 0);
  CHECK(row->column_int(4) == 0);
}

TEST_CASE("a version 3 database's users come through with no budget or rate limit of their own",
          "[sqlite][budget]") {
  // NULL, not 0: a budget of 0 would cut every existing user off the operator's keys.
  testing::TempDir dir;
  {
    auto db = sqlite::Database::open(dir.file("k.db"));
    REQUIRE(db.has_value());
    for (const Migration& m : migrations().first(3)) {
      REQUIRE(db->exec(m.sql).has_value());
    }
    REQUIRE(db->exec("PRAGMA user_version = 3").has_value());
    REQUIRE(db->exec("INSERT INTO users (id, name, role, created_at) VALUES "
                     "('usr_old', 'old', 'user', 1)")
                .has_value());
  }
  auto db = sqlite::Database::open(dir.file("k.db"));
  REQUIRE(sqlite::apply_migrations(*db).has_value());
  CHECK(sqlite::schema_version(*db).value() == latest_schema_version());
  auto row = db->prepare(
      "SELECT name, system_key_budget_usd, requests_per_minute FROM users WHERE id = 'usr_old'");
  REQUIRE(row.has_value());
  REQUIRE(row->step().value());
  CHECK(row->column_text(0) == "old");
  CHECK(row->is_null(1));
  CHECK(row->is_null(2));
}

TEST_CASE("a database from a newer keygate is refused", "[sqlite]") {
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("k.db"));
  REQUIRE(db->exec("PRAGMA user_version = 9999").has_value());
  auto r = sqlite::apply_migrations(*db);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("newer") != std::string::npos);
}

TEST_CASE("open sets WAL, foreign keys and secure_delete", "[sqlite]") {
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("k.db"));
  REQUIRE(db.has_value());
  CHECK(pragma_text(*db, "journal_mode") == "wal");
  CHECK(pragma_text(*db, "foreign_keys") == "1");
  CHECK(pragma_text(*db, "secure_delete") == "1");
}

TEST_CASE("transaction rolls back unless committed; UNIQUE violation is a 409", "[sqlite]") {
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("k.db"));
  REQUIRE(sqlite::apply_migrations(*db).has_value());
  {
    auto tx = sqlite::transaction(*db);
    REQUIRE(tx.has_value());
    REQUIRE(db->exec("INSERT INTO meta(key, value) VALUES('a', 'x')").has_value());
  }
  auto count = db->prepare("SELECT count(*) FROM meta WHERE key = 'a'");
  REQUIRE(count->step().value());
  CHECK(count->column_int(0) == 0);

  REQUIRE(db->exec("INSERT INTO meta(key, value) VALUES('b', 'x')").has_value());
  auto dup = db->exec("INSERT INTO meta(key, value) VALUES('b', 'y')");
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().status == 409);
}

TEST_CASE("statement binds and reads every type", "[sqlite]") {
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("k.db"));
  auto stmt = db->prepare("SELECT ?, ?, ?, ?, ?");
  REQUIRE(stmt.has_value());
  std::vector<unsigned char> blob{0, 1, 2, 255};
  stmt->bind(1, int64_t{42})
      .bind(2, 1.5)
      .bind(3, std::string("text"))
      .bind(4, blob)
      .bind(5, nullptr);
  REQUIRE(stmt->step().value());
  CHECK(stmt->column_int(0) == 42);
  CHECK(stmt->column_double(1) == 1.5);
  CHECK(stmt->column_text(2) == "text");
  CHECK(stmt->column_blob(3) == blob);
  CHECK(stmt->is_null(4));
  CHECK_FALSE(stmt->column_opt_int(4).has_value());
}

TEST_CASE("bind_static reads the caller's bytes; empty is TEXT, or NULL with _or_null",
          "[sqlite]") {
  // Guards against: the usage writer's copy-free binding storing "" as NULL (request_id and
  // usage_known are NOT NULL) or an optional column's "" as "" instead of NULL ("none").
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("k.db"));
  auto stmt = db->prepare("SELECT ?, ?, ?, ?, typeof(?2), typeof(?4)");
  REQUIRE(stmt.has_value());
  const std::string text = "gpt-4o-mini";
  const std::string empty;
  stmt->bind_static(1, text)
      .bind_static(2, std::string_view(empty))
      .bind_static_or_null(3, text)
      .bind_static_or_null(4, empty);
  REQUIRE(stmt->step().value());
  CHECK(stmt->column_text(0) == "gpt-4o-mini");
  CHECK(stmt->column_text(4) == "text");
  CHECK(stmt->column_text(2) == "gpt-4o-mini");
  CHECK(stmt->column_text(5) == "null");
  CHECK(stmt->is_null(3));
}

TEST_CASE("SQLite keeps no memory statistics (a global mutex on every allocation)", "[sqlite]") {
  // Guards against: configure_library() not running before SQLite initialises, which leaves every
  // SQLite allocation in the process (the usage writer's above all) taking a global mutex.
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("k.db"));
  REQUIRE(db.has_value());
  REQUIRE(sqlite::apply_migrations(*db).has_value());
  REQUIRE(db->exec("INSERT INTO meta(key, value) VALUES('probe', zeroblob(100000))").has_value());
  CHECK(sqlite3_memory_used() == 0);  // counted only with statistics on
}
