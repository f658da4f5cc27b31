// Usage reports over a real SQLite file (and the [store] ones on PostgreSQL too): sums, per-group
// percentiles, filters that cannot widen a caller's view, date ranges, CSV quoting, and a million
// rows.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "keystore/sqlite.hpp"
#include "keystore/usage_reports.hpp"
#include "keystore/usage_writer.hpp"
#include "schema/json.hpp"
#include "test_support.hpp"

using namespace keygate;

namespace {

constexpr int64_t kJan1 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z in ms
constexpr int64_t kDay = 86'400'000;

struct Fixture {
  testing::TempDir dir;
  std::string path = testing::store_target(dir.file("k.db"));
  std::unique_ptr<Keystore> ks = testing::open_keystore(path);
  std::string alice = testing::make_user(*ks, "alice");
  std::string bob = testing::make_user(*ks, "bob");
  std::unique_ptr<UsageWriter> writer;
  std::unique_ptr<UsageReports> reports;

  Fixture() {
    auto w = UsageWriter::open(path);
    REQUIRE(w.has_value());
    writer = std::move(*w);
    auto r = UsageReports::open(path);
    REQUIRE(r.has_value());
    reports = std::move(*r);
  }

  void add(const std::string& user, int64_t at, const std::string& provider,
           const std::string& model, int64_t latency, const std::string& outcome = "ok",
           int64_t prompt = 10, int64_t completion = 20, std::optional<double> cost = 0.25,
           const std::string& agent = "") {
    UsageRow r;
    r.request_id = "req_" + std::to_string(n++);
    r.started_at_ms = at;
    r.user_id = user;
    r.provider = provider;
    r.model_served = model;
    r.key_source = "system";
    r.prompt_tokens = prompt;
    r.completion_tokens = completion;
    r.usage_known = cost ? "reported" : "unknown";
    r.cost_usd = cost;
    r.latency_ms = latency;
    r.outcome = outcome;
    r.agent = agent;
    REQUIRE(writer->enqueue(std::move(r)));
  }

  UsageReport run(UsageQuery q) {
    writer->flush();
    auto r = reports->query(q);
    REQUIRE(r.has_value());
    return std::move(*r);
  }
  int n = 0;
};

UsageQuery january(std::vector<UsageKey> by) {
  UsageQuery q;
  q.from_ms = kJan1;
  q.to_ms = kJan1 + 31 * kDay;
  q.group_by = std::move(by);
  return q;
}

}  // namespace

TEST_CASE("sums and exact per-group percentiles", "[usage_reports][store]") {
  // Guards against: percentiles computed over all rows instead of per group, or off by one rank.
  Fixture f;
  for (int i = 1; i <= 100; ++i) {
    f.add(f.alice, kJan1 + i, "openai", "gpt-4o-mini", i);  // latencies 1..100
  }
  for (int i = 1; i <= 20; ++i) {
    f.add(f.bob, kJan1 + i, "anthropic", "claude", 1000 + i, i <= 5 ? "upstream_error" : "ok");
  }
  auto report = f.run(january({UsageKey::provider}));
  REQUIRE(report.rows.size() == 2);
  const auto& anthropic = report.rows[0];
  const auto& openai = report.rows[1];
  CHECK(anthropic.keys[0] == "anthropic");
  CHECK(anthropic.totals.requests == 20);
  CHECK(anthropic.totals.errors == 5);
  CHECK(anthropic.totals.latency_ms_p50 == 1010);
  CHECK(anthropic.totals.latency_ms_p95 == 1019);
  CHECK(openai.keys[0] == "openai");
  CHECK(openai.totals.requests == 100);
  CHECK(openai.totals.errors == 0);
  CHECK(openai.totals.prompt_tokens == 1000);
  CHECK(openai.totals.completion_tokens == 2000);
  CHECK(openai.totals.total_tokens == 3000);
  CHECK(openai.totals.cost_usd == Approx(25.0));
  CHECK(openai.totals.latency_ms_p50 == 50);
  CHECK(openai.totals.latency_ms_p95 == 95);
  CHECK(report.totals.requests == 120);
  CHECK(report.totals.prompt_tokens == 1200);
}

TEST_CASE("user group shows names; a pinned user cannot be widened by a name filter",
          "[usage_reports][store]") {
  // Guards against: bob reading alice's usage by passing user=alice to /v1/usage.
  Fixture f;
  f.add(f.alice, kJan1, "openai", "gpt-4o-mini", 10);
  f.add(f.alice, kJan1, "openai", "gpt-4o-mini", 10);
  f.add(f.bob, kJan1, "openai", "gpt-4o-mini", 10);

  auto all = f.run(january({UsageKey::user}));
  REQUIRE(all.rows.size() == 2);
  CHECK(all.rows[0].keys[0] == "alice");
  CHECK(all.rows[0].totals.requests == 2);
  CHECK(all.rows[1].keys[0] == "bob");

  auto q = january({UsageKey::user});
  q.user_id = f.bob;
  q.user_name = "alice";
  CHECK(f.run(q).rows.empty());
  CHECK(f.run(q).totals.requests == 0);

  q.user_name = "bob";
  auto own = f.run(q);
  REQUIRE(own.rows.size() == 1);
  CHECK(own.rows[0].totals.requests == 1);

  auto by_name = january({UsageKey::day});
  by_name.user_name = "alice";
  CHECK(f.run(by_name).totals.requests == 2);
  by_name.user_name = "nobody";
  CHECK(f.run(by_name).totals.requests == 0);
}

TEST_CASE("range, day grouping, filters and unknown usage", "[usage_reports][store]") {
  // Guards against: rows outside the range counted, a bare `to` date excluding its own day, and
  // unknown usage hidden as a silent zero.
  Fixture f;
  f.add(f.alice, kJan1 - 1, "openai", "gpt-4o-mini", 10);                // Dec 31: outside
  f.add(f.alice, kJan1 + 5, "openai", "gpt-4o-mini", 10);                // Jan 1
  f.add(f.alice, kJan1 + kDay + 5, "openai", "o3", 10, "ok", 0, 0, {});  // Jan 2, unknown usage
  f.add(f.alice, kJan1 + kDay + 6, "openai", "gpt-4o-mini", 10, "ok", 10, 20, 0.25, "helper");

  auto range = parse_usage_range("2026-01-01", "2026-01-02", 0);
  REQUIRE(range.has_value());
  CHECK(range->first == kJan1);
  CHECK(range->second == kJan1 + 2 * kDay);  // the whole of Jan 2
  UsageQuery q;
  q.from_ms = range->first;
  q.to_ms = range->second;
  q.group_by = {UsageKey::day, UsageKey::agent};
  auto report = f.run(q);
  REQUIRE(report.rows.size() == 3);
  CHECK(report.rows[0].keys[0] == "2026-01-01");
  CHECK_FALSE(report.rows[0].keys[1].has_value());  // no agent → null, not ""
  CHECK(report.rows[1].keys[0] == "2026-01-02");
  CHECK_FALSE(report.rows[1].keys[1].has_value());
  CHECK(report.rows[1].totals.unknown_usage == 1);
  CHECK(report.rows[2].keys[1] == "helper");
  CHECK(report.totals.requests == 3);

  q.model = "o3";
  CHECK(f.run(q).totals.requests == 1);
  q.model.reset();
  q.agent = "helper";
  CHECK(f.run(q).totals.requests == 1);

  CHECK_FALSE(parse_usage_range("2026-01-02", "2026-01-01", 0).has_value());
  CHECK_FALSE(parse_usage_range("yesterday", "", 0).has_value());
  auto offsets = parse_usage_range("2026-01-01T09:00:00Z", "2026-01-01T11:00:00+01:00", 0);
  REQUIRE(offsets.has_value());
  CHECK(offsets->second == kJan1 + 10 * 3'600'000);
  CHECK_FALSE(parse_group_by("user,colour").has_value());
  CHECK(parse_group_by("").value() == std::vector<UsageKey>{UsageKey::day});
}

TEST_CASE("cache reads, cache writes and web searches are summed; unpriced rows are counted",
          "[usage_reports][store]") {
  // Guards against: a report whose cost_usd silently leaves out calls keygate had no price for,
  // and cache or search counts recorded but never shown.
  Fixture f;
  auto row = [&](const std::string& model, int64_t cached, int64_t written, int64_t searches,
                 std::optional<double> cost, const char* known = "reported") {
    UsageRow r;
    r.request_id = "req_" + std::to_string(f.n++);
    r.started_at_ms = kJan1;
    r.user_id = f.alice;
    r.provider = "anthropic";
    r.model_served = model;
    r.key_source = "user";
    r.prompt_tokens = 1000;
    r.completion_tokens = 10;
    r.cached_tokens = cached;
    r.cache_write_tokens = written;
    r.web_search_requests = searches;
    r.usage_known = known;
    r.cost_usd = cost;
    r.latency_ms = 5;
    r.outcome = "ok";
    REQUIRE(f.writer->enqueue(std::move(r)));
  };
  row("claude-sonnet-4-5", 900, 50, 2, 0.5);
  row("claude-sonnet-4-5", 100, 0, 1, 0.25);
  row("claude-next", 300, 200, 0, std::nullopt);         // tokens, no price: unpriced
  row("claude-next", 0, 0, 0, std::nullopt, "unknown");  // no tokens: unknown, not unpriced
  auto report = f.run(january({UsageKey::model}));
  REQUIRE(report.rows.size() == 2);
  const UsageTotals& next = report.rows[0].totals;  // sorted by key: claude-next first
  const UsageTotals& sonnet = report.rows[1].totals;
  CHECK(sonnet.cached_tokens == 1000);
  CHECK(sonnet.cache_write_tokens == 50);
  CHECK(sonnet.web_search_requests == 3);
  CHECK(sonnet.unpriced == 0);
  CHECK(sonnet.cost_usd == Approx(0.75));
  CHECK(next.unpriced == 1);
  CHECK(next.unknown_usage == 1);
  CHECK(next.cache_write_tokens == 200);
  CHECK(report.totals.cached_tokens == 1300);
  CHECK(report.totals.cache_write_tokens == 250);
  CHECK(report.totals.web_search_requests == 3);
  CHECK(report.totals.unpriced == 1);

  rapidjson::Document json;
  json.Parse(usage_report_json(report).c_str());
  REQUIRE(json.IsObject());
  const auto& totals = json["totals"];
  CHECK(totals["cached_tokens"].GetInt64() == 1300);
  CHECK(totals["cache_write_tokens"].GetInt64() == 250);
  CHECK(totals["web_search_requests"].GetInt64() == 3);
  CHECK(totals["unpriced"].GetInt64() == 1);
}

TEST_CASE("spend on the operator's keys per user: system and env keys, priced, from a time on",
          "[usage_reports][store][budget]") {
  Fixture f;
  auto row = [&](const std::string& user, int64_t at, const std::string& source,
                 std::optional<double> cost) {
    UsageRow r;
    r.request_id = "req_spend_" + std::to_string(f.n++);
    r.started_at_ms = at;
    r.user_id = user;
    r.provider = "openai";
    r.model_served = "gpt-4o-mini";
    r.key_source = source;
    r.usage_known = "reported";
    r.cost_usd = cost;
    r.outcome = "ok";
    REQUIRE(f.writer->enqueue(std::move(r)));
  };
  const int64_t from = kJan1 + 10 * kDay;
  row(f.alice, from, "system", 1.5);                  // counted: the first millisecond is in
  row(f.alice, from + kDay, "env", 0.25);             // the environment's key is the operator's too
  row(f.alice, from + kDay, "user", 100.0);           // her own key: never
  row(f.alice, from - 1, "system", 50.0);             // before the period
  row(f.alice, from + kDay, "system", std::nullopt);  // no price: counts nothing
  row(f.bob, from + 2 * kDay, "system", 0.5);
  row(f.bob, from + 2 * kDay, "none", 7.0);  // a provider that needs no key
  f.writer->flush();
  auto spend = f.reports->operator_key_spend(from, from + 30 * kDay);
  REQUIRE(spend.has_value());
  CHECK(spend->size() == 2);
  CHECK((*spend)[f.alice] == Approx(1.75));
  CHECK((*spend)[f.bob] == Approx(0.5));
  auto later = f.reports->operator_key_spend(from + 3 * kDay, from + 30 * kDay);
  REQUIRE(later.has_value());
  CHECK(later->empty());
  // The end is not in the range: bob's row on day 2 is the first of [from + 2 days, ...).
  auto until_bob = f.reports->operator_key_spend(from, from + 2 * kDay);
  REQUIRE(until_bob.has_value());
  CHECK(until_bob->size() == 1);
  CHECK((*until_bob)[f.alice] == Approx(1.75));
}

TEST_CASE("a user's budget on the operator's keys is stored, read back and cleared",
          "[usage_reports][store][budget]") {
  Fixture f;
  auto user = f.ks->get_user(f.alice);
  REQUIRE(user.has_value());
  CHECK_FALSE(user->system_key_budget_usd.has_value());
  auto set = f.ks->set_system_key_budget(f.alice, 12.5);
  REQUIRE(set.has_value());
  CHECK(set->system_key_budget_usd == 12.5);
  auto listed = f.ks->list_users();
  REQUIRE(listed.has_value());
  for (const auto& u : *listed) {
    CHECK(u.system_key_budget_usd ==
          (u.id == f.alice ? std::optional<double>(12.5) : std::nullopt));
  }
  auto cleared = f.ks->set_system_key_budget(f.alice, std::nullopt);
  REQUIRE(cleared.has_value());
  CHECK_FALSE(cleared->system_key_budget_usd.has_value());
  auto unknown = f.ks->set_system_key_budget("usr_nobody", 1.0);
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().status == 404);
}

TEST_CASE("CSV has the JSON's columns and quotes per RFC 4180", "[usage_reports][store]") {
  // Guards against: an agent name with a comma or quote shifting the columns of a CSV import.
  Fixture f;
  f.add(f.alice, kJan1, "openai", "gpt-4o-mini", 10, "ok", 10, 20, 0.25, "a,\"b\"");
  f.add(f.alice, kJan1, "openai", "gpt-4o-mini", 10);
  auto report = f.run(january({UsageKey::agent, UsageKey::model}));
  auto csv = usage_report_csv(report);
  CHECK(csv.rfind("agent,model,requests,errors,prompt_tokens,completion_tokens,total_tokens,"
                  "cost_usd,latency_ms_p50,latency_ms_p95,unknown_usage,cached_tokens,"
                  "cache_write_tokens,web_search_requests,unpriced\r\n",
                  0) == 0);
  CHECK(csv.find("\r\n\"a,\"\"b\"\"\",gpt-4o-mini,1,0,10,20,30,0.25,10,10,0,0,0,0,0\r\n") !=
        std::string::npos);
  CHECK(csv.find("\r\n,gpt-4o-mini,1,0,10,20,30,0.25,10,10,0,0,0,0,0\r\n") != std::string::npos);

  auto json = usage_report_json(report);
  auto doc = parse_json_object(json);
  REQUIRE(doc.has_value());
  REQUIRE((*doc)["data"].Size() == 2);
  CHECK((*doc)["data"][0]["agent"].IsNull());
  CHECK((*doc)["totals"]["requests"].GetInt() == 2);
}

TEST_CASE("a report over a million rows", "[usage_reports][slow]") {
  // Guards against: a report that scans without an index or sorts the whole table in SQL. The
  // timing is printed, not asserted (shared CI machines vary).
  Fixture f;
  auto load_started = std::chrono::steady_clock::now();
  constexpr int kRows = 1'000'000;
  {
    auto db = sqlite::Database::open(f.path);
    REQUIRE(db.has_value());
    // Test set-up speed only: the bulk load need not survive a power cut, and a large cache keeps
    // SQLite from spilling the transaction half-way.
    REQUIRE(db->exec("PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; BEGIN").has_value());
    // Generated by SQLite itself (a recursive CTE), in one transaction: a C++ loop of binds
    // would triple the set-up time in a debug build. Row i: day i / 200000, user alice/bob
    // alternating, provider i % 4, latency i % 1000 ms, every tenth an error, 3 + 4 tokens.
    auto ins = db->prepare(R"sql(
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
      INSERT INTO usage (request_id, started_at_ms, user_id, provider, model_served, key_source,
                         prompt_tokens, completion_tokens, usage_known, cost_usd, latency_ms,
                         outcome, day)
      SELECT 'req_' || i, ?2 + (i / (?1 / 5)) * ?3 + i % 1000,
             CASE i % 2 WHEN 0 THEN ?4 ELSE ?5 END,
             CASE i % 4 WHEN 0 THEN 'openai' WHEN 1 THEN 'anthropic' WHEN 2 THEN 'google'
                        ELSE 'mistral' END,
             'm', 'system', 3, 4, 'reported', 0.001, i % 1000,
             CASE WHEN i % 10 = 0 THEN 'upstream_error' ELSE 'ok' END,
             '2026-01-0' || (i / (?1 / 5) + 1)
      FROM n)sql");
    REQUIRE(ins.has_value());
    ins->bind(1, int64_t{kRows}).bind(2, kJan1).bind(3, kDay).bind(4, f.alice).bind(5, f.bob);
    REQUIRE(ins->run().has_value());
    REQUIRE(db->exec("COMMIT").has_value());
  }
  std::printf("loading %d usage rows: %lld ms\n", kRows,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - load_started)
                                         .count()));
  auto started = std::chrono::steady_clock::now();
  auto cpu_started = std::clock();
  auto report = f.run(january({UsageKey::provider, UsageKey::day}));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started)
                .count();
  std::printf("usage report over %d rows (group_by provider,day): %lld ms (cpu %lld ms)\n", kRows,
              static_cast<long long>(ms),
              static_cast<long long>((std::clock() - cpu_started) * 1000 / CLOCKS_PER_SEC));
  REQUIRE(report.rows.size() == 20);
  CHECK(report.totals.requests == kRows);
  CHECK(report.totals.errors == kRows / 10);
  CHECK(report.totals.prompt_tokens == 3LL * kRows);
  CHECK(report.totals.total_tokens == 7LL * kRows);
  CHECK(report.totals.cost_usd == Approx(0.001 * kRows));
  CHECK(report.totals.latency_ms_p50 == 499);
  CHECK(report.totals.latency_ms_p95 == 949);
  for (const auto& row : report.rows) {
    CHECK(row.totals.requests == kRows / 20);
  }

  auto own = january({UsageKey::day});
  own.user_id = f.bob;
  started = std::chrono::steady_clock::now();
  auto bobs = f.run(own);
  ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                             started)
           .count();
  std::printf("usage report over %d rows, one user's half: %lld ms\n", kRows,
              static_cast<long long>(ms));
  CHECK(bobs.totals.requests == kRows / 2);
}
