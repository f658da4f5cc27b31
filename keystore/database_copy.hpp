#pragma once
// Moves an embedded keygate (a SQLite file) onto a PostgreSQL database, so that several
// instances can share it: every row of every keystore table, as stored. Keys stay sealed and
// tokens hashed (the rows are copied, not re-encrypted), so the same master key opens the copy
// and every token still authenticates; no secret is ever in plaintext on the way.

#include <cstdint>
#include <string>
#include <vector>

#include "keystore/database.hpp"
#include "schema/error.hpp"

namespace keygate::db {

struct CopiedTable {
  std::string name;
  int64_t rows = 0;
};

// `from`: a SQLite keystore; `to`: a PostgreSQL one with no keystore in it yet (no users, no
// meta: never opened by keygate serve or init); both migrated to their latest schema. The
// source is read in one snapshot; the target is written in one transaction (under the
// keystore's advisory lock), so a failed copy leaves it empty. Each table's row count is
// checked on the target before the commit.
Result<std::vector<CopiedTable>> copy_database(Database& from, Database& to);

}  // namespace keygate::db
