#include "providers/catalog.hpp"

#include <boost/url/parse.hpp>
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "schema/json.hpp"

using keygate::providers::Catalog;
using keygate::providers::Kind;
using keygate::providers::ModelInfo;
using keygate::providers::ModelKind;
using keygate::providers::Provider;

namespace {

Catalog builtin() {
  auto c = Catalog::builtin();
  if (!c) {
    FAIL(c.error().message);
  }
  return std::move(*c);
}

rapidjson::Document config(std::string_view json) {
  auto doc = keygate::parse_json_object(json, /*relaxed=*/true);
  REQUIRE(doc.has_value());
  return std::move(*doc);
}

bool valid_http_url(const std::string& text) {
  auto u = boost::urls::parse_uri(text);
  return u && (u->scheme() == "http" || u->scheme() == "https") && !u->encoded_host().empty();
}

// A minimal valid catalog for from_json error tests; `extra` goes into the one provider.
std::string one_provider(std::string_view extra) {
  return R"({"providers": [{"id": "p", "kind": "openai", "base_url": "https://x.example/v1")" +
         std::string(extra) + "}]}";
}

}  // namespace

TEST_CASE("catalog: the embedded data file loads and is well-formed", "[catalog]") {
  Catalog c = builtin();
  std::set<std::string> ids;
  for (const Provider& p : c.providers()) {
    INFO("provider " << p.id);
    CHECK(ids.insert(p.id).second);
    CHECK_FALSE(p.display_name.empty());
    CHECK(valid_http_url(p.base_url));
    CHECK(p.base_url.back() != '/');
    CHECK(p.adapter != nullptr);
    CHECK_FALSE(p.auth.header.empty());
    CHECK_FALSE(p.key_hint.empty());
    CHECK(valid_http_url(p.docs_url));
    if (p.requires_key) {
      CHECK_FALSE(p.env_var.empty());
      CHECK(valid_http_url(p.key_url));
    }
    std::set<std::string> models;
    for (const auto& m : p.models) {
      INFO("model " << m.id);
      CHECK(models.insert(m.id).second);
      CHECK(m.prices.input >= 0);
      CHECK(m.prices.output >= 0);
      // Plausible list prices: nothing costs more than $200 per million tokens.
      CHECK(m.prices.input < 200);
      CHECK(m.prices.output < 200);
      CHECK(m.context_window > 0);
      if (m.kind == ModelKind::chat) {
        CHECK(m.max_output_tokens > 0);
        CHECK(m.max_output_tokens <= m.context_window);
      } else {
        CHECK(m.max_output_tokens == 0);  // a vector, no tokens out
        CHECK(m.prices.output == 0);
      }
    }
  }
}

TEST_CASE("catalog: every built-in provider is there", "[catalog]") {
  Catalog c = builtin();
  for (const char* id :
       {"openai", "anthropic", "google", "openrouter", "groq", "together", "mistral", "xai",
        "deepseek", "fireworks", "cohere", "perplexity", "ollama"}) {
    INFO(id);
    CHECK(c.find(id) != nullptr);
  }
  const Provider* openai = c.find("openai");
  REQUIRE(openai);
  CHECK(openai->kind == Kind::openai);
  CHECK(openai->base_url == "https://api.openai.com/v1");
  CHECK(openai->auth.header == "Authorization");
  CHECK(openai->auth.prefix == "Bearer ");
  CHECK(openai->env_var == "OPENAI_API_KEY");

  const Provider* anthropic = c.find("anthropic");
  REQUIRE(anthropic);
  CHECK(anthropic->kind == Kind::anthropic);
  CHECK(anthropic->base_url == "https://api.anthropic.com");
  CHECK(anthropic->auth.header == "x-api-key");
  CHECK(anthropic->auth.prefix.empty());
  CHECK(anthropic->env_var == "ANTHROPIC_API_KEY");
  CHECK(anthropic->key_prefixes == std::vector<std::string>{"sk-ant-"});

  const Provider* google = c.find("google");
  REQUIRE(google);
  CHECK(google->kind == Kind::gemini);
  CHECK(google->base_url == "https://generativelanguage.googleapis.com");
  CHECK(google->auth.header == "x-goog-api-key");
  CHECK(google->env_var == "GEMINI_API_KEY");
  CHECK(google->key_prefixes == std::vector<std::string>{"AIza"});

  CHECK(c.find("cohere")->base_url == "https://api.cohere.ai/compatibility/v1");
  CHECK(c.find("ollama")->base_url == "http://127.0.0.1:11434/v1");
  CHECK_FALSE(c.find("ollama")->requires_key);
  CHECK(c.find("groq")->key_prefixes == std::vector<std::string>{"gsk_"});
  CHECK(c.find("openrouter")->key_prefixes == std::vector<std::string>{"sk-or-"});
  CHECK(c.find("xai")->key_prefixes == std::vector<std::string>{"xai-"});
  CHECK(c.find("nope") == nullptr);
}

TEST_CASE("catalog: kind names", "[catalog]") {
  using keygate::providers::kind_from_string;
  using keygate::providers::to_string;
  for (Kind k : {Kind::openai, Kind::anthropic, Kind::gemini}) {
    CHECK(kind_from_string(to_string(k)) == k);
  }
  CHECK(to_string(Kind::gemini) == "gemini");
  CHECK_FALSE(kind_from_string("google").has_value());
}

TEST_CASE("catalog: bare model names route to a provider", "[catalog]") {
  Catalog c = builtin();
  auto route = [&](std::string_view model) -> std::string {
    const Provider* p = c.provider_for_model(model);
    return p ? p->id : "(none)";
  };
  CHECK(route("gpt-4o-mini") == "openai");
  CHECK(route("gpt-4o-2024-08-06") == "openai");  // not listed: by prefix
  CHECK(route("o3-mini") == "openai");
  CHECK(route("o4-mini-2025-04-16") == "openai");
  CHECK(route("chatgpt-4o-latest") == "openai");
  CHECK(route("claude-sonnet-4-5") == "anthropic");
  CHECK(route("claude-3-opus-20240229") == "anthropic");
  CHECK(route("gemini-2.5-flash") == "google");
  CHECK(route("gemini-1.5-pro") == "google");
  CHECK(route("llama-3.3-70b-versatile") == "groq");  // exact model list entry, no prefix
  CHECK(route("grok-4") == "xai");
  // Exact ids win over prefixes: this one starts with deepseek- but is Together's.
  CHECK(route("deepseek-ai/DeepSeek-V3") == "together");
  CHECK(route("deepseek-chat") == "deepseek");
  CHECK(route("totally-unknown") == "(none)");
  CHECK(route("") == "(none)");
}

TEST_CASE("catalog: longest prefix wins", "[catalog]") {
  auto c = Catalog::from_json(R"({"providers": [
    {"id": "short", "kind": "openai", "base_url": "https://a.example/v1",
     "model_prefixes": ["gpt-"]},
    {"id": "long", "kind": "openai", "base_url": "https://b.example/v1",
     "model_prefixes": ["gpt-oss"]}]})");
  REQUIRE(c.has_value());
  CHECK(c->provider_for_model("gpt-oss-20b")->id == "long");
  CHECK(c->provider_for_model("gpt-4o")->id == "short");
}

TEST_CASE("catalog: config overrides a built-in base URL", "[catalog]") {
  Catalog c = builtin();
  auto cfg = config(R"({
    "openai": {"base_url": "http://127.0.0.1:9999/v1/"},  // tests point at mock upstreams
    "anthropic": {"base_url": "http://127.0.0.1:9998", "kind": "anthropic"},
    "ollama": {"requires_key": true},
  })");
  auto r = c.apply_config(cfg);
  REQUIRE(r.has_value());
  CHECK(c.find("openai")->base_url == "http://127.0.0.1:9999/v1");  // trailing slash dropped
  CHECK(c.find("openai")->kind == Kind::openai);
  CHECK(c.find("openai")->adapter != nullptr);
  CHECK(c.find("anthropic")->base_url == "http://127.0.0.1:9998");
  CHECK(c.find("ollama")->requires_key);
  // What was not named stays as it was.
  CHECK(c.find("groq")->base_url == "https://api.groq.com/openai/v1");
}

TEST_CASE("catalog: config reprices a built-in model and adds one the build does not know",
          "[catalog]") {
  // Guards against an operator with negotiated rates, or a model released after this build,
  // having no way to get costs right but to rebuild keygate.
  Catalog c = builtin();
  const std::size_t models_before = c.find("anthropic")->models.size();
  auto cfg = config(R"({
    "anthropic": {"web_search_usd_per_request": 0.008, "models": [
      {"id": "claude-sonnet-4-5", "context_window": 1000000, "max_output_tokens": 64000,
       "input_usd_per_mtok": 2.4, "output_usd_per_mtok": 12, "cached_input_usd_per_mtok": 0.24},
      {"id": "claude-sonnet-4-0", "cached_input_usd_per_mtok": 0.2},
      {"id": "claude-next-1", "aliases": ["claude-next"], "context_window": 200000,
       "max_output_tokens": 64000, "input_usd_per_mtok": 4, "output_usd_per_mtok": 20}]}
  })");
  REQUIRE(c.apply_config(cfg).has_value());
  const Provider* anthropic = c.find("anthropic");
  CHECK(anthropic->models.size() == models_before + 1);
  CHECK(anthropic->web_search_usd_per_request == Approx(0.008));
  const ModelInfo* sonnet = anthropic->priced_model("claude-sonnet-4-5-20250929");
  REQUIRE(sonnet);
  CHECK(sonnet->prices.input == Approx(2.4));
  CHECK(sonnet->prices.cached_input.value_or(0) == Approx(0.24));
  CHECK(sonnet->context_window == 1000000);
  // What an entry does not say stays as built in: the long-context tier here; below, a model
  // repriced by one field keeps its prices, limits and the aliases its snapshots are found by.
  CHECK(sonnet->long_context.has_value());
  const ModelInfo* sonnet4 = anthropic->priced_model("claude-sonnet-4-20250514");
  REQUIRE(sonnet4);
  CHECK(sonnet4->id == "claude-sonnet-4-0");
  CHECK(sonnet4->prices.cached_input.value_or(0) == Approx(0.2));
  CHECK(sonnet4->prices.input == Approx(3.0));
  CHECK(sonnet4->prices.output == Approx(15.0));
  CHECK(sonnet4->prices.cache_write.value_or(0) == Approx(3.75));
  CHECK(sonnet4->max_output_tokens == 64000);
  CHECK(sonnet4->context_window == 200000);
  const ModelInfo* next = anthropic->priced_model("claude-next-20261101");
  REQUIRE(next);
  CHECK(next->id == "claude-next-1");
  CHECK(anthropic->find_model("claude-next-1") != nullptr);
  // The other models keep their built-in prices.
  CHECK(anthropic->priced_model("claude-haiku-4-5")->prices.input == Approx(1.0));

  for (const char* bad : {
           R"({"anthropic": {"models": [{"id": "m", "input_usd_per_mtok": -2}]}})",
           R"({"anthropic": {"models": [{"id": "m"}, {"id": "m"}]}})",
           R"({"anthropic": {"models": [{"id": "m", "aliases": ["claude-haiku-4-5"]}]}})",
           R"({"anthropic": {"models": {"id": "m"}}})",
           R"({"anthropic": {"web_search_usd_per_request": "free"}})",
       }) {
    INFO(bad);
    Catalog fresh = builtin();
    auto doc = keygate::parse_json_object(std::string("{\"p\":") + bad + "}");
    REQUIRE(doc.has_value());
    auto r = fresh.apply_config((*doc)["p"]);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
    CHECK(fresh.find("anthropic")->models.size() == models_before);
  }
}

TEST_CASE("catalog: a null providers section changes nothing", "[catalog]") {
  Catalog c = builtin();
  rapidjson::Value null_value;
  REQUIRE(c.apply_config(null_value).has_value());
  CHECK(c.find("openai")->base_url == "https://api.openai.com/v1");
}

TEST_CASE("catalog: config adds a provider", "[catalog]") {
  Catalog c = builtin();
  std::size_t before = c.providers().size();
  auto cfg = config(R"({
    "local-vllm": {"kind": "openai", "base_url": "http://127.0.0.1:8000/v1", "requires_key": false},
    "corp-claude": {"kind": "anthropic", "base_url": "https://claude.corp.example",
                    "display_name": "Corp Claude", "model_prefixes": ["corp-"],
                    "models": [{"id": "corp-model", "context_window": 1000,
                                "max_output_tokens": 100}]}
  })");
  REQUIRE(c.apply_config(cfg).has_value());
  REQUIRE(c.providers().size() == before + 2);
  const Provider* vllm = c.find("local-vllm");
  REQUIRE(vllm);
  CHECK(vllm->kind == Kind::openai);
  CHECK(vllm->base_url == "http://127.0.0.1:8000/v1");
  CHECK_FALSE(vllm->requires_key);
  CHECK(vllm->display_name == "local-vllm");
  CHECK(vllm->auth.header == "Authorization");
  CHECK(vllm->adapter != nullptr);
  const Provider* corp = c.find("corp-claude");
  REQUIRE(corp);
  CHECK(corp->kind == Kind::anthropic);
  CHECK(corp->display_name == "Corp Claude");
  CHECK(corp->requires_key);
  CHECK(c.provider_for_model("corp-model")->id == "corp-claude");
  CHECK(c.provider_for_model("corp-other")->id == "corp-claude");
}

TEST_CASE("catalog: bad config is a 400 naming the problem and changes nothing", "[catalog]") {
  struct Case {
    const char* json;
    const char* says;
  };
  const Case cases[] = {
      {R"({"x": {"kind": "cobol", "base_url": "https://x.example"}})", "unknown kind 'cobol'"},
      {R"({"x": {"base_url": "https://x.example"}})", "give its \"kind\""},
      {R"({"x": {"kind": "openai"}})", "'base_url' is required"},
      {R"({"x": {"kind": "openai", "base_url": "not a url"}})", "not a valid URL"},
      {R"({"x": {"kind": "openai", "base_url": "ftp://x.example"}})", "must be http or https"},
      {R"({"x": {"kind": "openai", "base_url": "https://x.example/v1?a=b"}})", "query"},
      {R"({"x": {"kind": "openai", "base_url": "https://u:p@x.example/v1"}})", "credentials"},
      {R"({"openai": {"base_url": "::"}})", "base_url"},
      {R"({"openai": {"base_url": 42}})", "must be a string"},
      {R"({"openai": {"kind": "gemini"}})", "kind cannot change"},
      {R"({"openai": {"base_ur": "https://x.example"}})", "unknown field 'base_ur'"},
      {R"({"openai": {"requires_key": "no"}})", "true or false"},
      {R"({"Bad/Name": {"kind": "openai", "base_url": "https://x.example"}})", "lowercase"},
      {R"({"openai": "https://x.example"})", "must be an object"},
      {R"([])", "must be an object"},
  };
  for (const auto& tc : cases) {
    INFO(tc.json);
    Catalog c = builtin();
    auto doc = keygate::parse_json_object(std::string("{\"p\":") + tc.json + "}");
    REQUIRE(doc.has_value());
    auto r = c.apply_config((*doc)["p"]);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
    CHECK_THAT(r.error().message, Catch::Contains(tc.says));
    CHECK(c.find("x") == nullptr);
    CHECK(c.find("openai")->base_url == "https://api.openai.com/v1");
  }
}

TEST_CASE("catalog: a failing entry leaves earlier entries unapplied", "[catalog]") {
  Catalog c = builtin();
  auto cfg = config(R"({"openai": {"base_url": "http://127.0.0.1:1/v1"},
                        "y": {"kind": "nope", "base_url": "https://y.example"}})");
  REQUIRE_FALSE(c.apply_config(cfg).has_value());
  CHECK(c.find("openai")->base_url == "https://api.openai.com/v1");
}

TEST_CASE("catalog: from_json validates the data", "[catalog]") {
  CHECK(Catalog::from_json(one_provider("")).has_value());
  struct Case {
    std::string json;
    const char* says;
  };
  const Case cases[] = {
      {"not json", "Invalid JSON"},
      {R"({"providers": {}})", "'providers' must be an array"},
      {one_provider(R"(, "models": [{"id": "m", "input_usd_per_mtok": -1}])"), "non-negative"},
      {one_provider(R"(, "models": [{"id": "m", "output_usd_per_mtok": "1"}])"), "non-negative"},
      {one_provider(R"(, "models": [{"id": "m", "context_window": 1.5}])"), "non-negative integer"},
      {one_provider(R"(, "models": [{"id": "m"}, {"id": "m"}])"), "listed twice"},
      {one_provider(R"(, "models": [{"name": "m"}])"), "unknown field 'name'"},
      {one_provider(R"(, "models": [{"id": "m", "kind": "image"}])"), "\"chat\" or \"embedding\""},
      {one_provider(R"(, "models": [{"id": "m", "kind": 1}])"), "\"chat\" or \"embedding\""},
      {one_provider(R"(, "docs_url": "nope")"), "not a valid http(s) link"},
      {one_provider(R"(, "param_renames": {"seed": 1})"), "param_renames"},
      {one_provider(R"(, "auth": {"header": ""})"), "auth.header"},
      {one_provider(R"(, "key_prefixes": "sk-")"), "array of strings"},
      {one_provider(R"(, "reasoning_model_prefixes": "o")"), "array of strings"},
      {R"({"providers": [{"id": "p", "kind": "openai", "base_url": "https://a.example"},
                         {"id": "p", "kind": "openai", "base_url": "https://b.example"}]})",
       "used twice"},
      {R"({"providers": [{"id": "p", "kind": "klingon", "base_url": "https://a.example"}]})",
       "unknown kind"},
      {R"({"providers": [{"kind": "openai", "base_url": "https://a.example"}]})", "'id'"},
  };
  for (const auto& tc : cases) {
    INFO(tc.json);
    auto r = Catalog::from_json(tc.json);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message, Catch::Contains(tc.says));
  }
}

TEST_CASE("catalog: provider data for the OpenAI-compatible family", "[catalog]") {
  Catalog c = builtin();
  const Provider* mistral = c.find("mistral");
  REQUIRE(mistral);
  CHECK(mistral->param_renames ==
        std::vector<std::pair<std::string, std::string>>{{"max_completion_tokens", "max_tokens"},
                                                         {"seed", "random_seed"}});
  const Provider* groq = c.find("groq");
  REQUIRE(groq);
  CHECK(groq->dropped_params == std::vector<std::string>{"logprobs", "logit_bias", "top_logprobs"});
  CHECK(c.find("openai")->dropped_params == std::vector<std::string>{"top_k", "thinking"});
  CHECK(c.find("openai")->is_reasoning_model("gpt-5-mini"));
  CHECK(c.find("openai")->is_reasoning_model("o4-mini"));
  CHECK_FALSE(c.find("openai")->is_reasoning_model("gpt-4o"));
  CHECK_FALSE(c.find("openai")->is_reasoning_model("o1-mini"));
  CHECK(c.find("anthropic")->is_reasoning_model("claude-sonnet-4-5-20250929"));
  CHECK_FALSE(c.find("anthropic")->is_reasoning_model("claude-3-5-haiku-latest"));
  CHECK(c.find("google")->is_reasoning_model("gemini-2.5-pro"));
  CHECK_FALSE(c.find("google")->is_reasoning_model("gemini-2.0-flash"));
  auto own = Catalog::from_json(one_provider(R"(, "reasoning_model_prefixes": ["qwen3"])"));
  REQUIRE(own.has_value());
  CHECK(own->providers().front().reasoning_model_prefixes == std::vector<std::string>{"qwen3"});
  const auto* m = c.find("openai")->find_model("gpt-4o-mini");
  REQUIRE(m);
  CHECK(m->prices.input == Approx(0.15));
  CHECK(c.find("openai")->find_model("gpt-9") == nullptr);
}

TEST_CASE("catalog: embedding models are marked, and so are the providers that embed",
          "[catalog][embeddings]") {
  auto c = Catalog::builtin();
  REQUIRE(c.has_value());
  const Provider* openai = c->find("openai");
  REQUIRE(openai != nullptr);
  REQUIRE(openai->find_model("text-embedding-3-small") != nullptr);
  CHECK(openai->find_model("text-embedding-3-small")->kind == ModelKind::embedding);
  CHECK(openai->find_model("gpt-4o-mini")->kind == ModelKind::chat);
  CHECK(c->find("google")->find_model("gemini-embedding-001")->kind == ModelKind::embedding);
  // Bare embedding model names route by the catalog's ids.
  CHECK(c->provider_for_model("text-embedding-3-large") == openai);
  CHECK(c->provider_for_model("mistral-embed") == c->find("mistral"));
  // Whether a provider embeds is data: the "embeddings" capability, read by the adapter.
  CHECK(openai->adapter->embeds());
  CHECK(c->find("google")->adapter->embeds());
  CHECK(c->find("mistral")->adapter->embeds());
  CHECK_FALSE(c->find("groq")->adapter->embeds());
  CHECK_FALSE(c->find("anthropic")->adapter->embeds());
  // Every embedding model is priced by its input, and sits with a provider that embeds.
  for (const auto& p : c->providers()) {
    for (const auto& m : p.models) {
      if (m.kind == ModelKind::embedding) {
        INFO(p.id << "/" << m.id);
        CHECK(p.adapter->embeds());
        CHECK(m.prices.input > 0);
      }
    }
  }
  auto custom = Catalog::from_json(one_provider(
      R"(, "capabilities": ["embeddings"], "models": [{"id": "e", "kind": "embedding"}])"));
  REQUIRE(custom.has_value());
  CHECK(custom->find("p")->find_model("e")->kind == ModelKind::embedding);
  CHECK(custom->find("p")->adapter->embeds());
}
