// What a call costs: the catalog's prices (cache reads and writes, long-context tiers, web
// searches), which catalog entry prices a model keygate sent upstream, and the usage Claude
// reports for them.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "builtin_adapters.hpp"
#include "providers/catalog.hpp"
#include "providers/pricing.hpp"

namespace {

using keygate::providers::call_cost_usd;
using keygate::providers::Catalog;
using keygate::providers::ModelInfo;
using keygate::providers::Provider;
using keygate::providers::Usage;
using keygate::testing::builtin_adapter;

const Catalog& builtin() {
  static const Catalog catalog = *Catalog::builtin();
  return catalog;
}

const Provider& provider(std::string_view id) {
  const Provider* p = builtin().find(id);
  REQUIRE(p != nullptr);
  return *p;
}

Usage usage(int64_t prompt, int64_t completion, int64_t cached = -1, int64_t written = -1,
            int64_t written_1h = -1, int64_t searches = -1) {
  Usage u;
  u.prompt_tokens = prompt;
  u.completion_tokens = completion;
  u.cached_tokens = cached;
  u.cache_write_tokens = written;
  u.cache_write_1h_tokens = written_1h;
  u.web_search_requests = searches;
  return u;
}

double cost(std::string_view provider_id, std::string_view model, const Usage& u) {
  const Provider& p = provider(provider_id);
  const ModelInfo* m = p.priced_model(model);
  REQUIRE(m != nullptr);
  auto usd = call_cost_usd(p, *m, u);
  REQUIRE(usd.has_value());
  return *usd;
}

// A one-provider catalog with a model of the given fields.
std::string with_model(const std::string& model_fields) {
  return R"({"providers": [{"id": "p", "kind": "openai", "base_url": "https://example.com/v1",)"
         R"( "models": [{"id": "m", )" +
         model_fields + "}]}]}";
}

}  // namespace

TEST_CASE("pricing: Claude's prompt is billed by where each token came from", "[pricing]") {
  // Guards against a Claude Code session (nearly all of its prompt read from the cache) being
  // reported at the full input price, about eight times what Claude bills.
  // Sonnet 4.5: input 3, cache read 0.30, 5-minute write 3.75, 1-hour write 6, output 15 ($/M).
  // 100,000 prompt tokens: 90,000 read, 6,000 written (2,000 of them for an hour), 4,000 fresh.
  const double usd =
      cost("anthropic", "claude-sonnet-4-5", usage(100'000, 1'000, 90'000, 6'000, 2'000, 3));
  const double expected =
      (4'000 * 3.0 + 90'000 * 0.30 + 4'000 * 3.75 + 2'000 * 6.0 + 1'000 * 15.0) / 1e6 + 3 * 0.01;
  CHECK(usd == Approx(expected));
  // The same prompt with no cache at all costs its full input price.
  CHECK(cost("anthropic", "claude-sonnet-4-5", usage(100'000, 1'000)) ==
        Approx((100'000 * 3.0 + 1'000 * 15.0) / 1e6));
}

TEST_CASE("pricing: a prompt past the long-context threshold is billed at the tier's rates",
          "[pricing]") {
  // Guards against 1M-context Sonnet calls and Gemini 2.5 Pro prompts over 200K being reported
  // at half their price.
  CHECK(cost("anthropic", "claude-sonnet-4-5", usage(200'000, 100)) ==
        Approx((200'000 * 3.0 + 100 * 15.0) / 1e6));
  CHECK(cost("anthropic", "claude-sonnet-4-5", usage(200'001, 100, 100'000)) ==
        Approx((100'001 * 6.0 + 100'000 * 0.6 + 100 * 22.5) / 1e6));
  CHECK(cost("google", "gemini-2.5-pro", usage(300'000, 1'000, 200'000)) ==
        Approx((100'000 * 2.5 + 200'000 * 0.25 + 1'000 * 15.0) / 1e6));
  CHECK(cost("google", "gemini-2.5-pro", usage(10'000, 1'000, 5'000)) ==
        Approx((5'000 * 1.25 + 5'000 * 0.125 + 1'000 * 10.0) / 1e6));
}

TEST_CASE("pricing: OpenAI's cached input, and models without cache prices", "[pricing]") {
  // gpt-4.1: input 2, cached 0.50, output 8.
  CHECK(cost("openai", "gpt-4.1", usage(10'000, 100, 8'000)) ==
        Approx((2'000 * 2.0 + 8'000 * 0.5 + 100 * 8.0) / 1e6));
  // Groq lists no cache price: a cached token costs what any input token does.
  CHECK(cost("groq", "llama-3.3-70b-versatile", usage(1'000, 100, 500)) ==
        Approx((1'000 * 0.59 + 100 * 0.79) / 1e6));
}

TEST_CASE("pricing: counts that do not add up never make a part negative", "[pricing]") {
  // A provider reporting more cached (or written) tokens than prompt tokens: each part is capped
  // by what is left of the prompt, so nothing is billed below zero or twice.
  CHECK(cost("anthropic", "claude-haiku-4-5", usage(100, 0, 500, 500, 900)) ==
        Approx(100 * 0.1 / 1e6));
  CHECK(cost("anthropic", "claude-haiku-4-5", usage(100, 0, 40, 500, 900)) ==
        Approx((40 * 0.1 + 60 * 2.0) / 1e6));
  CHECK(cost("anthropic", "claude-haiku-4-5", usage(100, 0, -1, -1, -1, -1)) ==
        Approx(100 * 1.0 / 1e6));
  const Provider& p = provider("anthropic");
  CHECK_FALSE(call_cost_usd(p, *p.priced_model("claude-haiku-4-5"), Usage{}).has_value());
}

TEST_CASE("pricing: a dated snapshot or an alias is priced as its model", "[pricing]") {
  // Guards against Claude Code's dated model names (claude-sonnet-4-5-20250929) getting no
  // price at all, and a snapshot of gpt-4o-mini being priced as gpt-4o.
  const Provider& anthropic = provider("anthropic");
  const Provider& openai = provider("openai");
  const Provider& google = provider("google");
  auto id_of = [](const ModelInfo* m) { return m ? m->id : std::string("(none)"); };
  CHECK(id_of(anthropic.priced_model("claude-sonnet-4-5-20250929")) == "claude-sonnet-4-5");
  CHECK(id_of(anthropic.priced_model("claude-sonnet-4-20250514")) == "claude-sonnet-4-0");
  CHECK(id_of(anthropic.priced_model("claude-opus-4-20250514")) == "claude-opus-4-0");
  CHECK(id_of(anthropic.priced_model("claude-opus-4-1-20250805")) == "claude-opus-4-1");
  CHECK(id_of(anthropic.priced_model("claude-3-5-haiku-20241022")) == "claude-3-5-haiku-latest");
  CHECK(id_of(anthropic.priced_model("claude-sonnet-4")) == "claude-sonnet-4-0");
  CHECK(id_of(openai.priced_model("gpt-4o-mini-2024-07-18")) == "gpt-4o-mini");
  CHECK(id_of(openai.priced_model("gpt-4o-2024-08-06")) == "gpt-4o");
  // A snapshot priced apart from its model has an entry of its own, found first.
  CHECK(id_of(openai.priced_model("gpt-4o-2024-05-13")) == "gpt-4o-2024-05-13");
  CHECK(cost("openai", "gpt-4o-2024-05-13", usage(1'000, 100, 500)) ==
        Approx((1'000 * 5.0 + 100 * 15.0) / 1e6));
  CHECK(id_of(google.priced_model("gemini-2.0-flash-001")) == "gemini-2.0-flash");
  // Nothing else is guessed: a name that is not the model's, or a suffix that is not a date.
  CHECK(anthropic.priced_model("claude-sonnet-4-5-preview") == nullptr);
  CHECK(anthropic.priced_model("claude-sonnet-4-50") == nullptr);
  CHECK(openai.priced_model("gpt-4o-mini-2024-07") == nullptr);
  CHECK(openai.priced_model("gpt-9") == nullptr);
  CHECK(openai.priced_model("-20250101") == nullptr);
  // Routing still takes only the ids: an alias is for prices.
  CHECK(anthropic.find_model("claude-sonnet-4") == nullptr);
}

TEST_CASE("pricing: the built-in prices are consistent", "[pricing]") {
  for (const Provider& p : builtin().providers()) {
    for (const ModelInfo& m : p.models) {
      INFO(p.id << " " << m.id);
      if (m.prices.cached_input) {
        CHECK(*m.prices.cached_input < m.prices.input);
      }
      if (m.prices.cache_write) {
        CHECK(*m.prices.cache_write >= m.prices.input);
        CHECK(m.prices.cache_write_1h.value_or(*m.prices.cache_write) >= *m.prices.cache_write);
      }
      if (m.long_context) {
        CHECK(m.long_context->prices.input > m.prices.input);
        CHECK(m.long_context->prices.output >= m.prices.output);
      }
    }
  }
  CHECK(provider("anthropic").web_search_usd_per_request == Approx(0.01));
  CHECK(provider("openai").web_search_usd_per_request == 0);
}

TEST_CASE("pricing: the catalog's price fields are checked", "[pricing]") {
  auto ok = Catalog::from_json(with_model(
      R"("input_usd_per_mtok": 1, "output_usd_per_mtok": 2, "cached_input_usd_per_mtok": 0.1,)"
      R"( "aliases": ["m-alias"], "long_context": {"above_input_tokens": 1000,)"
      R"( "input_usd_per_mtok": 2, "output_usd_per_mtok": 4})"));
  REQUIRE(ok.has_value());
  const Provider& p = ok->providers().front();
  const ModelInfo* m = p.priced_model("m-alias");
  REQUIRE(m != nullptr);
  CHECK(m->id == "m");
  REQUIRE(m->long_context.has_value());
  CHECK(m->long_context->above_input_tokens == 1000);
  CHECK_FALSE(m->long_context->prices.cached_input.has_value());

  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"("cached_input_usd_per_mtok": -1)", "non-negative"},
      {R"("cache_write_usd_per_mtok": "1")", "non-negative"},
      {R"("long_context": {"input_usd_per_mtok": 1, "output_usd_per_mtok": 1})",
       "above_input_tokens"},
      {R"("long_context": {"above_input_tokens": 10, "output_usd_per_mtok": 1})",
       "input_usd_per_mtok"},
      {R"("long_context": {"above_input_tokens": 0, "input_usd_per_mtok": 1,)"
       R"( "output_usd_per_mtok": 1})",
       "positive"},
      {R"("long_context": {"above_input_tokens": 10, "input_usd_per_mtok": 1,)"
       R"( "output_usd_per_mtok": 1, "input_price": 2})",
       "input_price"},
      {R"("long_context": 5)", "must be an object"},
      {R"("aliases": ["m"])", "listed twice"},
      {R"("aliases": [""])", "non-empty"},
  };
  for (const auto& [fields, message] : bad) {
    INFO(fields);
    auto r = Catalog::from_json(with_model(fields));
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message, Catch::Contains(message));
  }
}

TEST_CASE("pricing: Claude's 1-hour cache writes and web searches are read from its usage",
          "[pricing]") {
  // Guards against a search-heavy or 1-hour-cached conversation being priced as if neither
  // happened. https://docs.anthropic.com/en/api/messages (usage.cache_creation, server_tool_use)
  const std::string answer =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
      R"("content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,)"
      R"("usage":{"input_tokens":100,"cache_creation_input_tokens":300,)"
      R"("cache_read_input_tokens":600,"output_tokens":20,)"
      R"("cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},)"
      R"("server_tool_use":{"web_search_requests":2}}})";
  Usage u;
  REQUIRE(builtin_adapter("anthropic").translate_response(answer, "claude-sonnet-4-5", u));
  CHECK(u.prompt_tokens == 1000);
  CHECK(u.cached_tokens == 600);
  CHECK(u.cache_write_tokens == 300);
  CHECK(u.cache_write_1h_tokens == 200);
  CHECK(u.web_search_requests == 2);

  // A stream: the searches arrive in message_delta's cumulative usage, the split in
  // message_start's.
  keygate::providers::ChatOptions options;
  options.stream = true;
  auto stream = builtin_adapter("anthropic").start_stream(options, "claude-sonnet-4-5");
  std::vector<std::string> out;
  for (const std::string& data :
       {std::string(R"({"type":"message_start","message":{"id":"msg_1","type":"message",)"
                    R"("role":"assistant","model":"claude-sonnet-4-5","content":[],)"
                    R"("usage":{"input_tokens":100,"cache_creation_input_tokens":300,)"
                    R"("cache_read_input_tokens":600,"output_tokens":1,"cache_creation":)"
                    R"({"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200}}}})"),
        std::string(R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},)"
                    R"("usage":{"output_tokens":20,"server_tool_use":{"web_search_requests":3}}})"),
        std::string(R"({"type":"message_stop"})")}) {
    auto type = keygate::testing::parse_object(data)["type"].GetString();
    REQUIRE(stream->on_event(keygate::providers::SseEvent{type, data}, out));
  }
  CHECK(stream->usage().cache_write_1h_tokens == 200);
  CHECK(stream->usage().web_search_requests == 3);
  CHECK(stream->usage().completion_tokens == 20);

  // Malformed counts are the upstream's error, as for the token counts.
  Usage bad;
  auto refused =
      builtin_adapter("anthropic")
          .translate_response(
              R"({"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],)"
              R"("stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1,)"
              R"("server_tool_use":{"web_search_requests":"two"}}})",
              "m", bad);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().status == 502);
}
