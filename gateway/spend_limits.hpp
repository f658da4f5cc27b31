#pragma once
// Budgets on the operator's keys: how much the system keys (and the providers' environment
// variables) may spend for each user in a period, a UTC day or month, and how much they have.
// A user's own keys are never limited: the budget bounds the operator's bill, not the user's.
//
// Enforced before a call: key resolution refuses the operator's key once the user's spend in the
// period has reached the limit (gateway/keystore_bridge.cpp). A call under way finishes, so a
// user can go over by what the calls already started cost. A call whose model has no price costs
// nothing here, as in the usage reports.
//
// The spend is kept in memory: loaded from the usage table when keygate starts, then added to as
// each call is recorded (usage_recording.cpp), before its row reaches the database. On PostgreSQL
// several instances serve the same users: each reloads the stored sums and budgets every minute
// (App), so it sees the others' spending and budget changes within that time.
//
// Thread-safe: one mutex, held for a hash lookup. Only calls on the operator's keys take it.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "schema/error.hpp"

namespace keygate {
class JsonWriter;
}

namespace keygate::gateway {

enum class BudgetPeriod { day, month };
std::string_view to_string(BudgetPeriod period);

struct SpendPolicy {
  // Every user's limit a period unless the user has one of their own; nullopt: no limit.
  std::optional<double> default_usd;
  BudgetPeriod period = BudgetPeriod::month;
};

// The UTC period holding `at_ms`: [start, end) in unix ms.
std::pair<int64_t, int64_t> period_bounds(BudgetPeriod period, int64_t at_ms);

// One user's position in the current period.
struct SpendStanding {
  std::optional<double> limit_usd;  // nullopt: no limit
  bool own_limit = false;           // the user's own budget, not the default
  double spent_usd = 0;
  int64_t period_start_ms = 0;
  int64_t period_end_ms = 0;
};

// "$12.50"; fractions of a cent with up to 6 decimals ("$0.000003").
std::string format_usd(double usd);

// {"period": "month", "limit_usd": 20 | null, "spent_usd": 1.25, "remaining_usd": 18.75 | null,
//  "period_start": "...", "resets_at": "..."}: what GET /v1/budget answers and the admin's user
// list shows.
void write_standing(JsonWriter& w, const SpendStanding& standing, BudgetPeriod period);

class SpendLimits {
 public:
  explicit SpendLimits(SpendPolicy policy);

  const SpendPolicy& policy() const { return policy_; }
  // Model calls refused the operator's key so far (/metrics): the proxy counts them, since a key
  // listing (/v1/models) asks refuse() too.
  void count_refusal() { refusals_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

  // The request path. An error (429 insufficient_quota, code system_key_budget_exceeded) when
  // the user may not spend more on the operator's keys this period, else nullopt.
  std::optional<Error> refuse(std::string_view user_id, std::string_view provider, int64_t now_ms);
  // A recorded call on the operator's keys that cost `usd`, started at `started_at_ms`; it counts
  // if it began in the period holding `now_ms`.
  void add(std::string_view user_id, double usd, int64_t started_at_ms, int64_t now_ms);

  // After an operator set (or cleared: nullopt) a user's own budget.
  void set_budget(const std::string& user_id, std::optional<double> usd);
  SpendStanding standing(std::string_view user_id, int64_t now_ms);

  // Reloading from the database, in two steps around the queries: begin_reload() returns the
  // period [start, end) (the spend query's range); finish_reload() replaces the budgets and the
  // stored spend (`from_ms`: the start begin_reload returned). Spend added meanwhile is kept on top
  // of what the query returns: a call stored just as the query ran may count twice until the next
  // reload, one still queued for the writer not at all; both are a few milliseconds' worth.
  // A budget set meanwhile (set_budget) keeps its new value. nullopt: a reload is already
  // running. abandon_reload(): the queries failed; everything counted stays counted.
  std::optional<std::pair<int64_t, int64_t>> begin_reload(int64_t now_ms);
  void abandon_reload();
  // Whether the period changed since the last call (the month turned, the clock stepped): its
  // spend so far must then be read from the database. Clears the flag.
  bool take_reload_wanted() { return reload_wanted_.exchange(false, std::memory_order_relaxed); }
  void finish_reload(int64_t from_ms,
                     const std::vector<std::pair<std::string, std::optional<double>>>& budgets,
                     const std::unordered_map<std::string, double>& stored);

 private:
  struct UserSpend {
    std::optional<double> own_budget;
    double stored = 0;   // from the last reload
    double loading = 0;  // added while a reload ran (its query may not have seen it)
    double recent = 0;   // added since
    double spent() const { return stored + loading + recent; }
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Users = std::unordered_map<std::string, UserSpend, Hash, std::equal_to<>>;

  // Moves to the period holding `now_ms` when it has begun: spend starts again from zero.
  void roll_to(int64_t now_ms);
  std::optional<double> limit_of(const UserSpend* user) const;

  const SpendPolicy policy_;
  std::mutex mutex_;
  Users users_;
  int64_t period_start_ms_ = 0;
  int64_t period_end_ms_ = 0;
  bool reloading_ = false;
  std::unordered_set<std::string> set_while_reloading_;
  std::atomic<bool> reload_wanted_{false};
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace keygate::gateway
