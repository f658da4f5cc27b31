// Budgets on the operator's keys, end to end: keygate in-process with a system key, a mock OpenAI
// upstream on loopback whose answers cost real money at the catalog's prices, the budget's
// refusal, the user's own key going on, an operator raising and resetting a budget over the
// admin API, bad input, and the spend surviving a restart on the same SQLite file.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "keystore/sqlite.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;

namespace {

constexpr const char* kSystemKey = "sk-system-budget-test-0000000000009999";
constexpr const char* kAliceKey = "sk-alice-own-budget-test-000000000004242";

// One million prompt tokens of gpt-4o-mini at $0.15 a million: each answer costs $0.15.
MockHandler fifteen_cents_an_answer() {
  return [](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("Paid by the operator", 1'000'000, 0);
    co_await ex.respond(200, body);
  };
}

struct BudgetFixture {
  MockUpstream upstream{fifteen_cents_an_answer()};
  std::unique_ptr<TestGateway> gw;

  // `budget`: the "system_key_budget" config member's value, empty for none.
  explicit BudgetFixture(const std::string& budget, GatewayOptions options = {}) {
    unsetenv("OPENAI_API_KEY");  // the keystore's system key is the operator's only key
    options.base_urls = {{"openai", upstream.base_url("/v1")}};
    if (!budget.empty()) {
      options.extra_config = R"("system_key_budget": )" + budget;
    }
    gw = std::make_unique<TestGateway>(options);
    if (options.create_users) {
      REQUIRE(gw->keystore().create_key(std::nullopt, "openai", SecretKey(kSystemKey), "operator",
                                        "", std::nullopt));
    }
  }
  HttpResponse as(const std::string& token, const std::string& method, const std::string& path,
                  const std::string& body = {}) {
    return http_request(gw->port(), method, path, body, {{"authorization", bearer(token)}});
  }
  HttpResponse chat(const std::string& token, bool stream = false) {
    return as(token, "POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", stream));
  }
  // Usage is recorded just after the answer went out: until it is, the next call may still see
  // the spend before it. Waits (bounded) until the caller's spend reached `usd`.
  void wait_spent(const std::string& token, double usd) {
    for (int i = 0; i < 200; ++i) {
      if (budget(token)["spent_usd"].GetDouble() >= usd - 1e-12) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("the spend did not reach " << usd);
  }
  rapidjson::Document budget(const std::string& token) {
    auto r = as(token, "GET", "/v1/budget");
    INFO(r.body);
    REQUIRE(r.status == 200);
    return parse_json(r.body);
  }
};

}  // namespace

TEST_CASE(
    "the operator's key stops at a user's budget, while other users and the user's own key go on",
    "[budget]") {
  BudgetFixture f(R"({"usd": 0.2, "period": "day"})");

  // $0 and $0.15 spent are under $0.20: both calls go through. The second overshoots: a call is
  // allowed while the spend is under the limit, and its cost is known only once it answered.
  for (int i = 0; i < 2; ++i) {
    auto r = f.chat(f.gw->user_token);
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
  f.wait_spent(f.gw->user_token, 0.3);
  auto refused = f.chat(f.gw->user_token);
  INFO(refused.body);
  CHECK(refused.status == 429);
  CHECK(error_code_of(refused) == "system_key_budget_exceeded");
  CHECK(parse_json(refused.body)["error"]["type"].GetString() == std::string("insufficient_quota"));
  CHECK(refused.body.find("$0.30 of $0.20") != std::string::npos);
  CHECK(refused.body.find("POST /v1/keys") != std::string::npos);
  CHECK(refused.body.find(kSystemKey) == std::string::npos);
  CHECK(refused.headers["x-should-retry"] == "false");  // the SDKs would retry a 429 otherwise
  CHECK(f.upstream.request_count() == 2);               // the refused call never left keygate
  auto metrics = http_request(f.gw->port(), "GET", "/metrics");
  CHECK(metrics.body.find("\nkeygate_system_key_budget_refusals_total 1\n") != std::string::npos);

  // The answers keygate gives about it agree.
  auto standing = f.budget(f.gw->user_token);
  CHECK(std::string(standing["period"].GetString()) == "day");
  CHECK(standing["limit_usd"].GetDouble() == Approx(0.2));
  CHECK(std::string(standing["limit_source"].GetString()) == "default");
  CHECK(standing["spent_usd"].GetDouble() == Approx(0.3));
  CHECK(standing["remaining_usd"].GetDouble() == 0.0);
  const auto [day_start, day_end] =
      gateway::period_bounds(gateway::BudgetPeriod::day, now_unix_ms());
  CHECK(std::string(standing["resets_at"].GetString()) == format_rfc3339(day_end / 1000));
  CHECK(std::string(standing["period_start"].GetString()) == format_rfc3339(day_start / 1000));
  auto status = f.as(f.gw->user_token, "GET", "/v1/keys/status");
  REQUIRE(status.status == 200);
  auto s = parse_json(status.body);
  CHECK(std::string(s["openai"]["source"].GetString()) == "system");
  CHECK(s["openai"]["budget_exceeded"].GetBool());
  auto models = f.as(f.gw->user_token, "GET", "/v1/models");
  REQUIRE(models.status == 200);
  CHECK(models.body.find("openai/gpt-4o-mini") == std::string::npos);  // not usable now

  // Bob's budget is his own.
  auto bobs = f.chat(f.gw->other_token);
  CHECK(bobs.status == 200);
  f.wait_spent(f.gw->other_token, 0.15);
  CHECK(f.budget(f.gw->other_token)["spent_usd"].GetDouble() == Approx(0.15));
  auto bob_status = parse_json(f.as(f.gw->other_token, "GET", "/v1/keys/status").body);
  CHECK_FALSE(bob_status["openai"]["budget_exceeded"].GetBool());

  // Alice's own key is never limited, and her calls on it do not count.
  auto added = f.as(f.gw->user_token, "POST", "/v1/keys",
                    std::string(R"({"provider": "openai", "api_key": ")") + kAliceKey + "\"}");
  REQUIRE(added.status == 201);
  for (int i = 0; i < 2; ++i) {
    auto own = f.chat(f.gw->user_token);
    INFO(own.body);
    REQUIRE(own.status == 200);
    CHECK(f.upstream.requests().back().header("authorization") ==
          std::string("Bearer ") + kAliceKey);
  }
  CHECK(f.budget(f.gw->user_token)["spent_usd"].GetDouble() == Approx(0.3));
}

TEST_CASE("streamed answers count against the budget too", "[budget]") {
  // The mock's stream reports 5 prompt and 3 completion tokens: $0.00000255 at gpt-4o-mini's
  // prices, over a budget of a millionth of a dollar.
  BudgetFixture f(R"({"usd": 0.000001})");
  f.upstream.set_handler(openai_stream_handler(3));
  auto first = f.chat(f.gw->user_token, true);
  INFO(first.body);
  REQUIRE(first.status == 200);
  CHECK(first.body.find("[DONE]") != std::string::npos);
  // The stream's usage chunk priced the call; the budget is a month's by default.
  f.wait_spent(f.gw->user_token, 0.00000255);
  auto standing = f.budget(f.gw->user_token);
  CHECK(std::string(standing["period"].GetString()) == "month");
  CHECK(standing["spent_usd"].GetDouble() > 0);
  auto refused = f.chat(f.gw->user_token, true);
  CHECK(refused.status == 429);
  CHECK(error_code_of(refused) == "system_key_budget_exceeded");
}

TEST_CASE("without a budget the operator's key is not limited", "[budget]") {
  BudgetFixture f("");
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.chat(f.gw->user_token).status == 200);
  }
  f.wait_spent(f.gw->user_token, 0.45);
  auto standing = f.budget(f.gw->user_token);
  CHECK(standing["limit_usd"].IsNull());
  CHECK(standing["remaining_usd"].IsNull());
  CHECK(std::string(standing["limit_source"].GetString()) == "none");
  CHECK(standing["spent_usd"].GetDouble() == Approx(0.45));  // counted all the same
}

TEST_CASE("an operator sets, raises and resets a user's budget over the admin API", "[budget]") {
  BudgetFixture f(R"({"usd": 0.1})");
  REQUIRE(f.chat(f.gw->user_token).status == 200);
  f.wait_spent(f.gw->user_token, 0.15);
  REQUIRE(f.chat(f.gw->user_token).status == 429);

  // Raised for alice alone: her next call goes through; the answer shows where she stands.
  auto raised = f.as(f.gw->admin_token, "PATCH", "/v1/admin/users/" + f.gw->user_id,
                     R"({"system_key_budget_usd": 1})");
  INFO(raised.body);
  REQUIRE(raised.status == 200);
  auto user = parse_json(raised.body);
  CHECK(std::string(user["name"].GetString()) == "alice");
  CHECK(user["system_key_budget_usd"].GetDouble() == 1.0);
  CHECK(user["system_key_spend"]["limit_usd"].GetDouble() == 1.0);
  CHECK(std::string(user["system_key_spend"]["limit_source"].GetString()) == "user");
  CHECK(user["system_key_spend"]["spent_usd"].GetDouble() == Approx(0.15));
  CHECK(f.chat(f.gw->user_token).status == 200);
  CHECK(f.budget(f.gw->user_token)["limit_usd"].GetDouble() == 1.0);
  f.wait_spent(f.gw->user_token, 0.3);

  // The list shows every user's budget and spend.
  auto listed = parse_json(f.as(f.gw->admin_token, "GET", "/v1/admin/users").body);
  bool saw_alice = false;
  for (const auto& u : listed["data"].GetArray()) {
    if (std::string(u["id"].GetString()) == f.gw->user_id) {
      saw_alice = true;
      CHECK(u["system_key_budget_usd"].GetDouble() == 1.0);
      CHECK(u["system_key_spend"]["spent_usd"].GetDouble() == Approx(0.3));
    } else {
      CHECK(u["system_key_budget_usd"].IsNull());
      CHECK(u["system_key_spend"]["limit_usd"].GetDouble() == Approx(0.1));
    }
  }
  CHECK(saw_alice);

  // null: back to the default, which she has spent.
  auto reset = f.as(f.gw->admin_token, "PATCH", "/v1/admin/users/" + f.gw->user_id,
                    R"({"system_key_budget_usd": null})");
  REQUIRE(reset.status == 200);
  CHECK(parse_json(reset.body)["system_key_budget_usd"].IsNull());
  CHECK(f.chat(f.gw->user_token).status == 429);

  // 0: the user's own keys only, from the first call.
  auto zero = f.as(f.gw->admin_token, "PATCH", "/v1/admin/users/" + f.gw->other_id,
                   R"({"system_key_budget_usd": 0})");
  REQUIRE(zero.status == 200);
  auto bobs = f.chat(f.gw->other_token);
  CHECK(bobs.status == 429);
  CHECK(bobs.body.find("$0.00 of $0.00") != std::string::npos);

  // Stored, and audited with who did it.
  auto stored = f.gw->keystore().get_user(f.gw->other_id);
  REQUIRE(stored);
  CHECK(stored->system_key_budget_usd == 0.0);
  auto audit = f.as(f.gw->admin_token, "GET", "/v1/admin/audit");
  CHECK(audit.body.find("\"action\":\"user.limits\"") != std::string::npos);
  CHECK(audit.body.find("system key budget $0.00") != std::string::npos);
  CHECK(audit.body.find("system key budget: the default") != std::string::npos);
}

TEST_CASE("a bad budget change is refused with a clear error and changes nothing", "[budget]") {
  BudgetFixture f(R"({"usd": 5})");
  const std::string path = "/v1/admin/users/" + f.gw->user_id;
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  const Case cases[] = {
      {R"({"system_key_budget_usd": -1})", 400, "invalid_value"},
      {R"({"system_key_budget_usd": "10"})", 400, "invalid_value"},
      {R"({"system_key_budget_usd": true})", 400, "invalid_value"},
      {R"({"system_key_budget_usd": 1e300})", 400, "invalid_value"},
      {R"({"budget": 10})", 400, "unknown_field"},
      {R"({})", 400, "missing_field"},
      {R"([1])", 400, "invalid_json"},
      {R"({"system_key_budget_usd": 1)", 400, "invalid_json"},
      {"", 400, "invalid_json"},
  };
  for (const auto& c : cases) {
    auto r = f.as(f.gw->admin_token, "PATCH", path, c.body);
    INFO(c.body << " -> " << r.status << " " << r.body);
    CHECK(r.status == c.status);
    CHECK(error_code_of(r) == c.code);
  }
  auto unknown = f.as(f.gw->admin_token, "PATCH", "/v1/admin/users/usr_nobody",
                      R"({"system_key_budget_usd": 1})");
  CHECK(unknown.status == 404);
  CHECK(error_code_of(unknown) == "not_found");
  // A user may not change a budget, even their own.
  auto own = f.as(f.gw->user_token, "PATCH", path, R"({"system_key_budget_usd": 1000})");
  CHECK(own.status == 403);

  auto stored = f.gw->keystore().get_user(f.gw->user_id);
  REQUIRE(stored);
  CHECK_FALSE(stored->system_key_budget_usd.has_value());
  CHECK(f.budget(f.gw->user_token)["limit_usd"].GetDouble() == 5.0);
  REQUIRE(f.chat(f.gw->user_token).status == 200);  // the server is fine
}

TEST_CASE("the period's spend and budgets survive a restart on the same database", "[budget]") {
  std::string data_dir;
  std::string admin_token;
  std::string alice_token;
  std::string alice_id;
  std::string bob_token;
  auto first = std::make_unique<BudgetFixture>(R"({"usd": 0.2})");
  {
    auto& f = *first;
    REQUIRE(f.chat(f.gw->user_token).status == 200);
    REQUIRE(f.chat(f.gw->user_token).status == 200);
    f.wait_spent(f.gw->user_token, 0.3);
    REQUIRE(f.chat(f.gw->user_token).status == 429);
    auto zero = f.as(f.gw->admin_token, "PATCH", "/v1/admin/users/" + f.gw->other_id,
                     R"({"system_key_budget_usd": 0})");
    REQUIRE(zero.status == 200);
    data_dir = f.gw->data_dir();
    admin_token = f.gw->admin_token;
    alice_token = f.gw->user_token;
    alice_id = f.gw->user_id;
    bob_token = f.gw->other_token;
    f.gw->stop();  // every usage row stored
  }
  // A second keygate on the same data directory: nothing counted in memory carries over.
  auto second = std::make_unique<BudgetFixture>(R"({"usd": 0.2})", reopening(data_dir));
  auto refused = second->chat(alice_token);
  INFO(refused.body);
  CHECK(refused.status == 429);
  CHECK(second->budget(alice_token)["spent_usd"].GetDouble() == Approx(0.3));
  CHECK(second->chat(bob_token).status == 429);  // his budget of 0 was stored
  CHECK(second->upstream.request_count() == 0);
  second.reset();  // before the first, whose temporary directory holds the database
  first.reset();
}

TEST_CASE("a spent budget moves the request to the next fallback, where the user's own key serves",
          "[budget]") {
  // "backup": an OpenAI-compatible provider of the operator's (data, not code) on the same mock.
  MockUpstream backup{openai_json_handler("Hello from the backup")};
  GatewayOptions options;
  options.tweak = [&](gateway::Config& c) {
    auto& doc = *c.providers;
    auto& a = doc.GetAllocator();
    rapidjson::Value provider(rapidjson::kObjectType);
    provider.AddMember("kind", "openai", a);
    const std::string url = backup.base_url("/v1");
    provider.AddMember("base_url", rapidjson::Value(url.c_str(), a), a);
    doc.AddMember("backup", provider, a);
  };
  BudgetFixture f(R"({"usd": 0.1})", options);
  auto key = f.as(f.gw->user_token, "POST", "/v1/keys",
                  std::string(R"({"provider": "backup", "api_key": ")") + kAliceKey + "\"}");
  INFO(key.body);
  REQUIRE(key.status == 201);
  auto agent = f.as(f.gw->user_token, "PUT", "/v1/agents/frugal",
                    R"({"model": "openai/gpt-4o-mini", "fallbacks": ["backup/gpt-4o-mini"]})");
  INFO(agent.body);
  REQUIRE(agent.status / 100 == 2);
  const std::string body = chat_body("agent:frugal");

  auto first = f.as(f.gw->user_token, "POST", "/v1/chat/completions", body);
  REQUIRE(first.status == 200);
  CHECK(first.headers["x-keygate-provider"] == "openai");  // within budget: the first choice
  f.wait_spent(f.gw->user_token, 0.15);
  auto second = f.as(f.gw->user_token, "POST", "/v1/chat/completions", body);
  INFO(second.body);
  REQUIRE(second.status == 200);
  CHECK(second.headers["x-keygate-provider"] == "backup");
  CHECK(second.body.find("Hello from the backup") != std::string::npos);
  REQUIRE(backup.request_count() == 1);
  CHECK(backup.requests().back().header("authorization") == std::string("Bearer ") + kAliceKey);
  CHECK(f.upstream.request_count() == 1);
}

TEST_CASE("a client that leaves a stream before its usage still spends the budget", "[budget]") {
  // The mock streams 50 events, 50 ms apart, and its usage only at the end: the client reads the
  // start and hangs up. The provider bills what it did; the budget counts an estimate of it.
  BudgetFixture f(R"({"usd": 1})");
  f.upstream.set_handler(openai_stream_handler(50, std::chrono::milliseconds(50)));
  {
    HttpConnection conn(f.gw->port());
    conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", true),
              {{"authorization", bearer(f.gw->user_token)}, {"content-type", "application/json"}});
    REQUIRE(conn.read_header() == 200);
    std::string got;
    while (got.find("tok2") == std::string::npos) {
      const std::string piece = conn.read_some();
      REQUIRE_FALSE(piece.empty());
      got += piece;
    }
    conn.close();
  }
  REQUIRE(f.upstream.wait_for_cancellations(1, std::chrono::seconds(5)));
  // A few events and a prompt of some 40 tokens: a few millionths of a dollar, not nothing.
  f.wait_spent(f.gw->user_token, 0.000001);
  const double spent = f.budget(f.gw->user_token)["spent_usd"].GetDouble();
  CHECK(spent < 0.0001);
  // The row says it is an estimate, and holds it: the spend read back from the rows (at a
  // restart, or another instance's reload) is the same.
  f.gw->app().usage().flush();
  auto db = sqlite::Database::open(f.gw->data_dir() + "/keygate.db");
  REQUIRE(db);
  auto row = db->prepare("SELECT usage_known, outcome, completion_tokens, cost_usd FROM usage");
  REQUIRE(row);
  REQUIRE(row->step().value());
  CHECK(row->column_text(0) == "estimated");
  CHECK(row->column_text(1) == "client_cancelled");
  CHECK(row->column_int(2) >= 3);  // the events seen: tok0, tok1, tok2 at least
  CHECK(row->column_double(3) == Approx(spent));
  REQUIRE(f.gw->app().reload_limits());
  CHECK(f.budget(f.gw->user_token)["spent_usd"].GetDouble() == Approx(spent));
}

TEST_CASE("a client that leaves before a plain answer came still spends the budget", "[budget]") {
  // The provider takes its time; the client gives up after 300 ms. The prompt was sent and is
  // billed: the budget counts its estimate.
  BudgetFixture f(R"({"usd": 1})");
  f.upstream.set_handler([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.sleep(std::chrono::milliseconds(3000));
    const std::string body = openai_completion_json("Too late", 10, 10);
    co_await ex.respond(200, body);
  });
  auto gave_up =
      http_request(f.gw->port(), "POST", "/v1/chat/completions", chat_body(),
                   {{"authorization", bearer(f.gw->user_token)}}, std::chrono::milliseconds(300));
  CHECK(gave_up.status == 0);
  REQUIRE(f.upstream.wait_for_cancellations(1, std::chrono::seconds(5)));
  f.wait_spent(f.gw->user_token, 0.000001);
  CHECK(f.budget(f.gw->user_token)["spent_usd"].GetDouble() < 0.0001);
}
