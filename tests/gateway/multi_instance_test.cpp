// Two keygate instances sharing one PostgreSQL database, as several machines behind a load
// balancer would: what one stores, the other serves; usage from both lands in one report; a
// token revoked through one is refused by the other once its short cache (5 s) lets go.
// Needs CTest's throwaway server (tests/postgres_server.sh); runs in the "postgres: " pass.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

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

struct TwoInstances {
  MockUpstream upstream{openai_json_handler("Hello from one database")};
  std::unique_ptr<TestGateway> a;
  std::unique_ptr<TestGateway> b;

  explicit TwoInstances(const std::string& schema) {
    unsetenv("OPENAI_API_KEY");  // only the keystore's keys may answer
    GatewayOptions options;
    options.base_urls = {{"openai", upstream.base_url("/v1")}};
    options.database = postgres_test_database(schema);
    a = std::make_unique<TestGateway>(options);
    options.master_key_file = a->data_dir() + "/master.key";  // the same key on both
    options.create_users = false;
    b = std::make_unique<TestGateway>(options);
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

TEST_CASE("a token revoked on one instance is refused by the other within the cache TTL",
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
  // ... and A once its cached identity expires (HotCache TTL, 5 s), never later.
  const auto revoked_at = std::chrono::steady_clock::now();
  int status = 200;
  while (std::chrono::steady_clock::now() - revoked_at < 8s) {
    status = call(a, token, "GET", "/v1/keys").status;
    if (status == 401) {
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  CHECK(status == 401);
  CHECK(std::chrono::steady_clock::now() - revoked_at < 6500ms);
  // The untouched token still works everywhere.
  CHECK(call(a, a.user_token, "GET", "/v1/keys").status == 200);
  CHECK(call(b, a.user_token, "GET", "/v1/keys").status == 200);
}
