#include "gateway/spend_limits.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "schema/json.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
std::string format_usd(double usd) {
  char buf[64];
  if (usd == 0 || usd >= 0.01) {
    std::snprintf(buf, sizeof buf, "$%.2f", usd);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "$%.6f", usd);
  std::string s = buf;
  while (s.size() > 5 && s.back() == '0') {  // keep "$0.00" at least
    s.pop_back();
  }
  return s;
}

std::string_view to_string(BudgetPeriod period) {
  return period == BudgetPeriod::day ? "day" : "month";
}

std::pair<int64_t, int64_t> period_bounds(BudgetPeriod period, int64_t at_ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(at_ms)));
  sys_days start = day;
  sys_days end = day + days(1);
  if (period == BudgetPeriod::month) {
    const year_month_day ymd(day);
    const year_month this_month = ymd.year() / ymd.month();
    start = sys_days(this_month / 1);
    end = sys_days((this_month + months(1)) / 1);
  }
  auto ms = [](sys_days d) { return duration_cast<milliseconds>(d.time_since_epoch()).count(); };
  return {ms(start), ms(end)};
}

void write_standing(JsonWriter& w, const SpendStanding& s, BudgetPeriod period) {
  w.start_object();
  w.field("period", to_string(period));
  w.key("limit_usd");
  if (s.limit_usd) {
    w.number(*s.limit_usd);
  } else {
    w.null();
  }
  w.field("limit_source", !s.limit_usd ? "none" : s.own_limit ? "user" : "default");
  w.field("spent_usd", s.spent_usd);
  w.key("remaining_usd");
  if (s.limit_usd) {
    w.number(std::max(0.0, *s.limit_usd - s.spent_usd));
  } else {
    w.null();
  }
  w.field("period_start", format_rfc3339(s.period_start_ms / 1000));
  w.field("resets_at", format_rfc3339(s.period_end_ms / 1000));
  w.end_object();
}

SpendLimits::SpendLimits(SpendPolicy policy) : policy_(policy) {}

void SpendLimits::roll_to(int64_t now_ms) {
  if (now_ms >= period_start_ms_ && now_ms < period_end_ms_) {
    return;
  }
  // Either way: a clock that jumped ahead and came back must not leave us in a future period,
  // where every call would be "before the period" and count nothing. What the period we move to
  // had spent already is read again by the next reload, which a change of period asks for.
  const auto [start, end] = period_bounds(policy_.period, now_ms);
  if (period_end_ms_ != 0) {
    reload_wanted_.store(true, std::memory_order_relaxed);
  }
  period_start_ms_ = start;
  period_end_ms_ = end;
  for (auto& [id, user] : users_) {
    user.stored = user.loading = user.recent = 0;
  }
}

std::optional<double> SpendLimits::limit_of(const UserSpend* user) const {
  if (user != nullptr && user->own_budget) {
    return user->own_budget;
  }
  return policy_.default_usd;
}

std::optional<Error> SpendLimits::refuse(std::string_view user_id, std::string_view provider,
                                         int64_t now_ms) {
  std::lock_guard lock(mutex_);
  roll_to(now_ms);
  auto it = users_.find(user_id);
  const UserSpend* user = it == users_.end() ? nullptr : &it->second;
  const std::optional<double> limit = limit_of(user);
  const double spent = user ? user->spent() : 0.0;
  if (!limit || spent < *limit) {
    return std::nullopt;
  }
  const std::string p(provider);
  Error e;
  e.status = 429;
  e.type = "insufficient_quota";
  e.code = "system_key_budget_exceeded";
  e.message = "Your spending on the operator's keys has reached its limit for this " +
              std::string(to_string(policy_.period)) + ": " + format_usd(spent) + " of " +
              format_usd(*limit) + ". It starts again at " + format_rfc3339(period_end_ms_ / 1000) +
              ". To go on now, add your own " + p + " key (POST /v1/keys {\"provider\": \"" + p +
              "\", \"api_key\": \"...\"}) or ask an operator to raise your budget.";
  e.retryable = false;
  return e;
}

void SpendLimits::add(std::string_view user_id, double usd, int64_t started_at_ms, int64_t now_ms) {
  if (!(usd > 0)) {
    return;
  }
  std::lock_guard lock(mutex_);
  roll_to(now_ms);
  if (started_at_ms < period_start_ms_ || started_at_ms >= period_end_ms_) {
    return;  // a call that began in the last period is that period's
  }
  auto it = users_.find(user_id);
  if (it == users_.end()) {
    it = users_.emplace(std::string(user_id), UserSpend{}).first;
  }
  it->second.recent += usd;
}

void SpendLimits::set_budget(const std::string& user_id, std::optional<double> usd) {
  std::lock_guard lock(mutex_);
  users_[user_id].own_budget = usd;
  if (reloading_) {
    set_while_reloading_.insert(user_id);  // newer than what the reload's query may have read
  }
}

SpendStanding SpendLimits::standing(std::string_view user_id, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  roll_to(now_ms);
  auto it = users_.find(user_id);
  const UserSpend* user = it == users_.end() ? nullptr : &it->second;
  SpendStanding s;
  s.limit_usd = limit_of(user);
  s.own_limit = user != nullptr && user->own_budget.has_value();
  s.spent_usd = user ? user->spent() : 0.0;
  s.period_start_ms = period_start_ms_;
  s.period_end_ms = period_end_ms_;
  return s;
}

std::optional<std::pair<int64_t, int64_t>> SpendLimits::begin_reload(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (reloading_) {
    return std::nullopt;
  }
  reloading_ = true;
  roll_to(now_ms);
  for (auto& [id, user] : users_) {
    user.loading += user.recent;
    user.recent = 0;
  }
  return std::pair{period_start_ms_, period_end_ms_};
}

void SpendLimits::abandon_reload() {
  std::lock_guard lock(mutex_);
  for (auto& [id, user] : users_) {
    user.recent += user.loading;  // still counted, as if the reload had not begun
    user.loading = 0;
  }
  set_while_reloading_.clear();
  reloading_ = false;
}

void SpendLimits::finish_reload(
    int64_t from_ms, const std::vector<std::pair<std::string, std::optional<double>>>& budgets,
    const std::unordered_map<std::string, double>& stored) {
  std::lock_guard lock(mutex_);
  // The period may have turned during the queries: their sums then belong to the last one.
  const bool same_period = from_ms == period_start_ms_;
  // A budget set here while the queries ran keeps its value: theirs may predate it.
  auto keep = [this](const std::string& id) { return set_while_reloading_.contains(id); };
  for (auto& [id, user] : users_) {
    if (!keep(id)) {
      user.own_budget.reset();
    }
    user.loading = 0;
    user.stored = 0;
  }
  for (const auto& [id, usd] : budgets) {
    if (!keep(id)) {
      users_[id].own_budget = usd;
    }
  }
  if (same_period) {
    for (const auto& [id, usd] : stored) {
      users_[id].stored = usd;
    }
  }
  set_while_reloading_.clear();
  reloading_ = false;
}

}  // namespace keygate::gateway
