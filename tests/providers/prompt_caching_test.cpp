// Claude's prompt-caching marks (cache_control) in keygate's OpenAI-shaped routing format: Claude
// gets them on the right blocks (golden fixtures anthropic/prompt_caching, openai/prompt_caching),
// a provider that takes them keeps them, Gemini ignores them, and a malformed one is a 400.

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "builtin_adapters.hpp"
#include "providers/catalog.hpp"
#include "schema/json.hpp"

namespace {

using keygate::testing::builtin_adapter;
using keygate::testing::parse_object;

const std::string kMarked =
    R"({"model":"x","tools":[{"type":"function","function":{"name":"f"},)"
    R"("cache_control":{"type":"ephemeral"}}],"messages":[)"
    R"({"role":"system","content":[{"type":"text","text":"Rules.",)"
    R"("cache_control":{"type":"ephemeral"}}]},)"
    R"({"role":"user","content":"hi","cache_control":{"type":"ephemeral"}}]})";

std::string sent(std::string_view provider, const std::string& request, std::string_view model) {
  auto built = builtin_adapter(provider).build_chat_request(parse_object(request), {}, model);
  REQUIRE(built.has_value());
  return built->body;
}

}  // namespace

TEST_CASE("prompt caching: marks reach a provider that takes them, and no other",
          "[prompt_caching]") {
  // Guards against OpenRouter (which caches for Claude) losing the marks, and against OpenAI,
  // Groq or Gemini getting a field they refuse or do not know.
  const std::string routed = sent("openrouter", kMarked, "anthropic/claude-sonnet-4.5");
  CHECK(keygate::to_json(parse_object(routed)) ==
        keygate::to_json(parse_object(R"({"model":"anthropic/claude-sonnet-4.5",)" +
                                      kMarked.substr(kMarked.find("\"tools\"")))));
  for (const char* provider : {"openai", "groq"}) {
    INFO(provider);
    const std::string body = sent(provider, kMarked, "m");
    CHECK(body.find("cache_control") == std::string::npos);
    // Groq takes a system message's content as a string only: the parts made to carry the mark
    // are one string again.
    CHECK(keygate::to_json(parse_object(body)["messages"][0]["content"]) == R"("Rules.")");
  }
  const std::string gemini = sent("google", kMarked, "gemini-2.5-flash");
  CHECK(gemini.find("cache_control") == std::string::npos);
  CHECK(gemini.find("Rules.") != std::string::npos);
}

TEST_CASE("prompt caching: a mark that is not an object is a 400 naming it", "[prompt_caching]") {
  // Guards against a malformed mark reaching Claude, or being dropped without a word.
  struct Case {
    std::string body;
    std::string param;
  };
  const Case cases[] = {
      {R"({"messages":[{"role":"user","content":"hi","cache_control":"ephemeral"}]})",
       "messages[0].cache_control"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"hi",)"
       R"("cache_control":1}]}]})",
       "messages[0].content[0].cache_control"},
      {R"({"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function",)"
       R"("function":{"name":"f"},"cache_control":[]}]})",
       "tools[0].cache_control"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto r = builtin_adapter("anthropic")
                 .build_chat_request(parse_object(c.body), {}, "claude-sonnet-4-5");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
    CHECK(r.error().param == c.param);
  }
}

TEST_CASE("prompt caching: a message's mark goes on its last block that can take one",
          "[prompt_caching]") {
  // Guards against Claude's 400 for a cache mark on a thinking block.
  auto body = parse_object(
      sent("anthropic",
           R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok",)"
           R"("thinking_blocks":[{"type":"thinking","thinking":"t","signature":"s"}],)"
           R"("cache_control":{"type":"ephemeral"}},{"role":"user","content":"more"}]})",
           "claude-sonnet-4-5"));
  const auto& turn = body["messages"][1]["content"];
  REQUIRE(turn.Size() == 2);
  CHECK_FALSE(turn[0].HasMember("cache_control"));
  CHECK(turn[1].HasMember("cache_control"));
}

TEST_CASE("prompt caching: duplicate content members do not crash the writer", "[prompt_caching]") {
  // Guards against a crash (reading a string as an array) on a tool message with images whose
  // "content" is given twice, the second time as a string: any user could send it.
  const std::string body =
      R"({"model":"x","messages":[{"role":"tool","tool_call_id":"c","content":[)"
      R"({"type":"image_url","image_url":{"url":"https://x.example/a.png"}}],)"
      R"("content":"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"}]})";
  for (const char* provider : {"openai", "openrouter"}) {
    INFO(provider);
    auto built = builtin_adapter(provider).build_chat_request(parse_object(body), {}, "m");
    CHECK(built.has_value());
  }
}
