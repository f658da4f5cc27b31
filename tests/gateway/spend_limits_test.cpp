// SpendLimits on its own: UTC periods, the refusal, a new period starting from zero, budgets set
// and cleared, and reloading from the database while calls keep being counted.

#include <catch2/catch.hpp>

#include "gateway/config.hpp"
#include "gateway/spend_limits.hpp"
#include "schema/time.hpp"

using namespace keygate;
using namespace keygate::gateway;

namespace {

// Unix ms of a UTC time written as RFC 3339.
int64_t at(const char* rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  REQUIRE(t);
  return *t * 1000;
}

}  // namespace

TEST_CASE("periods are UTC days and calendar months", "[budget]") {
  auto day = period_bounds(BudgetPeriod::day, at("2026-11-23T17:45:00Z"));
  CHECK(day.first == at("2026-11-23T00:00:00Z"));
  CHECK(day.second == at("2026-11-24T00:00:00Z"));
  auto month = period_bounds(BudgetPeriod::month, at("2026-11-23T17:45:00Z"));
  CHECK(month.first == at("2026-11-01T00:00:00Z"));
  CHECK(month.second == at("2026-12-01T00:00:00Z"));
  auto december = period_bounds(BudgetPeriod::month, at("2026-12-31T23:59:59Z"));
  CHECK(december.second == at("2027-01-01T00:00:00Z"));
  auto leap = period_bounds(BudgetPeriod::month, at("2028-02-29T12:00:00Z"));
  CHECK(leap.first == at("2028-02-01T00:00:00Z"));
  CHECK(leap.second == at("2028-03-01T00:00:00Z"));
  // The first millisecond of a period is in it, the last of the one before is not.
  CHECK(period_bounds(BudgetPeriod::day, at("2026-11-24T00:00:00Z")).first ==
        at("2026-11-24T00:00:00Z"));
  CHECK(period_bounds(BudgetPeriod::day, at("2026-11-24T00:00:00Z") - 1).first ==
        at("2026-11-23T00:00:00Z"));
}

TEST_CASE("the operator's key is refused once the spend reaches the limit", "[budget]") {
  SpendLimits limits({1.0, BudgetPeriod::month});
  const int64_t now = at("2026-11-23T10:00:00Z");
  CHECK_FALSE(limits.refuse("usr_a", "openai", now));
  limits.add("usr_a", 0.6, now, now);
  CHECK_FALSE(limits.refuse("usr_a", "openai", now));
  limits.add("usr_a", 0.4, now, now);
  auto refused = limits.refuse("usr_a", "anthropic", now);
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(refused->type == "insufficient_quota");
  CHECK(refused->code == "system_key_budget_exceeded");
  CHECK_FALSE(refused->retryable);
  CHECK(refused->message.find("$1.00 of $1.00") != std::string::npos);
  CHECK(refused->message.find("2026-12-01T00:00:00Z") != std::string::npos);
  CHECK(refused->message.find("your own anthropic key") != std::string::npos);
  CHECK_FALSE(limits.refuse("usr_b", "openai", now));  // each user has their own
  // Nothing and negative amounts (a refund is not a thing here) change nothing.
  limits.add("usr_b", 0, now, now);
  limits.add("usr_b", -5, now, now);
  CHECK(limits.standing("usr_b", now).spent_usd == 0);
}

TEST_CASE("a new period starts from zero and late rows of the last one do not count", "[budget]") {
  SpendLimits limits({0.5, BudgetPeriod::day});
  const int64_t evening = at("2026-11-23T23:59:00Z");
  limits.add("usr_a", 0.5, evening, evening);
  CHECK(limits.refuse("usr_a", "openai", evening));
  const int64_t morning = at("2026-11-24T00:00:01Z");
  CHECK_FALSE(limits.refuse("usr_a", "openai", morning));
  // A stream that began before midnight and is recorded after it belongs to yesterday.
  limits.add("usr_a", 3.0, evening, morning);
  CHECK(limits.standing("usr_a", morning).spent_usd == 0);
  auto s = limits.standing("usr_a", morning);
  CHECK(s.period_start_ms == at("2026-11-24T00:00:00Z"));
  CHECK(s.period_end_ms == at("2026-11-25T00:00:00Z"));
}

TEST_CASE("a user's own budget overrides the default, and clearing it restores the default",
          "[budget]") {
  SpendLimits none({std::nullopt, BudgetPeriod::month});
  const int64_t now = at("2026-11-23T10:00:00Z");
  none.add("usr_a", 100, now, now);
  CHECK_FALSE(none.refuse("usr_a", "openai", now));
  CHECK_FALSE(none.standing("usr_a", now).limit_usd);
  none.set_budget("usr_a", 0.0);  // own keys only
  CHECK(none.refuse("usr_a", "openai", now));
  CHECK(none.refuse("usr_new", "openai", now) == std::nullopt);
  none.set_budget("usr_new", 0.0);
  CHECK(none.refuse("usr_new", "openai", now));  // 0 of 0: refused before any spend

  SpendLimits limited({1.0, BudgetPeriod::month});
  limited.add("usr_a", 2, now, now);
  limited.set_budget("usr_a", 5.0);
  CHECK_FALSE(limited.refuse("usr_a", "openai", now));
  auto s = limited.standing("usr_a", now);
  CHECK(s.own_limit);
  CHECK(*s.limit_usd == 5.0);
  limited.set_budget("usr_a", std::nullopt);
  CHECK(limited.refuse("usr_a", "openai", now));
  CHECK_FALSE(limited.standing("usr_a", now).own_limit);
}

TEST_CASE("a reload replaces budgets and stored spend and keeps what was added meanwhile",
          "[budget]") {
  SpendLimits limits({10.0, BudgetPeriod::month});
  const int64_t now = at("2026-11-23T10:00:00Z");
  limits.set_budget("usr_gone", 1.0);
  limits.add("usr_a", 1.0, now, now);  // counted here, stored by the time the query runs

  const int64_t from = limits.begin_reload(now).value().first;
  CHECK(from == at("2026-11-01T00:00:00Z"));
  CHECK_FALSE(limits.begin_reload(now));  // one at a time
  limits.add("usr_a", 0.25, now, now);    // during the query: it may not see this one
  CHECK(limits.standing("usr_a", now).spent_usd == Approx(1.25));
  limits.finish_reload(from, {{"usr_b", 2.0}}, {{"usr_a", 1.0}, {"usr_b", 3.0}});

  CHECK(limits.standing("usr_a", now).spent_usd == Approx(1.25));  // 1.0 stored + 0.25 since
  CHECK(limits.standing("usr_b", now).spent_usd == Approx(3.0));   // another instance's spend
  CHECK(limits.refuse("usr_b", "openai", now));                    // its budget came with it
  CHECK_FALSE(limits.standing("usr_gone", now).own_limit);         // cleared elsewhere

  // A period that turned while the queries ran: their sums were last period's.
  const int64_t late = limits.begin_reload(at("2026-11-30T23:59:59Z")).value().first;
  limits.refuse("usr_a", "openai", at("2026-12-01T00:00:01Z"));  // a request moves us on
  limits.finish_reload(late, {}, {{"usr_a", 9.0}});
  CHECK(limits.standing("usr_a", at("2026-12-01T00:00:02Z")).spent_usd == 0);
}

TEST_CASE("the config's system_key_budget is read and checked", "[budget][config]") {
  auto c = parse_config(R"({"system_key_budget": {"usd": 25.5, "period": "day"}})");
  REQUIRE(c);
  CHECK(c->system_key_budget.default_usd == 25.5);
  CHECK(c->system_key_budget.period == BudgetPeriod::day);
  auto defaults = parse_config("{}");
  REQUIRE(defaults);
  CHECK_FALSE(defaults->system_key_budget.default_usd);
  CHECK(defaults->system_key_budget.period == BudgetPeriod::month);
  auto unlimited = parse_config(R"({"system_key_budget": {"usd": null, "period": "month"}})");
  REQUIRE(unlimited);
  CHECK_FALSE(unlimited->system_key_budget.default_usd);

  for (const char* bad : {
           R"({"system_key_budget": 10})",
           R"({"system_key_budget": {"usd": -1}})",
           R"({"system_key_budget": {"usd": "10"}})",
           R"({"system_key_budget": {"usd": 10, "period": "week"}})",
           R"({"system_key_budget": {"usd": 10, "period": 30}})",
           R"({"system_key_budget": {"usd": 10, "per": "day"}})",
       }) {
    INFO(bad);
    auto r = parse_config(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "invalid_config");
    CHECK(r.error().message.find("system_key_budget") != std::string::npos);
  }
}

TEST_CASE("a budget set while a reload runs is not undone by the reload's older read", "[budget]") {
  SpendLimits limits({std::nullopt, BudgetPeriod::month});
  const int64_t now = at("2026-11-23T10:00:00Z");
  const int64_t from = limits.begin_reload(now).value().first;
  limits.set_budget("usr_a", 0.0);  // an operator, between the reload's query and its end
  limits.finish_reload(from, {}, {});
  CHECK(limits.refuse("usr_a", "openai", now));
  // The next reload reads the stored value, as usual.
  const int64_t again = limits.begin_reload(now).value().first;
  limits.finish_reload(again, {}, {});
  CHECK_FALSE(limits.refuse("usr_a", "openai", now));
}

TEST_CASE("an abandoned reload loses no spend and lets the next one run", "[budget]") {
  SpendLimits limits({1.0, BudgetPeriod::month});
  const int64_t now = at("2026-11-23T10:00:00Z");
  limits.add("usr_a", 0.75, now, now);
  REQUIRE(limits.begin_reload(now));
  limits.add("usr_a", 0.25, now, now);
  limits.abandon_reload();  // the database did not answer
  CHECK(limits.standing("usr_a", now).spent_usd == Approx(1.0));
  CHECK(limits.refuse("usr_a", "openai", now));
  const int64_t from = limits.begin_reload(now).value().first;
  limits.finish_reload(from, {}, {{"usr_a", 1.0}});
  CHECK(limits.standing("usr_a", now).spent_usd == Approx(1.0));
}

TEST_CASE("a clock that jumped ahead and came back does not switch budgets off", "[budget]") {
  SpendLimits limits({1.0, BudgetPeriod::month});
  const int64_t now = at("2026-11-23T10:00:00Z");
  const int64_t future = at("2027-03-01T10:00:00Z");  // a VM resumed with a wrong clock
  CHECK_FALSE(limits.refuse("usr_a", "openai", future));
  // Back to the right time: calls count in November again.
  limits.add("usr_a", 1.0, now, now);
  CHECK(limits.refuse("usr_a", "openai", now));
  CHECK(limits.standing("usr_a", now).period_start_ms == at("2026-11-01T00:00:00Z"));
  // A row from another period than the present one never counts in it.
  limits.add("usr_b", 5.0, future, now);
  CHECK(limits.standing("usr_b", now).spent_usd == 0);
}

TEST_CASE("dollars are written as cents, or as fractions of a cent for one cheap call",
          "[budget]") {
  CHECK(format_usd(0) == "$0.00");
  CHECK(format_usd(12.5) == "$12.50");
  CHECK(format_usd(1234567.891) == "$1234567.89");
  CHECK(format_usd(0.00000255) == "$0.000003");
  CHECK(format_usd(0.0000001) == "$0.00");
  CHECK(format_usd(0.0012) == "$0.0012");
}

TEST_CASE("a change of period asks for a reload, once", "[budget]") {
  SpendLimits limits({1.0, BudgetPeriod::day});
  CHECK_FALSE(limits.refuse("usr_a", "openai", at("2026-11-23T10:00:00Z")));
  CHECK_FALSE(limits.take_reload_wanted());  // the first period is not a change
  CHECK_FALSE(limits.refuse("usr_a", "openai", at("2026-11-24T00:00:01Z")));
  CHECK(limits.take_reload_wanted());
  CHECK_FALSE(limits.take_reload_wanted());
}
