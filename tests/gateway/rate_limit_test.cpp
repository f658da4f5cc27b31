// Request rate limits end to end: keygate in-process with a mock OpenAI upstream on loopback, the
// configured default, a user's own limit set by an operator over the admin API (stored, shown,
// audited, kept across a restart), the 429's headers, the Messages API's error shape, and bad
// input.

#include <catch2/catch.hpp>

#include <cstdlib>

#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;

namespace {

struct RateFixture {
  MockUpstream upstream{openai_json_handler("Hello at a measured pace")};
  std::unique_ptr<TestGateway> gw;

  explicit RateFixture(const std::string& rate_limit, GatewayOptions options = {}) {
    setenv("OPENAI_API_KEY", "sk-env-rate-limit-test-00000000000000077", 1);
    options.base_urls = {{"openai", upstream.base_url("/v1")}};
    if (!rate_limit.empty()) {
      options.extra_config = R"("rate_limit": )" + rate_limit;
    }
    gw = std::make_unique<TestGateway>(options);
  }
  HttpResponse as(const std::string& token, const std::string& method, const std::string& path,
                  const std::string& body = {}) {
    return http_request(gw->port(), method, path, body, {{"authorization", bearer(token)}});
  }
  HttpResponse chat(const std::string& token) {
    return as(token, "POST", "/v1/chat/completions", chat_body());
  }
};

}  // namespace

TEST_CASE("a user's model calls stop at the rate limit with a 429 that says when to retry",
          "[rate]") {
  RateFixture f(R"({"requests_per_minute": 2})");
  auto first = f.chat(f.gw->user_token);
  REQUIRE(first.status == 200);
  CHECK(first.headers["x-ratelimit-limit-requests"] == "2");
  CHECK(first.headers["x-ratelimit-remaining-requests"] == "1");
  auto second = f.chat(f.gw->user_token);
  REQUIRE(second.status == 200);
  CHECK(second.headers["x-ratelimit-remaining-requests"] == "0");

  auto refused = f.chat(f.gw->user_token);
  INFO(refused.body);
  CHECK(refused.status == 429);
  CHECK(error_code_of(refused) == "rate_limit_exceeded");
  CHECK(refused.body.find("2 requests a minute") != std::string::npos);
  // At 2 a minute, one request's worth refills in 30 s (a little less: time has passed).
  const int retry_ms = std::stoi(refused.headers["retry-after-ms"]);
  CHECK(retry_ms > 25'000);
  CHECK(retry_ms <= 30'000);
  CHECK(refused.headers["retry-after"] == std::to_string((retry_ms + 999) / 1000));
  CHECK(refused.headers["x-should-retry"].empty());  // worth retrying, after the pause
  CHECK(f.upstream.request_count() == 2);

  // The Messages API counts too, and refuses in Anthropic's shape.
  auto messages = f.as(f.gw->user_token, "POST", "/v1/messages",
                       R"({"model": "openai/gpt-4o-mini", "max_tokens": 16,
                           "messages": [{"role": "user", "content": "hi"}]})");
  INFO(messages.body);
  CHECK(messages.status == 429);
  CHECK(messages.body.find("\"type\":\"error\"") != std::string::npos);
  CHECK(messages.body.find("\"rate_limit_error\"") != std::string::npos);

  // Counting tokens asks the provider too: it takes from the same bucket.
  auto count = f.as(f.gw->user_token, "POST", "/v1/messages/count_tokens",
                    R"({"model": "openai/gpt-4o-mini",
                        "messages": [{"role": "user", "content": "hi"}]})");
  CHECK(count.status == 429);

  auto metrics = http_request(f.gw->port(), "GET", "/metrics");
  CHECK(metrics.body.find("\nkeygate_rate_limited_total 3\n") != std::string::npos);

  // Bob has his own bucket; managing keys and reading usage are not model calls.
  CHECK(f.chat(f.gw->other_token).status == 200);
  CHECK(f.as(f.gw->user_token, "GET", "/v1/keys").status == 200);
  CHECK(f.as(f.gw->user_token, "GET", "/v1/usage").status == 200);
  CHECK(f.upstream.request_count() == 3);
}

TEST_CASE("an operator sets a user's own rate limit, shown, audited and kept across a restart",
          "[rate]") {
  auto first = std::make_unique<RateFixture>(R"({"requests_per_minute": 1})");
  RateFixture& f = *first;
  REQUIRE(f.chat(f.gw->user_token).status == 200);
  REQUIRE(f.chat(f.gw->user_token).status == 429);

  auto raised = f.as(f.gw->admin_token, "PATCH", "/v1/admin/users/" + f.gw->user_id,
                     R"({"requests_per_minute": 100})");
  INFO(raised.body);
  REQUIRE(raised.status == 200);
  auto user = parse_json(raised.body);
  CHECK(user["requests_per_minute"].GetInt() == 100);
  CHECK(user["rate_limit"]["requests_per_minute"].GetInt() == 100);
  CHECK(std::string(user["rate_limit"]["limit_source"].GetString()) == "user");
  CHECK(user["system_key_budget_usd"].IsNull());  // untouched by a rate-only change
  auto now = f.chat(f.gw->user_token);            // a raise adds its extra 99 at once
  CHECK(now.status == 200);
  CHECK(now.headers["x-ratelimit-limit-requests"] == "100");
  auto listed = parse_json(f.as(f.gw->admin_token, "GET", "/v1/admin/users").body);
  for (const auto& u : listed["data"].GetArray()) {
    const bool alice = std::string(u["id"].GetString()) == f.gw->user_id;
    CHECK(u["rate_limit"]["requests_per_minute"].GetInt() == (alice ? 100 : 1));
    CHECK(std::string(u["rate_limit"]["limit_source"].GetString()) == (alice ? "user" : "default"));
  }
  auto audit = f.as(f.gw->admin_token, "GET", "/v1/admin/audit");
  CHECK(audit.body.find("requests a minute 100") != std::string::npos);

  // Both limits in one change.
  auto both = f.as(f.gw->admin_token, "PATCH", "/v1/admin/users/" + f.gw->other_id,
                   R"({"requests_per_minute": 50, "system_key_budget_usd": 3})");
  REQUIRE(both.status == 200);
  CHECK(parse_json(both.body)["system_key_budget_usd"].GetDouble() == 3.0);
  CHECK(parse_json(both.body)["requests_per_minute"].GetInt() == 50);

  // Stored: a second keygate on the same data directory applies them from its first request.
  const std::string data_dir = f.gw->data_dir();
  const std::string alice_token = f.gw->user_token;
  f.gw->stop();
  auto second = std::make_unique<RateFixture>(R"({"requests_per_minute": 1})", reopening(data_dir));
  auto again = second->chat(alice_token);
  CHECK(again.status == 200);
  CHECK(again.headers["x-ratelimit-limit-requests"] == "100");

  // null: back to the default of 1 a minute (what is left is cut to 1: one more, then none).
  auto reset = second->as(f.gw->admin_token, "PATCH", "/v1/admin/users/" + f.gw->user_id,
                          R"({"requests_per_minute": null})");
  REQUIRE(reset.status == 200);
  CHECK(parse_json(reset.body)["requests_per_minute"].IsNull());
  CHECK(second->chat(alice_token).status == 200);
  CHECK(second->chat(alice_token).status == 429);
  second.reset();  // before the first, whose temporary directory holds the database
  first.reset();
}

TEST_CASE("a bad rate limit change is refused with a clear error and changes nothing", "[rate]") {
  RateFixture f(R"({"requests_per_minute": 5})");
  const std::string path = "/v1/admin/users/" + f.gw->user_id;
  for (const char* body : {R"({"requests_per_minute": 0})", R"({"requests_per_minute": -1})",
                           R"({"requests_per_minute": 1.5})", R"({"requests_per_minute": "10"})",
                           R"({"requests_per_minute": true})", R"({"requests_per_minute": 1e12})",
                           R"({"requests_per_minute": 10, "system_key_budget_usd": -1})"}) {
    auto r = f.as(f.gw->admin_token, "PATCH", path, body);
    INFO(body << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK(error_code_of(r) == "invalid_value");
  }
  auto own = f.as(f.gw->user_token, "PATCH", path, R"({"requests_per_minute": 100000})");
  CHECK(own.status == 403);
  auto stored = f.gw->keystore().get_user(f.gw->user_id);
  REQUIRE(stored);
  CHECK_FALSE(stored->requests_per_minute.has_value());
  CHECK_FALSE(stored->system_key_budget_usd.has_value());  // the half-valid change left nothing
  CHECK(f.chat(f.gw->user_token).headers["x-ratelimit-limit-requests"] == "5");
}

TEST_CASE("a user's calls stop once they have used the minute's tokens, across every model route",
          "[rate]") {
  // The mock's answer reports 5 prompt and 7 completion tokens: 12 a call against 20 a minute.
  RateFixture f(R"({"tokens_per_minute": 20})");
  auto first = f.chat(f.gw->user_token);
  REQUIRE(first.status == 200);
  CHECK(first.headers["x-ratelimit-limit-tokens"] == "20");
  CHECK(first.headers["x-ratelimit-remaining-tokens"] == "20");
  CHECK(first.headers["x-ratelimit-limit-requests"].empty());  // no request limit configured
  REQUIRE(f.gw->wait_usage_rows(1) == 1);  // the tokens are taken when the call is recorded
  auto second = f.as(f.gw->user_token, "POST", "/v1/responses",
                     R"({"model": "openai/gpt-4o-mini", "input": "Hi"})");
  REQUIRE(second.status == 200);
  CHECK(second.headers["x-ratelimit-remaining-tokens"] == "8");
  REQUIRE(f.gw->wait_usage_rows(2) == 2);  // 4 tokens in debt now

  for (const char* path : {"/v1/chat/completions", "/v1/responses", "/v1/embeddings"}) {
    INFO(path);
    auto refused = f.as(f.gw->user_token, "POST", path,
                        std::string(path) == "/v1/chat/completions"
                            ? chat_body()
                            : R"({"model": "openai/gpt-4o-mini", "input": "Hi"})");
    CHECK(refused.status == 429);
    CHECK(error_code_of(refused) == "rate_limit_exceeded");
    CHECK(refused.body.find("20 tokens a minute") != std::string::npos);
    CHECK(refused.headers["x-ratelimit-remaining-tokens"] == "0");
    // 5 tokens' worth (4 of debt and 1 to go on) at 20 a minute: 15 s, less the time passed.
    const int retry_ms = std::stoi(refused.headers["retry-after-ms"]);
    CHECK(retry_ms > 10'000);
    CHECK(retry_ms <= 15'000);
  }
  CHECK(f.upstream.request_count() == 2);
  // Another user's tokens are their own.
  CHECK(f.chat(f.gw->other_token).status == 200);
}

TEST_CASE("an operator sets a user's own token limit, shown, audited, enforced and kept",
          "[rate]") {
  auto first = std::make_unique<RateFixture>(R"({"tokens_per_minute": 100000})");
  RateFixture& f = *first;
  // 12 tokens a call (the mock's usage) against alice's own 10 a minute.
  auto set = f.as(f.gw->admin_token, "PATCH", "/v1/admin/users/" + f.gw->user_id,
                  R"({"tokens_per_minute": 10})");
  INFO(set.body);
  REQUIRE(set.status == 200);
  auto user = parse_json(set.body);
  CHECK(user["tokens_per_minute"].GetInt() == 10);
  CHECK(user["rate_limit"]["tokens_per_minute"].GetInt() == 10);
  CHECK(std::string(user["rate_limit"]["token_limit_source"].GetString()) == "user");
  CHECK(user["requests_per_minute"].IsNull());  // untouched
  auto ok = f.chat(f.gw->user_token);
  REQUIRE(ok.status == 200);
  CHECK(ok.headers["x-ratelimit-limit-tokens"] == "10");
  REQUIRE(f.gw->wait_usage_rows(1) == 1);
  auto refused = f.chat(f.gw->user_token);
  CHECK(refused.status == 429);
  CHECK(refused.body.find("10 tokens a minute") != std::string::npos);
  // Bob keeps the default.
  auto bob = f.chat(f.gw->other_token);
  CHECK(bob.status == 200);
  CHECK(bob.headers["x-ratelimit-limit-tokens"] == "100000");
  auto listed = parse_json(f.as(f.gw->admin_token, "GET", "/v1/admin/users").body);
  for (const auto& u : listed["data"].GetArray()) {
    const bool alice = std::string(u["id"].GetString()) == f.gw->user_id;
    CHECK(u["rate_limit"]["tokens_per_minute"].GetInt() == (alice ? 10 : 100000));
  }
  CHECK(f.as(f.gw->admin_token, "GET", "/v1/admin/audit").body.find("tokens a minute 10") !=
        std::string::npos);

  // Stored: a second keygate on the same data directory applies it from its first request.
  const std::string data_dir = f.gw->data_dir();
  const std::string alice_token = f.gw->user_token;
  const std::string admin_token = f.gw->admin_token;
  const std::string alice_id = f.gw->user_id;
  f.gw->stop();
  auto second =
      std::make_unique<RateFixture>(R"({"tokens_per_minute": 100000})", reopening(data_dir));
  auto again = second->chat(alice_token);
  CHECK(again.status == 200);
  CHECK(again.headers["x-ratelimit-limit-tokens"] == "10");
  auto reset = second->as(admin_token, "PATCH", "/v1/admin/users/" + alice_id,
                          R"({"tokens_per_minute": null})");
  REQUIRE(reset.status == 200);
  CHECK(parse_json(reset.body)["tokens_per_minute"].IsNull());
  CHECK(std::string(parse_json(reset.body)["rate_limit"]["token_limit_source"].GetString()) ==
        "default");
  for (const char* bad : {R"({"tokens_per_minute": 0})", R"({"tokens_per_minute": "10"})",
                          R"({"tokens_per_minute": 1.5})"}) {
    INFO(bad);
    auto r = second->as(admin_token, "PATCH", "/v1/admin/users/" + alice_id, bad);
    CHECK(r.status == 400);
    CHECK(error_code_of(r) == "invalid_value");
  }
}
