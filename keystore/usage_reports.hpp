#pragma once
// Usage reports: sums and latency percentiles of the usage table over a time range, grouped by
// any of user, agent, provider, model, key_source and day. Used by GET /v1/usage,
// GET /v1/admin/usage and `keygate usage`.
//
// Threading: synchronous; its own read connection (WAL: reads never wait for the usage writer or
// the keystore), guarded by a mutex. The gateway calls it from its database pool.
//
// How: one indexed range scan (usage_started / usage_user_started) feeds per-group accumulators
// in memory; each group keeps its latencies so p50/p95 are exact (nearest rank) — SQLite has no
// percentile function, and sorting all rows in SQL costs more than sorting each group's vector.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "keystore/database.hpp"
#include "schema/error.hpp"

namespace keygate {

enum class UsageKey { user, agent, provider, model, key_source, day };
std::string_view to_string(UsageKey key);

struct UsageQuery {
  int64_t from_ms = 0;  // inclusive, unix ms
  int64_t to_ms = 0;    // exclusive
  // Filters; all given ones must hold. `user_id` is what the gateway pins for a non-admin
  // caller; `user_name` is the client's filter: both set and naming different users → no rows.
  std::optional<std::string> user_id;
  std::optional<std::string> user_name;
  std::optional<std::string> agent;
  std::optional<std::string> provider;
  std::optional<std::string> model;  // the model served (upstream id, e.g. gpt-4o-mini)
  std::vector<UsageKey> group_by{UsageKey::day};
};

struct UsageTotals {
  int64_t requests = 0;
  int64_t errors = 0;  // outcome other than ok
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  int64_t unknown_usage = 0;  // rows whose upstream reported no token counts
  double cost_usd = 0;        // rows with no known price count 0 (see unpriced)
  // Parts of prompt_tokens: read from the provider's cache, written to it.
  int64_t cached_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t web_search_requests = 0;
  // Rows with token counts but no catalog price for their model: cost_usd leaves them out.
  int64_t unpriced = 0;
  std::optional<int64_t> latency_ms_p50;
  std::optional<int64_t> latency_ms_p95;
};

struct UsageReportRow {
  // One value per group_by key, in order; nullopt where the row has none (no agent). `user` is
  // the user's name (the id if the user no longer exists).
  std::vector<std::optional<std::string>> keys;
  UsageTotals totals;
};

struct UsageReport {
  std::vector<UsageKey> group_by;
  std::vector<UsageReportRow> rows;  // ordered by keys
  UsageTotals totals;
};

class UsageReports {
 public:
  // `db_path`: a SQLite file, or a postgres:// URI (keystore/database.hpp).
  static Result<std::unique_ptr<UsageReports>> open(const std::string& db_path);
  Result<UsageReport> query(const UsageQuery& query);
  // What each user's calls on the operator's keys (key_source "system" or "env") started in
  // [from_ms, to_ms) cost, by user id; calls with no known price count nothing.
  Result<std::unordered_map<std::string, double>> operator_key_spend(int64_t from_ms,
                                                                     int64_t to_ms);

 private:
  explicit UsageReports(db::Database db) : db_(std::move(db)) {}
  // PostgreSQL sums and ranks in the server (one GROUP BY with GROUPING SETS for the totals),
  // rather than sending every row over the network.
  Result<UsageReport> query_postgres(const UsageQuery& query, UsageReport report,
                                     const std::unordered_map<std::string, std::string>& names,
                                     const std::optional<std::string>& user_id);
  std::mutex mutex_;
  db::Database db_;
};

// --- the edges: parsing what a client or operator typed, and the answer formats ------------

// "user,provider" → keys; empty text → {day}. 400 naming the bad key.
Result<std::vector<UsageKey>> parse_group_by(std::string_view text);
// from/to as YYYY-MM-DD or RFC 3339; a bare date in `to` includes that whole day. Defaults: the
// last 30 days up to now. 400 on bad dates or from >= to.
Result<std::pair<int64_t, int64_t>> parse_usage_range(std::string_view from, std::string_view to,
                                                      int64_t now_ms);

// {"data":[row...],"totals":{...}}.
std::string usage_report_json(const UsageReport& report);
// A header line (group keys, then the measures), a line per row; RFC 4180 quoting, CRLF.
std::string usage_report_csv(const UsageReport& report);
// Aligned columns for a terminal, with a totals line.
std::string usage_report_table(const UsageReport& report);

}  // namespace keygate
