// The token-counting requests behind POST /v1/messages/count_tokens: what each adapter sends
// (Anthropic's endpoint takes the Messages request without max_tokens and sampling parameters;
// Gemini's takes the generateContent request wrapped, with the model inside), what it reads
// back, and the 400 of a provider that cannot count.

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "builtin_adapters.hpp"
#include "providers/anthropic_inbound.hpp"
#include "providers/catalog.hpp"
#include "schema/json.hpp"

namespace {

using keygate::testing::builtin_adapter;
using keygate::testing::parse_object;

const std::string kRequest =
    R"({"model":"x","max_tokens":100,"temperature":0.5,"stream":true,"user":"u-1",)"
    R"("messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],)"
    R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],)"
    R"("thinking":{"type":"enabled","budget_tokens":2048}})";

}  // namespace

TEST_CASE("count tokens: Anthropic gets the Messages request without what it refuses",
          "[count_tokens]") {
  // Guards against Anthropic's 400 "max_tokens: Extra inputs are not permitted", and against a
  // count of something else than the conversation keygate would send.
  auto built = builtin_adapter("anthropic")
                   .build_count_tokens_request(parse_object(kRequest), "claude-sonnet-4-5");
  REQUIRE(built.has_value());
  CHECK(built->method == "POST");
  CHECK(built->path == "/v1/messages/count_tokens");
  REQUIRE(built->headers.size() == 1);
  CHECK(built->headers[0].first == "anthropic-version");
  auto body = parse_object(built->body);
  for (const auto& m : body.GetObject()) {
    const std::string_view name = keygate::as_view(m.name);
    INFO(name);
    CHECK((name == "model" || name == "system" || name == "messages" || name == "tools" ||
           name == "thinking"));
  }
  CHECK(keygate::as_view(body["model"]) == "claude-sonnet-4-5");
  CHECK(keygate::as_view(body["system"]) == "Be brief.");
  CHECK(body["messages"].Size() == 1);
  CHECK(body["tools"].Size() == 1);
  CHECK(body["thinking"]["budget_tokens"].GetInt64() == 2048);
  CHECK(builtin_adapter("anthropic").read_token_count(R"({"input_tokens":1234})").value() == 1234);
  for (const char* bad : {"", "{}", R"({"input_tokens":"5"})", R"({"input_tokens":-1})", "[]"}) {
    INFO(bad);
    auto r = builtin_adapter("anthropic").read_token_count(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 502);
  }
}

TEST_CASE("count tokens: Gemini gets generateContentRequest with the model inside",
          "[count_tokens]") {
  // Guards against countTokens asked on the wrong path or with the bare contents (which ignores
  // the system instruction and tools), and against its totalTokens misread.
  auto built = builtin_adapter("google").build_count_tokens_request(parse_object(kRequest),
                                                                    "gemini-2.5-flash");
  REQUIRE(built.has_value());
  CHECK(built->path == "/v1beta/models/gemini-2.5-flash:countTokens");
  auto body = parse_object(built->body);
  REQUIRE(body.MemberCount() == 1);
  const auto& inner = body["generateContentRequest"];
  CHECK(keygate::as_view(inner["model"]) == "models/gemini-2.5-flash");
  CHECK(inner["contents"].Size() == 1);
  CHECK(inner.HasMember("systemInstruction"));
  CHECK(inner.HasMember("tools"));
  CHECK(builtin_adapter("google")
            .read_token_count(R"({"totalTokens":31,"promptTokensDetails":[]})")
            .value() == 31);
  // Google leaves zero-valued fields out.
  CHECK(builtin_adapter("google").read_token_count("{}").value() == 0);
  for (const char* bad : {"", "[]", R"({"totalTokens":"31"})"}) {
    INFO(bad);
    CHECK_FALSE(builtin_adapter("google").read_token_count(bad).has_value());
  }
  auto unsafe =
      builtin_adapter("google").build_count_tokens_request(parse_object(kRequest), "../files");
  REQUIRE_FALSE(unsafe.has_value());
  CHECK(unsafe.error().status == 400);
}

TEST_CASE("count tokens: a provider without a counting endpoint is a 400 that says so",
          "[count_tokens]") {
  // Guards against a made-up count (a client would trust it for its context window) where the
  // provider cannot count.
  auto built =
      builtin_adapter("openai").build_count_tokens_request(parse_object(kRequest), "gpt-4o-mini");
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().status == 400);
  CHECK(built.error().code == "count_tokens_unsupported");
}

TEST_CASE("count tokens: a Messages count request needs no max_tokens", "[count_tokens]") {
  // Guards against the 400 "'max_tokens' must be a positive integer" for Claude Code's count
  // requests, which have none, and against stream reaching a count.
  using keygate::providers::MessagesRequest;
  const std::string request =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  auto counted = keygate::providers::to_openai_request(request, MessagesRequest::count_tokens);
  REQUIRE(counted.has_value());
  auto doc = parse_object(*counted);
  CHECK_FALSE(doc.HasMember("max_tokens"));
  CHECK_FALSE(doc.HasMember("stream"));
  CHECK_FALSE(keygate::providers::to_openai_request(request).has_value());
}
