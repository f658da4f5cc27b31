// Two keygate instances sharing one PostgreSQL database, as several machines behind a load
// balancer would: what one stores, the other serves; usage from both lands in one report; a
// token revoked or a key deleted through one is refused or unused by the other at once (its
// cache is cleared by a NOTIFY, not left to its 5 s TTL); /readyz follows the database.
// Needs CTest's throwaway server (tests/postgres_server.sh); runs in the "postgres: " pass.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "keystore/postgres.hpp"
#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAliceKey = "sk-alice-shared-db-000000000000000007";

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

HttpResponse call(TestGateway& gw, const std::string& token, const std::string& method,
                  const std::string& target, const std::string& body = {}) {
  return http_request(gw.port(), method, target, body, {{"authorization", bearer(token)}});
}

// Waits (up to 5 s) for the instance's NOTIFY listener: it connects on its own thread after
// the keystore opens, and clears the caches when it does.
void wait_until_listening(TestGateway& gw) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    auto listener = gw.keystore().change_listener();
    REQUIRE(listener.has_value());
    if (listener->connected) {
      return;
    }
    std::this_thread::sleep_for(20ms);
  }
  FAIL("the change listener did not connect");
}

// Calls `probe` until it answers `wanted`, for at most `limit`; returns its last status.
template <class Probe>
int status_within(std::chrono::milliseconds limit, int wanted, Probe probe) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = probe();
  while (status != wanted && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
    status = probe();
  }
  return status;
}

struct TwoInstances {
  MockUpstream upstream{openai_json_handler("Hello from one database")};
  std::unique_ptr<TestGateway> a;
  std::unique_ptr<TestGateway> b;

  explicit TwoInstances(const std::string& schema, const std::string& extra_config = "") {
    unsetenv("OPENAI_API_KEY");  // only the keystore's keys may answer
    GatewayOptions options;
    options.base_urls = {{"openai", upstream.base_url("/v1")}};
    options.extra_config = extra_config;
    options.database = postgres_test_database(schema);
    a = std::make_unique<TestGateway>(options);
    options.master_key_file = a->data_dir() + "/master.key";  // the same key on both
    options.create_users = false;
    b = std::make_unique<TestGateway>(options);
    wait_until_listening(*a);  // so that what B writes from now on reaches A's caches
    wait_until_listening(*b);
  }
};

}  // namespace

TEST_CASE("two instances on one PostgreSQL database share users, keys and usage",
          "[.][postgres][multi_instance]") {
  TwoInstances f("multi_instance_share");
  TestGateway& a = *f.a;
  TestGateway& b = *f.b;

  // Users created by instance A authenticate on B; the admin on B lists them.
  auto users = call(b, a.admin_token, "GET", "/v1/admin/users");
  INFO(users.body);
  REQUIRE(users.status == 200);
  CHECK(users.body.find("\"alice\"") != std::string::npos);
  CHECK(users.body.find("\"bob\"") != std::string::npos);

  // Alice stores her key through B; A uses it for her request.
  auto added = call(b, a.user_token, "POST", "/v1/keys",
                    std::string(R"({"provider": "openai", "api_key": ")") + kAliceKey +
                        R"(", "name": "shared"})");
  INFO(added.body);
  REQUIRE(added.status == 201);
  auto through_a = call(a, a.user_token, "POST", "/v1/chat/completions", chat_body());
  INFO(through_a.body);
  REQUIRE(through_a.status == 200);
  REQUIRE(f.upstream.request_count() == 1);
  CHECK(f.upstream.requests().back().header("authorization") == std::string("Bearer ") + kAliceKey);
  auto through_b = call(b, a.user_token, "POST", "/v1/chat/completions", chat_body());
  REQUIRE(through_b.status == 200);
  CHECK(f.upstream.requests().back().header("authorization") == std::string("Bearer ") + kAliceKey);

  // Bob sees neither her key nor her usage, from either instance.
  for (TestGateway* gw : {&a, &b}) {
    auto listed = call(*gw, a.other_token, "GET", "/v1/keys");
    REQUIRE(listed.status == 200);
    CHECK(listed.body.find("shared") == std::string::npos);
  }

  // Each instance's usage writer stored its own row; either instance reports both.
  a.app().usage().flush();
  b.app().usage().flush();
  for (TestGateway* gw : {&a, &b}) {
    auto mine = call(*gw, a.user_token, "GET", "/v1/usage?group_by=provider");
    INFO(mine.body);
    REQUIRE(mine.status == 200);
    auto d = parse(mine.body);
    REQUIRE(d.IsObject());
    CHECK(d["totals"]["requests"].GetInt() == 2);
    auto bobs = call(*gw, a.other_token, "GET", "/v1/usage");
    REQUIRE(bobs.status == 200);
    CHECK(parse(bobs.body)["totals"]["requests"].GetInt() == 0);
  }
}

TEST_CASE("spending and budgets on one instance reach the other at its reload",
          "[.][postgres][multi_instance][budget]") {
  // A millionth of a dollar a month: the mock's answer (5 + 7 tokens of gpt-4o-mini) spends it.
  TwoInstances f("multi_instance_budget", R"("system_key_budget": {"usd": 0.000001})");
  TestGateway& a = *f.a;
  TestGateway& b = *f.b;
  REQUIRE(a.keystore().create_key(std::nullopt, "openai", SecretKey("sk-operator-shared-0000009"),
                                  "operator", "", std::nullopt));
  auto first = call(a, a.user_token, "POST", "/v1/chat/completions", chat_body());
  INFO(first.body);
  REQUIRE(first.status == 200);
  // The spend is recorded just after the answer: wait for it before the next call.
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (parse(call(a, a.user_token, "GET", "/v1/budget").body)["spent_usd"].GetDouble() == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(call(a, a.user_token, "POST", "/v1/chat/completions", chat_body()).status == 429);
  auto zero = call(a, a.admin_token, "PATCH", "/v1/admin/users/" + a.other_id,
                   R"({"system_key_budget_usd": 0})");
  REQUIRE(zero.status == 200);

  // B's reload (every minute; here called at once) reads A's stored row and bob's budget.
  a.app().usage().flush();
  REQUIRE(b.app().reload_limits());
  auto through_b = call(b, a.user_token, "POST", "/v1/chat/completions", chat_body());
  INFO(through_b.body);
  CHECK(through_b.status == 429);
  CHECK(through_b.body.find("system_key_budget_exceeded") != std::string::npos);
  CHECK(call(b, a.other_token, "POST", "/v1/chat/completions", chat_body()).status == 429);
  auto standing = parse(call(b, a.user_token, "GET", "/v1/budget").body);
  CHECK(standing["spent_usd"].GetDouble() > 0.000001);
  CHECK(f.upstream.request_count() == 1);
}

TEST_CASE("a token revoked on one instance is refused by the other at once, not after its TTL",
          "[.][postgres][multi_instance]") {
  TwoInstances f("multi_instance_revoke");
  TestGateway& a = *f.a;
  TestGateway& b = *f.b;

  // A second token for alice, issued through A, used through A (now in A's cache).
  auto issued = call(a, a.admin_token, "POST", "/v1/admin/users/" + a.user_id + "/tokens",
                     R"({"name": "laptop"})");
  INFO(issued.body);
  REQUIRE(issued.status == 201);
  auto doc = parse(issued.body);
  const std::string token = doc["token"].GetString();
  const std::string token_id = doc["id"].GetString();
  REQUIRE(call(a, token, "GET", "/v1/keys").status == 200);

  // Revoked through B: B refuses at once (its own write cleared its cache) ...
  REQUIRE(call(b, a.admin_token, "DELETE", "/v1/admin/tokens/" + token_id).status / 100 == 2);
  CHECK(call(b, token, "GET", "/v1/keys").status == 401);
  // ... and A as soon as B's NOTIFY reaches it: well inside the cache's 5 s TTL, which is all
  // that would end it without the notification.
  CHECK(status_within(2s, 401, [&] { return call(a, token, "GET", "/v1/keys").status; }) == 401);
  // The untouched token still works everywhere.
  CHECK(call(a, a.user_token, "GET", "/v1/keys").status == 200);
  CHECK(call(b, a.user_token, "GET", "/v1/keys").status == 200);
}

TEST_CASE("a key deleted on one instance is no longer used by the other at once",
          "[.][postgres][multi_instance]") {
  TwoInstances f("multi_instance_key_delete");
  TestGateway& a = *f.a;
  TestGateway& b = *f.b;
  constexpr const char* kSystemKey = "sk-system-shared-db-0000000000000005";
  REQUIRE(a.keystore()
              .create_key(std::nullopt, "openai", SecretKey(std::string_view(kSystemKey)), "sys",
                          "", std::nullopt)
              .has_value());
  auto added = call(a, a.user_token, "POST", "/v1/keys",
                    std::string(R"({"provider": "openai", "api_key": ")") + kAliceKey +
                        R"(", "name": "soon-gone"})");
  INFO(added.body);
  REQUIRE(added.status == 201);
  const std::string key_id = parse(added.body)["id"].GetString();
  auto last_key_used = [&] {
    REQUIRE(call(a, a.user_token, "POST", "/v1/chat/completions", chat_body()).status == 200);
    return f.upstream.requests().back().header("authorization");
  };
  // Used through A: A's cache now holds her key.
  REQUIRE(last_key_used() == std::string("Bearer ") + kAliceKey);

  // Deleted through B: A falls back to the system key as soon as it hears, well inside the
  // cache's 5 s TTL, and never sends the deleted key again.
  REQUIRE(call(b, a.user_token, "DELETE", "/v1/keys/" + key_id).status / 100 == 2);
  const auto until = std::chrono::steady_clock::now() + 2s;
  std::string used = last_key_used();
  while (used != std::string("Bearer ") + kSystemKey && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
    used = last_key_used();
  }
  CHECK(used == std::string("Bearer ") + kSystemKey);
  CHECK(last_key_used() == std::string("Bearer ") + kSystemKey);
}

TEST_CASE("/readyz follows the database: not ready while PostgreSQL refuses, ready again after",
          "[.][postgres][multi_instance]") {
  // The instance logs in as a role of its own, so the test can lock it out of the shared test
  // server (and end its sessions) as an outage or a failover would, without stopping the server.
  const std::string role = "kg_readyz_role";
  const std::string schema = "multi_instance_readyz";
  auto admin = pg::Connection::open(std::getenv("KEYGATE_TEST_POSTGRES"));
  REQUIRE(admin.has_value());
  auto sql = [&](const std::string& text) {
    auto r = (*admin)->exec(text);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
  };
  sql("DROP SCHEMA IF EXISTS " + schema + " CASCADE; DROP ROLE IF EXISTS " + role);
  sql("CREATE ROLE " + role + " LOGIN; CREATE SCHEMA " + schema + " AUTHORIZATION " + role);

  MockUpstream upstream{openai_json_handler("ready")};
  GatewayOptions options;
  options.base_urls = {{"openai", upstream.base_url("/v1")}};
  options.database = std::string(std::getenv("KEYGATE_TEST_POSTGRES")) + "&user=" + role +
                     "&options=-c%20search_path%3D" + schema;
  auto instance = std::make_unique<TestGateway>(options);
  TestGateway& gw = *instance;
  wait_until_listening(gw);
  auto ready = http_request(gw.port(), "GET", "/readyz");
  INFO(ready.body);
  CHECK(ready.status == 200);
  CHECK(parse(ready.body)["database"].GetString() == std::string("open"));
  CHECK(parse(ready.body)["change_listener"].GetString() == std::string("connected"));

  sql("ALTER ROLE " + role + " NOLOGIN");
  // With a timeout, pg_terminate_backend waits until each session has ended.
  sql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = '" + role +
      "'");
  for (int i = 0; i < 2; ++i) {  // the dead connection, then a refused reconnection
    auto out = http_request(gw.port(), "GET", "/readyz");
    INFO(out.body);
    CHECK(out.status == 503);
    auto d = parse(out.body);
    REQUIRE(d.IsObject());
    CHECK(d["status"].GetString() == std::string("not_ready"));
    CHECK(d["database"].GetString() == std::string("unavailable"));
    CHECK(std::string(d["message"].GetString()).find("PostgreSQL") != std::string::npos);
  }
  CHECK(http_request(gw.port(), "GET", "/healthz").status == 200);  // alive all the same

  sql("ALTER ROLE " + role + " LOGIN");
  CHECK(status_within(5s, 200, [&] { return http_request(gw.port(), "GET", "/readyz").status; }) ==
        200);
  // The listener is back too (it retries every second), having connected a second time.
  wait_until_listening(gw);
  CHECK(gw.keystore().change_listener()->connections >= 2);
  instance.reset();  // its sessions end before its role goes
  sql("DROP SCHEMA " + schema + " CASCADE; DROP ROLE " + role);
}
