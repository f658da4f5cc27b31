// A failed tool's result (Anthropic's tool_result is_error, carried as the tool message's
// is_error: providers/anthropic_inbound.hpp) as each provider takes it: Claude's is_error,
// Gemini's "error" response, and nothing for the OpenAI family, which has no such field.

#include <catch2/catch.hpp>

#include <string>

#include "builtin_adapters.hpp"
#include "providers/anthropic_inbound.hpp"
#include "schema/json.hpp"

namespace {

using keygate::testing::builtin_adapter;
using keygate::testing::parse_object;

std::string failed_call(const std::string& is_error) {
  return R"({"model":"x","messages":[{"role":"user","content":"Weather?"},)"
         R"({"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function",)"
         R"("function":{"name":"get_weather","arguments":"{}"}}]},)"
         R"({"role":"tool","tool_call_id":"t1","content":"city not found","is_error":)" +
         is_error + "}]}";
}

rapidjson::Document sent(std::string_view provider, const std::string& request,
                         std::string_view model) {
  auto built = builtin_adapter(provider).build_chat_request(parse_object(request), {}, model);
  REQUIRE(built.has_value());
  return parse_object(built->body);
}

}  // namespace

TEST_CASE("tool errors: a failed tool reaches each provider the way it reads one",
          "[tool_errors]") {
  // Guards against Claude and Gemini taking a failed tool's message for its output, and against
  // the OpenAI family getting a field it refuses.
  auto claude = sent("anthropic", failed_call("true"), "claude-sonnet-4-5");
  const auto& result = claude["messages"][2]["content"][0];
  CHECK(keygate::as_view(result["type"]) == "tool_result");
  CHECK(result["is_error"].IsTrue());
  auto gemini = sent("google", failed_call("true"), "gemini-2.5-flash");
  CHECK(keygate::to_json(gemini["contents"][2]["parts"][0]["functionResponse"]["response"]) ==
        R"({"error":"city not found"})");
  auto openai = sent("openai", failed_call("true"), "gpt-4o-mini");
  CHECK_FALSE(openai["messages"][2].HasMember("is_error"));
  CHECK(keygate::as_view(openai["messages"][2]["content"]) == "city not found");
  // A tool that worked is as before.
  auto ok = sent("anthropic", failed_call("false"), "claude-sonnet-4-5");
  CHECK_FALSE(ok["messages"][2]["content"][0].HasMember("is_error"));
}

TEST_CASE("tool errors: is_error that is not a boolean is a 400 naming it", "[tool_errors]") {
  // Guards against a malformed flag taken for true (or false) without a word.
  for (const char* provider : {"anthropic", "google"}) {
    INFO(provider);
    auto built = builtin_adapter(provider).build_chat_request(parse_object(failed_call(R"("yes")")),
                                                              {}, "m");
    REQUIRE_FALSE(built.has_value());
    CHECK(built.error().param == "messages[2].is_error");
  }
  auto inbound = keygate::providers::to_openai_request(
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result",)"
      R"("tool_use_id":"t","content":"x","is_error":1}]}]})");
  REQUIRE_FALSE(inbound.has_value());
  CHECK(inbound.error().param == "messages[0].content[0].is_error");
}

TEST_CASE("tool errors: /v1/messages carries is_error onto the tool message", "[tool_errors]") {
  // Guards against the flag Claude Code sets on every failed tool call being lost on the way.
  auto carried = keygate::providers::to_openai_request(
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result",)"
      R"("tool_use_id":"t","content":"boom","is_error":true},{"type":"tool_result",)"
      R"("tool_use_id":"u","content":"fine","is_error":false}]}]})");
  REQUIRE(carried.has_value());
  auto doc = parse_object(*carried);
  CHECK(doc["messages"][0]["is_error"].IsTrue());
  CHECK_FALSE(doc["messages"][1].HasMember("is_error"));
}
