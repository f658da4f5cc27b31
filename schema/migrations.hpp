#pragma once
// The SQL schema of keygate, as an ordered list of migrations. Each migration runs once, in its
// own transaction, and bumps PRAGMA user_version to its `version` (keystore/sqlite.cpp applies
// them). Never edit a migration that has shipped: append a new one.

#include <span>
#include <string_view>

namespace keygate {

struct Migration {
  int version;            // 1, 2, 3... strictly increasing; stored in PRAGMA user_version
  std::string_view name;  // for error messages
  std::string_view sql;   // one or more statements
};

std::span<const Migration> migrations();

// The version a fully migrated database has (the last migration's).
int latest_schema_version();

// PostgreSQL's list (keystore/database.cpp applies it): the same tables in PostgreSQL's types,
// with versions of its own, kept in the keygate_schema table.
std::span<const Migration> postgres_migrations();
int latest_postgres_schema_version();

}  // namespace keygate
