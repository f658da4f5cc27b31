// Key resolution seen from the provider's side: for each situation, the mock upstream must receive
// exactly the key the contract promises (personal, then system, then the environment), or nothing.

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

constexpr const char* kPersonalKey = "sk-abc1234567890personalKEYxxxxwxyz";
constexpr const char* kSystemKey = "sk-sys0987654321systemKEYyyyyyyy9876";
constexpr const char* kEnvKey = "sk-env-test-key-0000000000001234";

struct EnvVar {
  std::string name;
  EnvVar(std::string n, const char* value) : name(std::move(n)) {
    if (value) {
      setenv(name.c_str(), value, 1);
    } else {
      unsetenv(name.c_str());
    }
  }
  ~EnvVar() { unsetenv(name.c_str()); }
};

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

std::string str(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject() || !v.HasMember(name) || !v[name].IsString()) {
    return "<missing " + std::string(name) + ">";
  }
  return v[name].GetString();
}

struct Fixture {
  MockUpstream upstream;
  std::unique_ptr<TestGateway> gw;
  explicit Fixture(MockHandler handler = openai_json_handler()) : upstream(std::move(handler)) {
    GatewayOptions options;
    options.base_urls = {{"openai", upstream.base_url("/v1")}};
    gw = std::make_unique<TestGateway>(options);
  }
  HttpResponse call(const std::string& token, const std::string& method, const std::string& target,
                    const std::string& body = {}) {
    return http_request(gw->port(), method, target, body, {{"authorization", bearer(token)}});
  }
  std::string add_personal_key() {
    auto r = call(gw->user_token, "POST", "/v1/keys",
                  std::string(R"({"provider": "openai", "api_key": ")") + kPersonalKey + "\"}");
    REQUIRE(r.status == 201);
    return str(parse(r.body), "id");
  }
  void add_system_key() {
    auto r = call(gw->admin_token, "POST", "/v1/admin/keys",
                  std::string(R"({"provider": "openai", "api_key": ")") + kSystemKey + "\"}");
    REQUIRE(r.status == 201);
  }
  HttpResponse chat() {
    return call(gw->user_token, "POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini"));
  }
  // The Authorization header of the one upstream request a chat made.
  std::string key_sent() {
    const std::size_t before = upstream.request_count();
    auto r = chat();
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto reqs = upstream.requests();
    REQUIRE(reqs.size() == before + 1);
    return reqs.back().header("authorization");
  }
};

std::string bearer_of(const char* key) {
  return std::string("Bearer ") + key;
}

}  // namespace

TEST_CASE("a personal key wins over the system and environment keys", "[resolution]") {
  // Bug guarded: BYOK ignored, the operator's key billed instead.
  EnvVar env("OPENAI_API_KEY", kEnvKey);
  Fixture f;
  f.add_system_key();
  f.add_personal_key();
  CHECK(f.key_sent() == bearer_of(kPersonalKey));
}

TEST_CASE("an inactive personal key falls back to the system key", "[resolution]") {
  // Bug guarded: a key its owner switched off still used.
  EnvVar env("OPENAI_API_KEY", kEnvKey);
  Fixture f;
  f.add_system_key();
  const std::string id = f.add_personal_key();
  auto off = f.call(f.gw->user_token, "PATCH", "/v1/keys/" + id, R"({"is_active": false})");
  REQUIRE(off.status == 200);
  CHECK(f.key_sent() == bearer_of(kSystemKey));
}

TEST_CASE("without a personal key the system key is used", "[resolution]") {
  EnvVar env("OPENAI_API_KEY", kEnvKey);
  Fixture f;
  f.add_system_key();
  CHECK(f.key_sent() == bearer_of(kSystemKey));
  // Another user's personal key is never borrowed.
  auto bobs = f.call(f.gw->other_token, "POST", "/v1/keys",
                     std::string(R"({"provider": "openai", "api_key": ")") + kPersonalKey + "\"}");
  REQUIRE(bobs.status == 201);
  CHECK(f.key_sent() == bearer_of(kSystemKey));
}

TEST_CASE("with no key in the keystore the environment key is used", "[resolution]") {
  EnvVar env("OPENAI_API_KEY", kEnvKey);
  Fixture f;
  CHECK(f.key_sent() == bearer_of(kEnvKey));
}

TEST_CASE("with no key anywhere the request fails before reaching the provider", "[resolution]") {
  // Bug guarded: a keyless request sent upstream anyway (or a vague 500).
  EnvVar env("OPENAI_API_KEY", nullptr);
  Fixture f;
  auto r = f.chat();
  INFO(r.body);
  CHECK(r.status == 400);
  auto d = parse(r.body);
  CHECK(str(d["error"], "code") == "provider_key_missing");
  CHECK(str(d["error"], "message").find("'openai'") != std::string::npos);
  CHECK(str(d["error"], "message").find("POST /v1/keys") != std::string::npos);
  CHECK(f.upstream.request_count() == 0);
}

TEST_CASE("an upstream 401 marks the personal key as error and hides its echo", "[resolution]") {
  // Bugs guarded: a refused key kept in use; OpenAI's "Incorrect API key provided: sk-abc***wxyz"
  // relayed to the client.
  EnvVar env("OPENAI_API_KEY", nullptr);
  Fixture f([](MockExchange& ex) -> net::awaitable<void> {
    if (ex.request.header("authorization") == std::string("Bearer ") + kSystemKey) {
      const std::string body = openai_completion_json("from the system key");
      co_await ex.respond(200, body);
      co_return;
    }
    const std::string body =
        R"({"error":{"message":"Incorrect API key provided: sk-abc***wxyz. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})";
    co_await ex.respond(401, body);
  });
  const std::string id = f.add_personal_key();
  f.add_system_key();
  auto r = f.chat();
  INFO(r.body);
  CHECK(r.status == 401);
  CHECK(r.body.find("[redacted]") != std::string::npos);
  CHECK(r.body.find("sk-abc") == std::string::npos);
  CHECK(r.body.find("wxyz") == std::string::npos);
  REQUIRE(f.upstream.request_count() == 1);
  CHECK(f.upstream.requests()[0].header("authorization") == bearer_of(kPersonalKey));

  // The mark is written asynchronously, off the request path: poll briefly.
  std::string status;
  for (int i = 0; i < 50; ++i) {
    auto key = parse(f.call(f.gw->user_token, "GET", "/v1/keys/" + id).body);
    status = str(key, "status");
    if (status == "error") {
      CHECK(str(key, "last_error") == "upstream refused the key (HTTP 401)");
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  CHECK(status == "error");
  // The errored key is skipped from now on.
  CHECK(f.key_sent() == bearer_of(kSystemKey));
}
