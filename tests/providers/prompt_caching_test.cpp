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
    CHECK(sent(provider, kMarked, "m").find("cache_control") == std::string::npos);
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
