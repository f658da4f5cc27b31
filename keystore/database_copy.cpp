#include "keystore/database_copy.hpp"

#include <algorithm>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>

#include "schema/try.hpp"

namespace keygate::db {

namespace {

// In an order the foreign keys accept: users before what references them.
constexpr std::string_view kTables[] = {"meta",   "users",     "tokens", "provider_keys",
                                        "agents", "audit_log", "usage"};

// Rows per INSERT: one round trip for many rows (usage can hold millions), well under
// PostgreSQL's 65,535 parameters (usage has 25 columns).
constexpr int kRowsPerInsert = 100;

// Tables whose `id` is an identity column on PostgreSQL: its sequence must continue after the
// copied ids.
constexpr std::string_view kIdentityIds[] = {"audit_log", "usage"};

std::string insert_sql(std::string_view table, const std::vector<std::string>& columns, int rows) {
  std::string sql = "INSERT INTO " + std::string(table) + " (";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    sql += (i ? ", " : "") + columns[i];
  }
  sql += ") VALUES ";
  for (int r = 0; r < rows; ++r) {
    sql += r ? ", (" : "(";
    for (std::size_t i = 0; i < columns.size(); ++i) {
      sql += i ? ", ?" : "?";
    }
    sql += ")";
  }
  return sql;
}

// One source value as what it is, never through text, so that blobs stay bytes and numbers
// keep their type.
using Value = std::variant<std::nullptr_t, int64_t, double, std::string, Blob>;

Value read_value(const sqlite::Statement& row, int column) {
  switch (row.column_type(column)) {
    case sqlite::Statement::Type::integer:
      return row.column_int(column);
    case sqlite::Statement::Type::real:
      return row.column_double(column);
    case sqlite::Statement::Type::text:
      return row.column_text(column);
    case sqlite::Statement::Type::blob:
      return row.column_blob(column);
    case sqlite::Statement::Type::null:
      break;
  }
  return nullptr;
}

void bind_value(Statement& target, int index, const Value& value) {
  std::visit(
      [&](const auto& v) {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, Blob>) {
          target.bind(index, std::span<const unsigned char>(v));
        } else {
          target.bind(index, v);
        }
      },
      value);
}

Result<int64_t> count_rows(Database& db, std::string_view table) {
  KG_TRY(count, db.prepare("SELECT count(*) FROM " + std::string(table)));
  KG_TRY(has_row, count->step());
  return *has_row ? count->column_int(0) : 0;
}

Result<int64_t> copy_table(sqlite::Database& from, Database& to, std::string_view table) {
  // rowid order: provider_keys' `seq` on PostgreSQL then orders keys as rowid did in SQLite.
  KG_TRY(rows, from.prepare("SELECT * FROM " + std::string(table) + " ORDER BY rowid"));
  std::vector<std::string> columns;
  for (int i = 0; i < rows->column_count(); ++i) {
    columns.push_back(rows->column_name(i));
  }
  KG_TRY(full_insert, to.prepare(insert_sql(table, columns, kRowsPerInsert)));
  std::vector<Value> batch;  // row after row, columns.size() values each
  int64_t copied = 0;
  auto flush = [&]() -> Result<void> {
    const int batch_rows = static_cast<int>(batch.size() / columns.size());
    if (batch_rows == 0) {
      return {};
    }
    std::optional<Statement> short_insert;
    if (batch_rows < kRowsPerInsert) {  // the last, shorter batch
      KG_TRY(prepared, to.prepare(insert_sql(table, columns, batch_rows)));
      short_insert.emplace(std::move(*prepared));
    }
    Statement& insert = short_insert ? *short_insert : *full_insert;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      bind_value(insert, static_cast<int>(i) + 1, batch[i]);
    }
    KG_CHECK(insert.run());
    insert.reset();
    copied += batch_rows;
    batch.clear();
    return {};
  };
  while (true) {
    KG_TRY(has_row, rows->step());
    if (!*has_row) {
      break;
    }
    for (int c = 0; c < rows->column_count(); ++c) {
      batch.push_back(read_value(*rows, c));
    }
    if (batch.size() == columns.size() * kRowsPerInsert) {
      KG_CHECK(flush());
    }
  }
  KG_CHECK(flush());
  return copied;
}

}  // namespace

Result<std::vector<CopiedTable>> copy_database(Database& from, Database& to) {
  sqlite::Database* source = from.sqlite();
  if (source == nullptr || to.backend() != Backend::postgres) {
    return fail(Error::invalid_request(
        "A copy goes from a SQLite database to a PostgreSQL one (a postgres:// URI)."));
  }
  // Every table of the source must be one this copy knows: a table added by a later migration
  // and not listed here would otherwise be left behind without a word.
  KG_TRY(tables, source->prepare("SELECT name FROM sqlite_master WHERE type = 'table' "
                                 "AND name NOT LIKE 'sqlite_%'"));
  while (true) {
    KG_TRY(has_row, tables->step());
    if (!*has_row) {
      break;
    }
    const std::string name = tables->column_text(0);
    if (std::find(std::begin(kTables), std::end(kTables), name) == std::end(kTables)) {
      return fail(Error::internal("the source has a table this copy does not know: " + name));
    }
  }
  // One snapshot of the source (WAL: a running instance's writes after it are not seen, and it
  // is not blocked), one transaction on the target.
  KG_CHECK(source->exec("BEGIN"));
  struct EndRead {
    sqlite::Database& db;
    ~EndRead() { (void)db.exec("COMMIT"); }
  } end_read{*source};
  KG_TRY(tx, transaction(to));
  // Under the keystore's advisory lock: an instance starting on the target meanwhile waits.
  for (std::string_view table : kTables) {
    KG_TRY(existing, count_rows(to, table));
    if (*existing > 0) {
      return fail(Error::conflict(
          "The target database already holds a keystore (its " + std::string(table) +
          " table has rows): copy into a database keygate has not used yet."));
    }
  }
  std::vector<CopiedTable> copied;
  for (std::string_view table : kTables) {
    KG_TRY(rows, copy_table(*source, to, table));
    KG_TRY(stored, count_rows(to, table));
    if (*stored != *rows) {
      return fail(Error::internal("copied " + std::to_string(*rows) + " rows of " +
                                  std::string(table) + " but the target holds " +
                                  std::to_string(*stored)));
    }
    copied.push_back({std::string(table), *rows});
  }
  for (std::string_view table : kIdentityIds) {
    const std::string t(table);
    KG_CHECK(to.exec("SELECT setval(pg_get_serial_sequence('" + t +
                     "', 'id'), "
                     "COALESCE(max(id), 0) + 1, false) FROM " +
                     t));
  }
  KG_CHECK(tx->commit());
  return copied;
}

}  // namespace keygate::db
