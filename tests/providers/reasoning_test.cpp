// Reasoning asks (reasoning_effort, thinking) as every adapter reads them, and the bad input each
// adapter must refuse with a 400 naming the field. The translations themselves are golden
// fixtures: tests/fixtures/providers/{anthropic,gemini,openai}/*thinking*, *reasoning_effort*.

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "builtin_adapters.hpp"
#include "providers/catalog.hpp"
#include "providers/reasoning.hpp"
#include "schema/json.hpp"

namespace {

using keygate::testing::builtin_adapter;
using keygate::testing::parse_object;

using keygate::providers::effort_for;
using keygate::providers::read_reasoning;
using keygate::providers::ReasoningAsk;
using Mode = keygate::providers::ReasoningAsk::Mode;

ReasoningAsk ask(std::string_view json) {
  auto r = read_reasoning(parse_object(json));
  REQUIRE(r.has_value());
  return *r;
}

// The body an adapter sends upstream, parsed.
rapidjson::Document upstream(std::string_view provider, std::string_view json,
                             std::string_view model) {
  auto r = builtin_adapter(provider).build_chat_request(parse_object(json), {}, model);
  REQUIRE(r.has_value());
  return parse_object(r->body);
}

}  // namespace

TEST_CASE("reasoning: efforts become Google's budgets, thinking is read as given", "[reasoning]") {
  // Guards against an effort level mapped to the wrong budget (or none), and against `thinking`
  // losing to reasoning_effort when a request has both.
  CHECK(ask(R"({})").mode == Mode::unspecified);
  CHECK(ask(R"({"reasoning_effort":"none"})").mode == Mode::off);
  CHECK(ask(R"({"reasoning_effort":"minimal"})").budget_tokens == 1024);
  CHECK(ask(R"({"reasoning_effort":"low"})").budget_tokens == 1024);
  CHECK(ask(R"({"reasoning_effort":"medium"})").budget_tokens == 8192);
  CHECK(ask(R"({"reasoning_effort":"high"})").budget_tokens == 24576);
  CHECK(ask(R"({"reasoning_effort":"xhigh"})").budget_tokens == 32768);
  CHECK_FALSE(ask(R"({"reasoning_effort":"high"})").show_thoughts);
  const auto both = ask(R"({"reasoning_effort":"high","thinking":{"type":"enabled",)"
                        R"("budget_tokens":2000}})");
  CHECK(both.mode == Mode::budget);
  CHECK(both.budget_tokens == 2000);
  CHECK(both.show_thoughts);
  CHECK(ask(R"({"thinking":{"type":"disabled"}})").mode == Mode::off);
  CHECK(ask(R"({"thinking":{"type":"adaptive"}})").mode == Mode::adaptive);
  CHECK(ask(R"({"thinking":null})").mode == Mode::unspecified);
}

TEST_CASE("reasoning: a budget becomes the nearest effort level", "[reasoning]") {
  // Guards against the OpenAI family asked for more (or less) reasoning than the client's budget.
  auto budget = [](int64_t n) {
    ReasoningAsk a;
    a.mode = Mode::budget;
    a.budget_tokens = n;
    return effort_for(a);
  };
  CHECK(budget(1024) == "low");
  CHECK(budget(4095) == "low");
  CHECK(budget(4096) == "medium");
  CHECK(budget(16383) == "medium");
  CHECK(budget(16384) == "high");
  CHECK(effort_for(ask(R"({"thinking":{"type":"adaptive"}})")).empty());
  CHECK(effort_for(ask(R"({"thinking":{"type":"disabled"}})")).empty());
}

TEST_CASE("reasoning: malformed asks are a 400 naming the field, on every adapter", "[reasoning]") {
  // Guards against a malformed ask reaching a provider (or being silently ignored) instead of
  // the client learning which field is wrong.
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  struct Case {
    std::string body;
    std::string param;
  };
  const Case cases[] = {
      {"{" + msgs + R"(,"reasoning_effort":"extreme"})", "reasoning_effort"},
      {"{" + msgs + R"(,"reasoning_effort":3})", "reasoning_effort"},
      {"{" + msgs + R"(,"thinking":"on"})", "thinking"},
      {"{" + msgs + R"(,"thinking":{"type":"sometimes"}})", "thinking.type"},
      {"{" + msgs + R"(,"thinking":{"type":"enabled"}})", "thinking.budget_tokens"},
      {"{" + msgs + R"(,"thinking":{"type":"enabled","budget_tokens":"lots"}})",
       "thinking.budget_tokens"},
  };
  for (const char* provider : {"anthropic", "google", "openai"}) {
    for (const auto& c : cases) {
      INFO(provider << " " << c.body);
      auto r = builtin_adapter(provider).build_chat_request(parse_object(c.body), {}, "m");
      if (std::string_view(provider) == "openai" &&
          c.body.find("reasoning_effort") != std::string::npos) {
        // OpenAI's own field goes to OpenAI as it came: OpenAI judges it.
        CHECK(r.has_value());
        continue;
      }
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().status == 400);
      CHECK(r.error().param == c.param);
    }
  }
}

TEST_CASE("reasoning: Claude's thinking blocks sent back must be well formed", "[reasoning]") {
  // Guards against a malformed thinking_blocks entry reaching Anthropic (or crashing the
  // transform) instead of a 400 naming the entry.
  for (const char* blocks : {
           R"("nope")",
           R"([{"type":"thought","thinking":"x","signature":"s"}])",
           R"([{"type":"thinking","thinking":7,"signature":"s"}])",
           R"([{"type":"thinking","thinking":"x","signature":7}])",
           R"([{"type":"redacted_thinking"}])",
       }) {
    INFO(blocks);
    const std::string body = std::string(R"({"messages":[{"role":"user","content":"hi"},)") +
                             R"({"role":"assistant","content":"a","thinking_blocks":)" + blocks +
                             "}]}";
    auto r = builtin_adapter("anthropic")
                 .build_chat_request(parse_object(body), {}, "claude-sonnet-4-5");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
    CHECK(r.error().param.rfind("messages[1].thinking_blocks", 0) == 0);
  }
}

TEST_CASE("reasoning: Claude's budget leaves room for the answer, or thinking stays off",
          "[reasoning]") {
  // Guards against Anthropic's 400 "budget_tokens must be less than max_tokens", a budget that
  // leaves no room for the answer, and a budget under the minimum of 1,024.
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  const std::string_view model = "claude-sonnet-4-5";  // max_tokens from the catalog: 64,000
  auto high = upstream("anthropic", "{" + msgs + R"(,"reasoning_effort":"high"})", model);
  CHECK(keygate::to_json(high["thinking"]) == R"({"type":"enabled","budget_tokens":24576})");
  CHECK(high["max_tokens"].GetInt64() == 64000);
  auto halved = upstream("anthropic",
                         "{" + msgs + R"(,"reasoning_effort":"medium","max_tokens":3000})", model);
  CHECK(halved["thinking"]["budget_tokens"].GetInt64() == 1500);
  CHECK(halved["max_tokens"].GetInt64() == 3000);
  auto no_room =
      upstream("anthropic", "{" + msgs + R"(,"reasoning_effort":"low","max_tokens":2000})", model);
  CHECK_FALSE(no_room.HasMember("thinking"));
  auto none = upstream("anthropic", "{" + msgs + R"(,"reasoning_effort":"none"})", model);
  CHECK_FALSE(none.HasMember("thinking"));
  // A model the catalog does not know gets 4,096 max_tokens: raised to hold the budget.
  auto grown =
      upstream("anthropic", "{" + msgs + R"(,"thinking":{"type":"enabled","budget_tokens":10000}})",
               "claude-sonnet-4-5-20250929");
  CHECK(grown["max_tokens"].GetInt64() == 10000 + 4096);
  // The client's own object goes as it came, fields keygate does not know included.
  auto own = upstream("anthropic",
                      "{" + msgs + R"(,"thinking":{"type":"adaptive","display":"summarized"}})",
                      "claude-x");
  CHECK(keygate::to_json(own["thinking"]) == R"({"type":"adaptive","display":"summarized"})");
}

TEST_CASE("reasoning: an effort does not turn thinking on where Claude would refuse it",
          "[reasoning]") {
  // Guards against a request that worked before reasoning_effort was mapped now failing: Claude
  // refuses thinking with a forced tool, a temperature or top_k, or top_p under 0.95, and on
  // models that cannot think.
  const std::string base = R"("messages":[{"role":"user","content":"hi"}],)"
                           R"("tools":[{"type":"function","function":{"name":"f"}}],)"
                           R"("reasoning_effort":"high")";
  for (const char* extra : {R"(,"tool_choice":"required")",
                            R"(,"tool_choice":{"type":"function","function":{"name":"f"}})",
                            R"(,"temperature":0.2)", R"(,"top_k":5)", R"(,"top_p":0.5)"}) {
    INFO(extra);
    auto body = upstream("anthropic", "{" + base + extra + "}", "claude-sonnet-4-5");
    CHECK_FALSE(body.HasMember("thinking"));
  }
  auto allowed = upstream("anthropic", "{" + base + R"(,"tool_choice":"auto","top_p":0.95})",
                          "claude-sonnet-4-5");
  CHECK(allowed.HasMember("thinking"));
  auto old_model = upstream("anthropic", "{" + base + "}", "claude-3-5-haiku-latest");
  CHECK_FALSE(old_model.HasMember("thinking"));
}

TEST_CASE("reasoning: Gemini gets thinkingConfig only on models that think, within limits",
          "[reasoning]") {
  // Guards against thinkingConfig sent to a model that refuses it, and a budget over the limit.
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  auto xhigh =
      upstream("google", "{" + msgs + R"(,"reasoning_effort":"xhigh"})", "gemini-2.5-flash");
  CHECK(xhigh["generationConfig"]["thinkingConfig"]["thinkingBudget"].GetInt64() == 24576);
  auto adaptive = upstream("google", "{" + msgs + R"(,"thinking":{"type":"adaptive"}})",
                           "gemini-3-pro-preview");
  CHECK(keygate::to_json(adaptive["generationConfig"]["thinkingConfig"]) ==
        R"({"thinkingBudget":-1,"includeThoughts":true})");
  auto plain =
      upstream("google", "{" + msgs + R"(,"reasoning_effort":"high"})", "gemini-2.0-flash");
  CHECK_FALSE(plain.HasMember("generationConfig"));
}

TEST_CASE("reasoning: providers that know thinking themselves get it as it came", "[reasoning]") {
  // Guards against DeepSeek's own {"thinking":{"type":"enabled"}} (no budget) refused or lost.
  auto body = upstream(
      "deepseek", R"({"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled"}})",
      "deepseek-chat");
  CHECK(keygate::to_json(body["thinking"]) == R"({"type":"enabled"})");
  CHECK_FALSE(body.HasMember("reasoning_effort"));
}

TEST_CASE("reasoning: thinking blocks keep leading a turn merged from two messages",
          "[reasoning]") {
  // Guards against Claude's 400 when two assistant messages merge into one turn and the second
  // one's thinking block lands after the first one's text.
  auto body = upstream(
      "anthropic",
      R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"one"},)"
      R"({"role":"assistant","content":"two","thinking_blocks":)"
      R"([{"type":"thinking","thinking":"t","signature":"s"}]}]})",
      "claude-sonnet-4-5");
  const auto& content = body["messages"][1]["content"];
  REQUIRE(content.Size() == 3);
  CHECK(keygate::as_view(content[0]["type"]) == "thinking");
  CHECK(keygate::as_view(content[1]["text"]) == "one");
  CHECK(keygate::as_view(content[2]["text"]) == "two");
}

TEST_CASE("reasoning: top_k must be a whole number where it is carried", "[reasoning]") {
  // Guards against a top_k of the wrong type reaching Claude or Gemini.
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  for (const char* provider : {"anthropic", "google"}) {
    for (const char* value : {R"("5")", "2.5"}) {
      INFO(provider << " " << value);
      auto r = builtin_adapter(provider).build_chat_request(
          parse_object("{" + msgs + R"(,"top_k":)" + value + "}"), {}, "m");
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().status == 400);
      CHECK(r.error().param == "top_k");
    }
  }
  auto negative =
      builtin_adapter("anthropic")
          .build_chat_request(parse_object("{" + msgs + R"(,"top_k":-1})"), {}, "claude-x");
  REQUIRE_FALSE(negative.has_value());
  CHECK(negative.error().param == "top_k");
}
