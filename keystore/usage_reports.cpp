#include "keystore/usage_reports.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include <sqlite3.h>

#include "schema/json.hpp"
#include "schema/time.hpp"
#include "schema/try.hpp"

namespace keygate {

namespace {

constexpr UsageKey kAllKeys[] = {UsageKey::user,  UsageKey::agent,      UsageKey::provider,
                                 UsageKey::model, UsageKey::key_source, UsageKey::day};
constexpr int64_t kDayMs = 86'400'000;

// The column of each group key, in UsageKey order.
constexpr const char* kKeyColumns[] = {"user_id",      "agent",      "provider",
                                       "model_served", "key_source", "day"};

// The scan's columns: flags and measures, computed by SQLite so that the per-row work here is a
// few integer reads, then one column per group key.
enum Column {
  c_error,
  c_unknown,
  c_prompt,
  c_completion,
  c_cost,
  c_latency,
  c_cached,
  c_cache_write,
  c_searches,
  c_unpriced,
  c_keys
};

struct Group {
  std::vector<std::optional<std::string>> keys;
  UsageTotals totals;
  std::vector<int64_t> latencies;
};

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using RawStatement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

Error scan_error(sqlite3* db) {
  return Error::internal(std::string("database error during a usage report: ") +
                         sqlite3_errmsg(db));
}

void add_row(UsageTotals& t, sqlite3_stmt* s) {
  ++t.requests;
  t.errors += sqlite3_column_int64(s, c_error);
  t.unknown_usage += sqlite3_column_int64(s, c_unknown);
  const int64_t prompt = sqlite3_column_int64(s, c_prompt);
  const int64_t completion = sqlite3_column_int64(s, c_completion);
  t.prompt_tokens += prompt;
  t.completion_tokens += completion;
  t.total_tokens += prompt + completion;
  t.cost_usd += sqlite3_column_double(s, c_cost);  // NULL (no known price) reads as 0.0
  t.cached_tokens += sqlite3_column_int64(s, c_cached);
  t.cache_write_tokens += sqlite3_column_int64(s, c_cache_write);
  t.web_search_requests += sqlite3_column_int64(s, c_searches);
  t.unpriced += sqlite3_column_int64(s, c_unpriced);
}

std::optional<std::string> opt_column(sqlite3_stmt* s, int column) {
  if (sqlite3_column_type(s, column) == SQLITE_NULL) {
    return std::nullopt;
  }
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, column));
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, column)));
}

// Whether [from, to) spans most of the table's time range: then a plain table scan beats one
// index probe per row (measured about 3x on a million rows). Both ends come from the index.
Result<bool> covers_most(db::Database& db, int64_t from_ms, int64_t to_ms) {
  KG_TRY(span, db.prepare("SELECT min(started_at_ms), max(started_at_ms) FROM usage"));
  KG_TRY(row, span->step());
  if (!*row || span->is_null(0)) {
    return false;
  }
  const int64_t lo = span->column_int(0);
  const int64_t hi = span->column_int(1) + 1;
  const int64_t overlap = std::min(hi, to_ms) - std::max(lo, from_ms);
  return overlap * 4 > (hi - lo);  // more than a quarter of the time span
}

// Nearest-rank percentile of sorted values: the smallest value with at least p of them at or
// below it.
int64_t percentile(const std::vector<int64_t>& sorted, double p) {
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void finish_latencies(UsageTotals& t, std::vector<int64_t>& latencies) {
  if (latencies.empty()) {
    return;
  }
  std::sort(latencies.begin(), latencies.end());
  t.latency_ms_p50 = percentile(latencies, 0.50);
  t.latency_ms_p95 = percentile(latencies, 0.95);
}

std::string number_text(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

std::string opt_text(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string();
}

// The columns added after unknown_usage come last, so a CSV reader counting columns keeps working.
constexpr const char* kMeasures[] = {
    "requests",      "errors",        "prompt_tokens",      "completion_tokens",
    "total_tokens",  "cost_usd",      "latency_ms_p50",     "latency_ms_p95",
    "unknown_usage", "cached_tokens", "cache_write_tokens", "web_search_requests",
    "unpriced"};

std::vector<std::string> measure_cells(const UsageTotals& t) {
  return {std::to_string(t.requests),
          std::to_string(t.errors),
          std::to_string(t.prompt_tokens),
          std::to_string(t.completion_tokens),
          std::to_string(t.total_tokens),
          number_text(t.cost_usd),
          opt_text(t.latency_ms_p50),
          opt_text(t.latency_ms_p95),
          std::to_string(t.unknown_usage),
          std::to_string(t.cached_tokens),
          std::to_string(t.cache_write_tokens),
          std::to_string(t.web_search_requests),
          std::to_string(t.unpriced)};
}

void write_measures(JsonWriter& w, const UsageTotals& t) {
  w.field("requests", t.requests);
  w.field("errors", t.errors);
  w.field("prompt_tokens", t.prompt_tokens);
  w.field("completion_tokens", t.completion_tokens);
  w.field("total_tokens", t.total_tokens);
  w.field("cost_usd", t.cost_usd);
  w.key("latency_ms_p50");
  t.latency_ms_p50 ? w.integer(*t.latency_ms_p50) : w.null();
  w.key("latency_ms_p95");
  t.latency_ms_p95 ? w.integer(*t.latency_ms_p95) : w.null();
  w.field("unknown_usage", t.unknown_usage);
  w.field("cached_tokens", t.cached_tokens);
  w.field("cache_write_tokens", t.cache_write_tokens);
  w.field("web_search_requests", t.web_search_requests);
  w.field("unpriced", t.unpriced);
}

void csv_cell(std::string& out, std::string_view cell) {
  if (cell.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += cell;
    return;
  }
  out += '"';
  for (char c : cell) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  out += '"';
}

void csv_line(std::string& out, const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    csv_cell(out, cells[i]);
  }
  out += "\r\n";
}

}  // namespace

std::string_view to_string(UsageKey key) {
  switch (key) {
    case UsageKey::user:
      return "user";
    case UsageKey::agent:
      return "agent";
    case UsageKey::provider:
      return "provider";
    case UsageKey::model:
      return "model";
    case UsageKey::key_source:
      return "key_source";
    case UsageKey::day:
      return "day";
  }
  return "unknown";
}

Result<std::vector<UsageKey>> parse_group_by(std::string_view text) {
  std::vector<UsageKey> keys;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') {
      part.remove_prefix(1);
    }
    while (!part.empty() && part.back() == ' ') {
      part.remove_suffix(1);
    }
    if (part.empty()) {
      continue;
    }
    auto it = std::find_if(std::begin(kAllKeys), std::end(kAllKeys),
                           [&](UsageKey k) { return to_string(k) == part; });
    if (it == std::end(kAllKeys)) {
      return fail(Error::invalid_request(
          "Unknown group_by key '" + std::string(part) +
              "'; use a comma list of user, agent, provider, model, key_source, day.",
          "group_by", "invalid_group_by"));
    }
    if (std::find(keys.begin(), keys.end(), *it) == keys.end()) {
      keys.push_back(*it);
    }
  }
  if (keys.empty()) {
    keys.push_back(UsageKey::day);
  }
  return keys;
}

Result<std::pair<int64_t, int64_t>> parse_usage_range(std::string_view from, std::string_view to,
                                                      int64_t now_ms) {
  int64_t to_ms = now_ms + 1;  // "up to now", inclusive of this millisecond
  if (!to.empty()) {
    auto t = parse_date(to);
    if (!t) {
      Error e = t.error();
      e.param = "to";
      return fail(std::move(e));
    }
    // A bare date names a whole day: "--to 2026-01-31" includes January 31.
    to_ms = *t * 1000 + (to.size() == 10 ? kDayMs : 0);
  }
  int64_t from_ms = now_ms - 30 * kDayMs;
  if (!from.empty()) {
    auto f = parse_date(from);
    if (!f) {
      Error e = f.error();
      e.param = "from";
      return fail(std::move(e));
    }
    from_ms = *f * 1000;
  }
  if (from_ms >= to_ms) {
    return fail(Error::invalid_request("'from' must be before 'to'.", "from", "invalid_range"));
  }
  return std::pair{from_ms, to_ms};
}

Result<std::unique_ptr<UsageReports>> UsageReports::open(const std::string& db_path) {
  KG_TRY(db, db::Database::open(db_path));
  // Reports only read; this connection must never write by accident.
  KG_CHECK(db->exec(db->backend() == db::Backend::sqlite
                        ? "PRAGMA query_only=ON"
                        : "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"));
  return std::unique_ptr<UsageReports>(new UsageReports(std::move(*db)));
}

Result<std::unordered_map<std::string, double>> UsageReports::operator_key_spend(int64_t from_ms,
                                                                                 int64_t to_ms) {
  std::lock_guard lock(mutex_);
  KG_TRY(sums,
         db_.prepare("SELECT user_id, SUM(cost_usd) FROM usage WHERE started_at_ms >= ? AND "
                     "started_at_ms < ? AND key_source IN ('system', 'env') AND cost_usd IS NOT "
                     "NULL AND user_id IS NOT NULL GROUP BY user_id"));
  sums->bind(1, from_ms);
  sums->bind(2, to_ms);
  std::unordered_map<std::string, double> out;
  for (;;) {
    KG_TRY(more, sums->step());
    if (!*more) {
      return out;
    }
    out.emplace(sums->column_text(0), sums->is_null(1) ? 0.0 : sums->column_double(1));
  }
}

Result<UsageReport> UsageReports::query(const UsageQuery& q) {
  std::lock_guard lock(mutex_);
  UsageReport report;
  report.group_by = q.group_by.empty() ? std::vector<UsageKey>{UsageKey::day} : q.group_by;

  // Names for ids (users are few); also resolves the user-name filter.
  std::unordered_map<std::string, std::string> names;
  std::optional<std::string> user_id = q.user_id;
  {
    KG_TRY(users, db_.prepare("SELECT id, name FROM users"));
    for (;;) {
      KG_TRY(more, users->step());
      if (!*more) {
        break;
      }
      names.emplace(users->column_text(0), users->column_text(1));
    }
  }
  if (q.user_name) {
    auto it = std::find_if(names.begin(), names.end(),
                           [&](const auto& kv) { return kv.second == *q.user_name; });
    if (it == names.end() || (user_id && *user_id != it->first)) {
      return report;  // the filter matches nobody (or someone the caller may not see)
    }
    user_id = it->first;
  }
  if (db_.backend() == db::Backend::postgres) {
    return query_postgres(q, std::move(report), names, user_id);
  }

  std::string key_columns;
  for (UsageKey k : report.group_by) {
    key_columns += ", " + std::string(kKeyColumns[static_cast<int>(k)]);
  }
  KG_TRY(full_scan, covers_most(db_, q.from_ms, q.to_ms));
  std::string sql =
      "SELECT outcome IS NOT 'ok', usage_known = 'unknown', prompt_tokens, "
      "completion_tokens, cost_usd, latency_ms, cached_tokens, cache_write_tokens, "
      "web_search_requests, usage_known <> 'unknown' AND cost_usd IS NULL" +
      key_columns + " FROM usage" + (*full_scan ? " NOT INDEXED" : "") +
      " WHERE started_at_ms >= ?1 AND started_at_ms < ?2";
  std::vector<const std::string*> binds;
  auto add_filter = [&](const std::optional<std::string>& v, std::string_view column) {
    if (v) {
      binds.push_back(&*v);
      sql += " AND " + std::string(column) + " = ?" + std::to_string(binds.size() + 2);
    }
  };
  add_filter(user_id, "user_id");
  add_filter(q.agent, "agent");
  add_filter(q.provider, "provider");
  add_filter(q.model, "model_served");

  sqlite3* raw = db_.sqlite()->handle();
  sqlite3_stmt* prepared = nullptr;
  if (sqlite3_prepare_v2(raw, sql.c_str(), static_cast<int>(sql.size()), &prepared, nullptr) !=
      SQLITE_OK) {
    return fail(scan_error(raw));
  }
  RawStatement scan(prepared);
  sqlite3_bind_int64(prepared, 1, q.from_ms);
  sqlite3_bind_int64(prepared, 2, q.to_ms);
  for (std::size_t i = 0; i < binds.size(); ++i) {
    sqlite3_bind_text(prepared, static_cast<int>(i + 3), binds[i]->data(),
                      static_cast<int>(binds[i]->size()), SQLITE_STATIC);
  }

  std::vector<Group> groups;
  std::unordered_map<std::string, std::size_t> index;
  std::vector<int64_t> all_latencies;
  std::string key;
  const int key_count = static_cast<int>(report.group_by.size());
  for (;;) {
    const int rc = sqlite3_step(prepared);
    if (rc == SQLITE_DONE) {
      break;
    }
    if (rc != SQLITE_ROW) {
      return fail(scan_error(raw));
    }
    // The group's identity: its key values, each ended by a unit separator (NULL: a record
    // separator alone). Built in a reused buffer, so a row costs no allocation.
    key.clear();
    for (int i = 0; i < key_count; ++i) {
      const int column = c_keys + i;
      if (sqlite3_column_type(prepared, column) == SQLITE_NULL) {
        key += '\x1e';
      } else {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(prepared, column));
        key.append(p, static_cast<std::size_t>(sqlite3_column_bytes(prepared, column)));
      }
      key += '\x1f';
    }
    auto [it, inserted] = index.try_emplace(key, groups.size());
    if (inserted) {
      Group g;
      for (std::size_t i = 0; i < report.group_by.size(); ++i) {
        std::optional<std::string> value = opt_column(prepared, c_keys + static_cast<int>(i));
        if (report.group_by[i] == UsageKey::user && value) {
          if (auto n = names.find(*value); n != names.end()) {
            value = n->second;
          }
        }
        g.keys.push_back(std::move(value));
      }
      groups.push_back(std::move(g));
    }
    Group& g = groups[it->second];
    add_row(g.totals, prepared);
    add_row(report.totals, prepared);
    if (sqlite3_column_type(prepared, c_latency) != SQLITE_NULL) {
      const int64_t latency = sqlite3_column_int64(prepared, c_latency);
      g.latencies.push_back(latency);
      all_latencies.push_back(latency);
    }
  }

  for (Group& g : groups) {
    finish_latencies(g.totals, g.latencies);
  }
  finish_latencies(report.totals, all_latencies);
  std::sort(groups.begin(), groups.end(),
            [](const Group& a, const Group& b) { return a.keys < b.keys; });
  report.rows.reserve(groups.size());
  for (Group& g : groups) {
    report.rows.push_back(UsageReportRow{std::move(g.keys), g.totals});
  }
  return report;
}

Result<UsageReport> UsageReports::query_postgres(
    const UsageQuery& q, UsageReport report,
    const std::unordered_map<std::string, std::string>& names,
    const std::optional<std::string>& user_id) {
  std::string keys;
  for (UsageKey k : report.group_by) {
    keys += std::string(keys.empty() ? "" : ", ") + kKeyColumns[static_cast<int>(k)];
  }
  // percentile_disc is the nearest rank, as the SQLite path computes it; it skips NULLs.
  std::string sql = "SELECT " + keys + ", GROUPING(" + keys +
                    "), count(*), "
                    "coalesce(sum(CASE WHEN outcome IS DISTINCT FROM 'ok' THEN 1 ELSE 0 END), 0), "
                    "coalesce(sum(CASE WHEN usage_known = 'unknown' THEN 1 ELSE 0 END), 0), "
                    "coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), "
                    "coalesce(sum(cost_usd), 0), "
                    "percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms), "
                    "percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms), "
                    "coalesce(sum(cached_tokens), 0), coalesce(sum(cache_write_tokens), 0), "
                    "coalesce(sum(web_search_requests), 0), "
                    "coalesce(sum(CASE WHEN usage_known <> 'unknown' AND cost_usd IS NULL "
                    "THEN 1 ELSE 0 END), 0) "
                    "FROM usage WHERE started_at_ms >= ? AND started_at_ms < ?";
  std::vector<const std::string*> binds;
  auto add_filter = [&](const std::optional<std::string>& v, std::string_view column) {
    if (v) {
      binds.push_back(&*v);
      sql += " AND " + std::string(column) + " = ?";
    }
  };
  add_filter(user_id, "user_id");
  add_filter(q.agent, "agent");
  add_filter(q.provider, "provider");
  add_filter(q.model, "model_served");
  sql += " GROUP BY GROUPING SETS ((" + keys + "), ())";

  KG_TRY(scan, db_.prepare(sql));
  scan->bind(1, q.from_ms).bind(2, q.to_ms);
  for (std::size_t i = 0; i < binds.size(); ++i) {
    scan->bind(static_cast<int>(i + 3), *binds[i]);
  }
  const int key_count = static_cast<int>(report.group_by.size());
  for (;;) {
    KG_TRY(more, scan->step());
    if (!*more) {
      break;
    }
    const int m = key_count + 1;  // the first measure's column
    UsageTotals t;
    t.requests = scan->column_int(m);
    t.errors = scan->column_int(m + 1);
    t.unknown_usage = scan->column_int(m + 2);
    t.prompt_tokens = scan->column_int(m + 3);
    t.completion_tokens = scan->column_int(m + 4);
    t.total_tokens = t.prompt_tokens + t.completion_tokens;
    t.cost_usd = scan->column_double(m + 5);
    t.latency_ms_p50 = scan->column_opt_int(m + 6);
    t.latency_ms_p95 = scan->column_opt_int(m + 7);
    t.cached_tokens = scan->column_int(m + 8);
    t.cache_write_tokens = scan->column_int(m + 9);
    t.web_search_requests = scan->column_int(m + 10);
    t.unpriced = scan->column_int(m + 11);
    if (scan->column_int(key_count) != 0) {  // the () grouping set: every row
      report.totals = t;
      continue;
    }
    UsageReportRow row;
    for (int i = 0; i < key_count; ++i) {
      std::optional<std::string> value = scan->column_opt_text(i);
      if (report.group_by[static_cast<std::size_t>(i)] == UsageKey::user && value) {
        if (auto n = names.find(*value); n != names.end()) {
          value = n->second;
        }
      }
      row.keys.push_back(std::move(value));
    }
    row.totals = t;
    report.rows.push_back(std::move(row));
  }
  std::sort(report.rows.begin(), report.rows.end(),
            [](const UsageReportRow& a, const UsageReportRow& b) { return a.keys < b.keys; });
  return report;
}

std::string usage_report_json(const UsageReport& report) {
  JsonWriter w;
  w.start_object();
  w.key("data");
  w.start_array();
  for (const auto& row : report.rows) {
    w.start_object();
    for (std::size_t i = 0; i < report.group_by.size(); ++i) {
      w.key(to_string(report.group_by[i]));
      row.keys[i] ? w.string(*row.keys[i]) : w.null();
    }
    write_measures(w, row.totals);
    w.end_object();
  }
  w.end_array();
  w.key("totals");
  w.start_object();
  write_measures(w, report.totals);
  w.end_object();
  w.end_object();
  return w.take();
}

std::string usage_report_csv(const UsageReport& report) {
  std::string out;
  std::vector<std::string> cells;
  for (UsageKey k : report.group_by) {
    cells.emplace_back(to_string(k));
  }
  cells.insert(cells.end(), std::begin(kMeasures), std::end(kMeasures));
  csv_line(out, cells);
  for (const auto& row : report.rows) {
    cells.clear();
    for (const auto& k : row.keys) {
      cells.push_back(k.value_or(""));
    }
    auto measures = measure_cells(row.totals);
    cells.insert(cells.end(), measures.begin(), measures.end());
    csv_line(out, cells);
  }
  return out;
}

std::string usage_report_table(const UsageReport& report) {
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header;
  for (UsageKey k : report.group_by) {
    header.emplace_back(to_string(k));
  }
  header.insert(header.end(), std::begin(kMeasures), std::end(kMeasures));
  lines.push_back(header);
  for (const auto& row : report.rows) {
    std::vector<std::string> cells;
    for (const auto& k : row.keys) {
      cells.push_back(k.value_or("-"));
    }
    auto measures = measure_cells(row.totals);
    cells.insert(cells.end(), measures.begin(), measures.end());
    lines.push_back(std::move(cells));
  }
  std::vector<std::string> total(report.group_by.size(), "");
  if (!total.empty()) {
    total[0] = "TOTAL";
  }
  auto measures = measure_cells(report.totals);
  total.insert(total.end(), measures.begin(), measures.end());
  lines.push_back(std::move(total));

  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& l : lines) {
    for (std::size_t i = 0; i < l.size(); ++i) {
      width[i] = std::max(width[i], l[i].size());
    }
  }
  std::string out;
  for (const auto& l : lines) {
    for (std::size_t i = 0; i < l.size(); ++i) {
      if (i > 0) {
        out += "  ";
      }
      bool numeric = i >= report.group_by.size();
      std::string pad(width[i] - l[i].size(), ' ');
      out += numeric ? pad + l[i] : l[i] + pad;
    }
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    out += '\n';
  }
  return out;
}

}  // namespace keygate
