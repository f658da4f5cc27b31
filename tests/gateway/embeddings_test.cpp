// POST /v1/embeddings end to end: keygate in-process with mock OpenAI, Gemini and Anthropic
// upstreams on loopback speaking their documented wire formats. What reaches each provider, what
// the client gets back (numbers and base64), the usage rows (reported, and estimated where Google
// reports none), agents, the caller's own key, the limits, and every refusal.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "keystore/sqlite.hpp"
#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_providers.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kOpenAiEnvKey = "sk-env-embeddings-test-0000000000042";
constexpr const char* kGeminiEnvKey = "AIzaEnvEmbeddingsTest00000000000042";

struct EmbeddingsFixture {
  MockUpstream openai{openai_embeddings_handler()};
  MockUpstream google{gemini_embeddings_handler()};
  MockUpstream anthropic{status_handler(500, "{}")};
  std::unique_ptr<TestGateway> gw;

  explicit EmbeddingsFixture(const std::string& extra_config = {},
                             std::function<void(gateway::Config&)> tweak = {}) {
    setenv("OPENAI_API_KEY", kOpenAiEnvKey, 1);
    setenv("GEMINI_API_KEY", kGeminiEnvKey, 1);
    setenv("ANTHROPIC_API_KEY", "sk-ant-env-embeddings-test-000000042", 1);
    GatewayOptions options;
    options.base_urls = {{"openai", openai.base_url("/v1")},
                         {"google", google.base_url()},
                         {"anthropic", anthropic.base_url()}};
    options.extra_config = extra_config;
    options.tweak = std::move(tweak);
    gw = std::make_unique<TestGateway>(options);
  }
  HttpResponse embed(const std::string& body, const std::string& token = {}, Headers extra = {}) {
    extra.emplace_back("authorization", bearer(token.empty() ? gw->user_token : token));
    return http_request(gw->port(), "POST", "/v1/embeddings", body, extra);
  }
  HttpResponse as(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token) {
    return http_request(gw->port(), method, path, body, {{"authorization", bearer(token)}});
  }
  std::size_t upstream_requests() {
    return openai.request_count() + google.request_count() + anthropic.request_count();
  }

  int64_t wait_rows(int64_t n) { return gw->wait_usage_rows(n); }
  int64_t scalar(const std::string& sql) { return gw->query_int(sql); }
  double real(const std::string& sql) {
    auto db = sqlite::Database::open(gw->data_dir() + "/keygate.db");
    REQUIRE(db.has_value());
    auto s = db->prepare(sql);
    REQUIRE(s.has_value());
    REQUIRE(s->step().value());
    return s->column_double(0);
  }
};

std::vector<double> numbers_of(const rapidjson::Value& embedding) {
  std::vector<double> out;
  REQUIRE(embedding.IsArray());
  for (const auto& v : embedding.GetArray()) {
    REQUIRE(v.IsNumber());
    out.push_back(v.GetDouble());
  }
  return out;
}

}  // namespace

TEST_CASE("embeddings reach an OpenAI-family provider with its model id and come back as they came",
          "[embeddings]") {
  EmbeddingsFixture f;
  auto r = f.embed(R"({"model": "openai/text-embedding-3-small", "input": ["first", "second"],
                       "encoding_format": "float", "user": "u-42"})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.headers["x-keygate-provider"] == "openai");

  REQUIRE(f.openai.request_count() == 1);
  const RecordedRequest sent = f.openai.requests().front();
  CHECK(sent.target == "/v1/embeddings");
  CHECK(sent.header("authorization") == std::string("Bearer ") + kOpenAiEnvKey);
  const auto up = parse_json(sent.body);
  CHECK(std::string(up["model"].GetString()) == "text-embedding-3-small");
  CHECK(std::string(up["user"].GetString()) == "u-42");  // the rest as the client sent it
  CHECK(up["input"].Size() == 2);

  const auto answer = parse_json(r.body);
  REQUIRE(answer["data"].Size() == 2);
  for (int i = 0; i < 2; ++i) {
    const std::vector<float> expected = openai_embedding(i);
    const auto got = numbers_of(answer["data"][i]["embedding"]);
    REQUIRE(got.size() == expected.size());
    for (std::size_t j = 0; j < got.size(); ++j) {
      CHECK(got[j] == Approx(expected[j]));
    }
  }
  CHECK(answer["usage"]["prompt_tokens"].GetInt() == 6);

  // One row: the provider's count, priced at text-embedding-3-small's $0.02 a million.
  REQUIRE(f.wait_rows(1) == 1);
  CHECK(f.scalar("SELECT count(*) FROM usage WHERE provider = 'openai' AND "
                 "model_served = 'text-embedding-3-small' AND prompt_tokens = 6 AND "
                 "completion_tokens = 0 AND usage_known = 'reported' AND stream = 0 AND "
                 "outcome = 'ok' AND upstream_status = 200") == 1);
  CHECK(f.real("SELECT cost_usd FROM usage") == Approx(6 * 0.02 / 1e6));

  // A bare catalog name finds its provider; base64 passes through untouched.
  auto bare = f.embed(R"({"model": "text-embedding-3-small", "input": "third",
                          "encoding_format": "base64"})");
  INFO(bare.body);
  REQUIRE(bare.status == 200);
  const auto b = parse_json(bare.body);
  REQUIRE(b["data"][0]["embedding"].IsString());
  CHECK(decode_base64_floats(b["data"][0]["embedding"].GetString()) == openai_embedding(0));
}

TEST_CASE("embeddings on Gemini go to batchEmbedContents and come back in OpenAI's shape",
          "[embeddings]") {
  EmbeddingsFixture f;
  SECTION("as numbers, exactly as Google wrote them") {
    auto r = f.embed(R"({"model": "google/gemini-embedding-001",
                         "input": ["first", "second", "the third one"], "dimensions": 4})");
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(r.headers["x-keygate-provider"] == "google");
    REQUIRE(f.google.request_count() == 1);
    const RecordedRequest sent = f.google.requests().front();
    CHECK(sent.target == "/v1beta/models/gemini-embedding-001:batchEmbedContents");
    CHECK(sent.header("x-goog-api-key") == kGeminiEnvKey);
    const auto up = parse_json(sent.body);
    REQUIRE(up["requests"].Size() == 3);
    CHECK(std::string(up["requests"][2]["model"].GetString()) == "models/gemini-embedding-001");
    CHECK(std::string(up["requests"][2]["content"]["parts"][0]["text"].GetString()) ==
          "the third one");
    CHECK(up["requests"][0]["outputDimensionality"].GetInt() == 4);

    // The numbers' text is Google's, digit for digit.
    for (int i = 0; i < 3; ++i) {
      const auto values = gemini_embedding_text(i);
      std::string expected = R"("index":)" + std::to_string(i) + R"(,"embedding":[)";
      for (std::size_t j = 0; j < values.size(); ++j) {
        expected += (j > 0 ? "," : "") + values[j];
      }
      CHECK(r.body.find(expected + "]") != std::string::npos);
    }
    const auto answer = parse_json(r.body);
    CHECK(std::string(answer["object"].GetString()) == "list");
    CHECK(std::string(answer["model"].GetString()) == "gemini-embedding-001");
    CHECK(std::string(answer["data"][1]["object"].GetString()) == "embedding");
    // Google reports no count: keygate's estimate, a token a 4 bytes of each text (at least 1).
    CHECK(answer["usage"]["prompt_tokens"].GetInt() == 2 + 2 + 4);
    CHECK(answer["usage"]["total_tokens"].GetInt() == 8);
    REQUIRE(f.wait_rows(1) == 1);
    CHECK(f.scalar("SELECT count(*) FROM usage WHERE provider = 'google' AND prompt_tokens = 8 "
                   "AND completion_tokens = 0 AND usage_known = 'estimated' AND outcome = 'ok'") ==
          1);
    CHECK(f.real("SELECT cost_usd FROM usage") == Approx(8 * 0.15 / 1e6));
  }
  SECTION("as base64 float32s, as the openai SDKs ask by default") {
    auto r = f.embed(R"({"model": "gemini-embedding-001", "input": ["first", "second"],
                         "encoding_format": "base64"})");
    INFO(r.body);
    REQUIRE(r.status == 200);
    const auto answer = parse_json(r.body);
    REQUIRE(answer["data"].Size() == 2);
    for (int i = 0; i < 2; ++i) {
      REQUIRE(answer["data"][i]["embedding"].IsString());
      const auto floats = decode_base64_floats(answer["data"][i]["embedding"].GetString());
      const auto text = gemini_embedding_text(i);
      REQUIRE(floats.size() == text.size());
      for (std::size_t j = 0; j < text.size(); ++j) {
        CHECK(floats[j] == static_cast<float>(std::strtod(text[j].c_str(), nullptr)));
      }
    }
    // No dimensions asked: none sent.
    CHECK_FALSE(parse_json(f.google.requests().front().body)["requests"][0].HasMember(
        "outputDimensionality"));
  }
  SECTION("token ids are refused: Gemini embeds text") {
    auto r = f.embed(R"({"model": "gemini-embedding-001", "input": [[1, 2, 3]]})");
    CHECK(r.status == 400);
    CHECK(error_code_of(r) == "invalid_input");
    CHECK(f.google.request_count() == 0);
    // Refused before any key was looked up: no attempt, so no usage row (the next call's only).
    REQUIRE(f.embed(R"({"model": "gemini-embedding-001", "input": "ok"})").status == 200);
    REQUIRE(f.wait_rows(1) == 1);
    std::this_thread::sleep_for(50ms);
    f.gw->app().usage().flush();
    CHECK(f.scalar("SELECT count(*) FROM usage") == 1);
  }
  SECTION("more texts than Google takes in one batch: said before any call") {
    std::string many = R"({"model": "gemini-embedding-001", "input": [)";
    for (int i = 0; i < 101; ++i) {
      many += i > 0 ? R"(, "t")" : R"("t")";
    }
    auto r = f.embed(many + "]}");
    INFO(r.body);
    CHECK(r.status == 400);
    CHECK(error_code_of(r) == "too_many_inputs");
    CHECK(f.google.request_count() == 0);
  }
  SECTION("an answer that is not Google's shape is a 502, not a guess") {
    f.google.set_handler(status_handler(200, R"({"embeddings":[{"values":[1, "x"]}]})"));
    auto r = f.embed(R"({"model": "gemini-embedding-001", "input": "one"})");
    INFO(r.body);
    CHECK(r.status == 502);
    f.google.set_handler(
        status_handler(200, R"({"embeddings":[{"values":[1, 2], "values":[3]}]})"));
    auto twice = f.embed(R"({"model": "gemini-embedding-001", "input": "one"})");
    CHECK(twice.status == 502);
    CHECK(twice.body.find("two 'values' arrays") != std::string::npos);
    CHECK(f.google.request_count() == 2);  // an invalid answer is not retried: it is billed
    f.google.set_handler(status_handler(200, R"({"embeddings":[]})"));
    auto short_answer = f.embed(R"({"model": "gemini-embedding-001", "input": "one"})");
    CHECK(short_answer.status == 502);
    CHECK(short_answer.body.find("0 embeddings for 1 inputs") != std::string::npos);
  }
}

TEST_CASE("embeddings requests keygate cannot serve are refused in OpenAI's shape, sending nothing",
          "[embeddings]") {
  EmbeddingsFixture f;
  struct Case {
    const char* body;
    const char* param;
    const char* code;
  };
  const std::vector<Case> cases = {
      {R"({"input": "hi"})", "model", "missing_field"},
      {R"({"model": 7, "input": "hi"})", "model", "missing_field"},
      {R"({"model": "openai/text-embedding-3-small"})", "input", "missing_field"},
      {R"({"model": "openai/text-embedding-3-small", "input": null})", "input", "missing_field"},
      {R"({"model": "openai/text-embedding-3-small", "input": ""})", "input", "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": []})", "input", "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": {}})", "input", "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": 5})", "input", "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": ["a", ""]})", "input",
       "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": ["a", 1]})", "input",
       "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": [1, "a"]})", "input",
       "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": [1, -2]})", "input", "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": [[1], []]})", "input",
       "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": [true]})", "input", "invalid_input"},
      {R"({"model": "openai/text-embedding-3-small", "input": "a", "encoding_format": "hex"})",
       "encoding_format", "invalid_value"},
      {R"({"model": "openai/text-embedding-3-small", "input": "a", "encoding_format": 1})",
       "encoding_format", "invalid_value"},
      {R"({"model": "openai/text-embedding-3-small", "input": "a", "dimensions": 0})", "dimensions",
       "invalid_value"},
      {R"({"model": "openai/text-embedding-3-small", "input": "a", "dimensions": 1.5})",
       "dimensions", "invalid_value"},
      {R"({"model": "openai/text-embedding-3-small", "input": "a", "dimensions": "8"})",
       "dimensions", "invalid_value"},
      // The wrong kind of model, a provider without embeddings, an unknown name.
      {R"({"model": "openai/gpt-4o-mini", "input": "a"})", "model", "wrong_model_kind"},
      {R"({"model": "anthropic/claude-sonnet-4-5", "input": "a"})", "model",
       "embeddings_unsupported"},
      {R"({"model": "groq/llama-3.1-8b-instant", "input": "a"})", "model",
       "embeddings_unsupported"},
      {R"({"model": "no-such-model", "input": "a"})", "model", "model_not_found"},
      {R"({"model": "agent:nobody", "input": "a"})", "model", "agent_not_found"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto r = f.embed(c.body);
    INFO(r.body);
    CHECK(r.status == 400);
    CHECK(error_code_of(r) == c.code);
    const auto doc = parse_json(r.body);
    REQUIRE(doc.HasMember("error"));
    CHECK(std::string(doc["error"]["type"].GetString()) == "invalid_request_error");
    CHECK(std::string(doc["error"]["param"].GetString()) == c.param);
  }
  for (const char* body : {"not json", "[1, 2]", ""}) {
    INFO(body);
    auto r = f.embed(body);
    CHECK(r.status == 400);
    CHECK(parse_json(r.body).HasMember("error"));
  }
  CHECK(f.upstream_requests() == 0);

  // The other way round: a chat request naming an embedding model.
  auto chat = http_request(f.gw->port(), "POST", "/v1/chat/completions",
                           chat_body("openai/text-embedding-3-small"),
                           {{"authorization", bearer(f.gw->user_token)}});
  INFO(chat.body);
  CHECK(chat.status == 400);
  CHECK(error_code_of(chat) == "wrong_model_kind");
  CHECK(chat.body.find("POST /v1/embeddings") != std::string::npos);
  CHECK(f.upstream_requests() == 0);

  // Still serving after all of that.
  CHECK(f.embed(R"({"model": "openai/text-embedding-3-small", "input": "ok"})").status == 200);
  // No token: 401.
  CHECK(http_request(f.gw->port(), "POST", "/v1/embeddings",
                     R"({"model": "openai/text-embedding-3-small", "input": "a"})")
            .status == 401);
}

TEST_CASE("an upstream's refusal of an embeddings request reaches the client with its status",
          "[embeddings]") {
  EmbeddingsFixture f;
  f.openai.set_handler(status_handler(
      400, R"({"error": {"message": "This model's maximum context length is 8192 tokens.",
               "type": "invalid_request_error", "param": "input", "code": null}})"));
  auto r = f.embed(R"({"model": "openai/text-embedding-3-small", "input": "long"})");
  INFO(r.body);
  CHECK(r.status == 400);
  CHECK(r.body.find("maximum context length is 8192 tokens") != std::string::npos);
  CHECK(f.openai.request_count() == 1);  // a 400 is not retried

  // A 200 that is an error object, as some compatible servers send.
  f.openai.set_handler(status_handler(
      200, R"({"error": {"message": "model overloaded", "type": "server_error", "code": 503}})"));
  auto overloaded = f.embed(R"({"model": "openai/text-embedding-3-small", "input": "x"})");
  INFO(overloaded.body);
  CHECK(overloaded.status >= 500);
  CHECK(overloaded.body.find("model overloaded") != std::string::npos);

  f.openai.set_handler(status_handler(200, "not json at all"));
  auto garbage = f.embed(R"({"model": "openai/text-embedding-3-small", "input": "x"})");
  CHECK(garbage.status == 502);
  CHECK(garbage.body.find("not an embeddings list") != std::string::npos);
}

TEST_CASE("embeddings use the caller's own key, agents, and the usage labels", "[embeddings]") {
  EmbeddingsFixture f;
  // Alice's own OpenAI key serves her; bob, with none, is served on the environment's key.
  auto added = f.as("POST", "/v1/keys",
                    R"({"provider": "openai", "api_key": "sk-alice-own-embeddings-00000000042",
                        "name": "mine"})",
                    f.gw->user_token);
  REQUIRE(added.status == 201);
  REQUIRE(f.embed(R"({"model": "text-embedding-3-small", "input": "a"})").status == 200);
  REQUIRE(
      f.embed(R"({"model": "text-embedding-3-small", "input": "b"})", f.gw->other_token).status ==
      200);
  const auto sent = f.openai.requests();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].header("authorization") == "Bearer sk-alice-own-embeddings-00000000042");
  CHECK(sent[1].header("authorization") == std::string("Bearer ") + kOpenAiEnvKey);

  // An agent's model: "agent:NAME" picks it (its chat parameters do not apply).
  auto put = f.as("PUT", "/v1/agents/indexer",
                  R"({"model": "google/gemini-embedding-001", "params": {"temperature": 0.2}})",
                  f.gw->user_token);
  REQUIRE(put.status / 100 == 2);
  auto by_agent = f.embed(R"({"model": "agent:indexer", "input": "via the agent"})");
  INFO(by_agent.body);
  REQUIRE(by_agent.status == 200);
  CHECK(by_agent.headers["x-keygate-provider"] == "google");
  CHECK_FALSE(f.google.requests().back().body.find("temperature") != std::string::npos);
  // Bob has no agent of that name.
  auto bobs = f.embed(R"({"model": "agent:indexer", "input": "x"})", f.gw->other_token);
  CHECK(bobs.status == 400);
  CHECK(error_code_of(bobs) == "agent_not_found");

  // X-Agent-Id labels the usage; the request's model still decides where it goes.
  auto labelled = f.embed(R"({"model": "openai/text-embedding-3-small", "input": "c"})", {},
                          {{"x-agent-id", "indexer"}});
  REQUIRE(labelled.status == 200);
  CHECK(labelled.headers["x-keygate-provider"] == "openai");
  auto unknown_label = f.embed(R"({"model": "openai/text-embedding-3-small", "input": "c"})", {},
                               {{"x-agent-id", "ghost"}});
  CHECK(unknown_label.status == 400);
  CHECK(error_code_of(unknown_label) == "agent_not_found");

  REQUIRE(f.wait_rows(4) == 4);
  CHECK(f.scalar("SELECT count(*) FROM usage WHERE agent = 'indexer' AND provider = 'google'") ==
        1);
  CHECK(f.scalar("SELECT count(*) FROM usage WHERE agent = 'indexer' AND provider = 'openai'") ==
        1);
  CHECK(f.scalar("SELECT count(*) FROM usage WHERE user_id = '" + f.gw->user_id +
                 "' AND key_source = 'user'") == 2);
}

TEST_CASE("embeddings count against the rate limit and the budget on the operator's keys",
          "[embeddings]") {
  SECTION("rate limit") {
    EmbeddingsFixture f(R"("rate_limit": {"requests_per_minute": 1})");
    CHECK(f.embed(R"({"model": "text-embedding-3-small", "input": "a"})").status == 200);
    auto refused = f.embed(R"({"model": "text-embedding-3-small", "input": "a"})");
    CHECK(refused.status == 429);
    CHECK(error_code_of(refused) == "rate_limit_exceeded");
    CHECK(f.openai.request_count() == 1);
  }
  SECTION("budget") {
    EmbeddingsFixture f(R"("system_key_budget": {"usd": 0, "period": "day"})");
    auto refused = f.embed(R"({"model": "text-embedding-3-small", "input": "a"})");
    INFO(refused.body);
    CHECK(refused.status == 429);
    CHECK(error_code_of(refused) == "system_key_budget_exceeded");
    CHECK(f.openai.request_count() == 0);
  }
}

TEST_CASE("an embeddings answer over the size limit is a 502 that is not retried", "[embeddings]") {
  EmbeddingsFixture f({}, [](gateway::Config& c) { c.upstream.max_response_bytes = 200; });
  auto r = f.embed(R"({"model": "openai/text-embedding-3-small",
                       "input": ["a", "b", "c", "d", "e", "f"], "encoding_format": "float"})");
  INFO(r.body);
  CHECK(r.status == 502);
  CHECK(error_code_of(r) == "upstream_response_too_large");
  // Asked once: the same request would bring the same answer, billed again.
  CHECK(f.openai.request_count() == 1);
}

TEST_CASE("an embeddings call whose provider reports no usage is estimated on the operator's key",
          "[embeddings]") {
  EmbeddingsFixture f;
  f.openai.set_handler(
      status_handler(200, R"({"object":"list","data":[{"object":"embedding","embedding":[1]}]})"));
  // 40 texts of 1,000 bytes: past one input's context window (8,191 tokens), which bounds each
  // input, not the batch.
  std::string body = R"({"model": "openai/text-embedding-3-small", "input": [)";
  for (int i = 0; i < 40; ++i) {
    body += (i > 0 ? "," : "") + std::string("\"") + std::string(1000, 'w') + "\"";
  }
  auto r = f.embed(body + "]}");
  REQUIRE(r.status == 200);
  REQUIRE(f.wait_rows(1) == 1);
  CHECK(f.scalar("SELECT count(*) FROM usage WHERE usage_known = 'estimated' AND "
                 "key_source = 'env' AND completion_tokens = 0") == 1);
  CHECK(f.scalar("SELECT prompt_tokens FROM usage") > 10'000);
}

TEST_CASE("a chat agent's fallback that is an embedding model is left out of its chain",
          "[embeddings]") {
  EmbeddingsFixture f;
  f.openai.set_handler(status_handler(
      503, R"({"error": {"message": "overloaded", "type": "server_error", "code": null}})"));
  f.google.set_handler(gemini_json_handler("from gemini"));
  auto put = f.as("PUT", "/v1/agents/chatty",
                  R"({"model": "openai/gpt-4o-mini",
                      "fallbacks": ["openai/text-embedding-3-small", "google/gemini-2.5-flash"]})",
                  f.gw->user_token);
  REQUIRE(put.status / 100 == 2);
  auto r = http_request(f.gw->port(), "POST", "/v1/chat/completions", chat_body("agent:chatty"),
                        {{"authorization", bearer(f.gw->user_token)}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.headers["x-keygate-provider"] == "google");
  const auto sent = f.openai.requests();
  CHECK_FALSE(sent.empty());
  for (const auto& request : sent) {
    // Never a chat sent to the embedding model.
    CHECK(std::string(parse_json(request.body)["model"].GetString()) == "gpt-4o-mini");
  }
}
