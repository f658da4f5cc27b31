// Every route that reads a JSON body, sent one nested a few million levels deep: a 400 (or the
// route's own refusal), never a crash. RapidJSON's reader recurses once a level, and such a body
// used to overflow the I/O thread's stack and take the server down (schema/json.hpp,
// kMaxJsonDepth).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "gateway/routes.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_providers.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;

namespace {

std::string path_of(const std::string& pattern) {
  // Path parameters get a value that names nothing: the body is read before or after the lookup.
  std::string path;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      path += "none";
      i = pattern.find('}', i);
    } else {
      path += pattern[i];
    }
  }
  return path;
}

std::string deep(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST_CASE("a JSON body nested millions deep is refused on every route, and the server stays up",
          "[json][deep]") {
  MockUpstream upstream{openai_json_handler("fine")};
  setenv("OPENAI_API_KEY", "sk-env-deep-json-test-000000000000042", 1);
  setenv("ANTHROPIC_API_KEY", "sk-ant-env-deep-json-test-00000000042", 1);
  setenv("GEMINI_API_KEY", "AIzaEnvDeepJsonTest00000000000000042", 1);
  GatewayOptions options;
  options.base_urls = {{"openai", upstream.base_url("/v1")},
                       {"anthropic", upstream.base_url()},
                       {"google", upstream.base_url()}};
  TestGateway gw(options);
  const std::string body = R"({"model":"openai/gpt-4o-mini","messages":)" + deep(1'000'000) + "}";
  int routes_with_bodies = 0;
  for (const auto& route : gw.app().routes().routes()) {
    if (route.method != boost::beast::http::verb::post &&
        route.method != boost::beast::http::verb::patch &&
        route.method != boost::beast::http::verb::put) {
      continue;
    }
    ++routes_with_bodies;
    const std::string path = path_of(route.pattern);
    const std::string method(boost::beast::http::to_string(route.method));
    // The caller the route reads a body for: an admin route refuses a user before reading.
    const std::string* token =
        route.access == gateway::Access::admin ? &gw.admin_token : &gw.user_token;
    {
      INFO(method << " " << path);
      auto r = http_request(gw.port(), method, path, body,
                            {{"authorization", bearer(*token)},
                             {"x-api-key", *token},
                             {"content-type", "application/json"}});
      CHECK(r.status >= 400);
      CHECK(r.status < 500);
      REQUIRE(http_request(gw.port(), "GET", "/healthz").status == 200);
    }
  }
  CHECK(routes_with_bodies >= 10);

  // JSON inside a string the adapters parse: a tool call's arguments sent back to Claude and
  // Gemini (and a tool's result to Gemini).
  const std::string nested_text = deep(1'000'000);
  for (const char* model : {"anthropic/claude-sonnet-4-5", "google/gemini-2.5-flash"}) {
    INFO(model);
    const std::string chat = std::string(R"({"model":")") + model +
                             R"(","messages":[{"role":"user","content":"hi"},)"
                             R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1",)"
                             R"("type":"function","function":{"name":"f","arguments":")" +
                             nested_text +
                             R"("}}]},{"role":"tool","tool_call_id":"c1",)"
                             R"("content":")" +
                             nested_text + R"("}]})";
    auto r = http_request(gw.port(), "POST", "/v1/chat/completions", chat,
                          {{"authorization", bearer(gw.user_token)}});
    CHECK(r.status >= 400);
    CHECK(r.status < 500);
    REQUIRE(http_request(gw.port(), "GET", "/healthz").status == 200);
  }
  CHECK(upstream.request_count() == 0);

  // A tool's result whose brackets nest past the bound is not JSON to keygate: Gemini gets it
  // as text, as any other text.
  MockUpstream gemini{gemini_json_handler("read it")};
  GatewayOptions gemini_options;
  gemini_options.base_urls = {{"google", gemini.base_url()}};
  TestGateway gw2(gemini_options);
  const std::string deep_text = std::string(300, '[') + "not closed";
  const std::string chat = R"({"model":"google/gemini-2.5-flash","messages":[)"
                           R"({"role":"user","content":"hi"},)"
                           R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1",)"
                           R"("type":"function","function":{"name":"f","arguments":"{}"}}]},)"
                           R"({"role":"tool","tool_call_id":"c1","content":")" +
                           deep_text + R"("}]})";
  auto r = http_request(gw2.port(), "POST", "/v1/chat/completions", chat,
                        {{"authorization", bearer(gw2.user_token)}});
  INFO(r.body);
  CHECK(r.status == 200);
  REQUIRE(gemini.request_count() == 1);
  CHECK(gemini.requests().front().body.find(deep_text) != std::string::npos);
}
