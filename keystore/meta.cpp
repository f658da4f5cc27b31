#include "keystore/meta.hpp"

#include <charconv>

namespace keygate::meta {

Result<std::optional<db::Blob>> get(db::Database& db, std::string_view key) {
  auto stmt = db.prepare("SELECT value FROM meta WHERE key = ?");
  if (!stmt) {
    return fail(stmt.error());
  }
  stmt->bind(1, key);
  auto row = stmt->step();
  if (!row) {
    return fail(row.error());
  }
  if (!*row) {
    return std::optional<db::Blob>{};
  }
  return std::optional<db::Blob>(stmt->column_blob(0));
}

Result<std::optional<std::string>> get_text(db::Database& db, std::string_view key) {
  auto blob = get(db, key);
  if (!blob) {
    return fail(blob.error());
  }
  if (!*blob) {
    return std::optional<std::string>{};
  }
  return std::optional<std::string>(std::string((*blob)->begin(), (*blob)->end()));
}

Result<std::optional<int64_t>> get_int(db::Database& db, std::string_view key) {
  auto text = get_text(db, key);
  if (!text) {
    return fail(text.error());
  }
  if (!*text) {
    return std::optional<int64_t>{};
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars((*text)->data(), (*text)->data() + (*text)->size(), v);
  if (ec != std::errc() || ptr != (*text)->data() + (*text)->size()) {
    return fail(Error::internal("meta value '" + std::string(key) + "' is not an integer"));
  }
  return std::optional<int64_t>(v);
}

Result<void> put(db::Database& db, std::string_view key, std::span<const unsigned char> value) {
  auto stmt = db.prepare(
      "INSERT INTO meta(key, value) VALUES(?, ?) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!stmt) {
    return fail(stmt.error());
  }
  stmt->bind(1, key).bind(2, value);
  return stmt->run();
}

Result<void> put_text(db::Database& db, std::string_view key, std::string_view value) {
  return put(db, key,
             std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(value.data()),
                                            value.size()));
}

Result<void> erase(db::Database& db, std::string_view key) {
  auto stmt = db.prepare("DELETE FROM meta WHERE key = ?");
  if (!stmt) {
    return fail(stmt.error());
  }
  stmt->bind(1, key);
  return stmt->run();
}

}  // namespace keygate::meta
