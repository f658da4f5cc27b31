// The embeddings transforms: OpenAI's request to the OpenAI family (its model id) and to Gemini
// (batchEmbedContents), the answers back in OpenAI's shape as numbers or base64, usage reported
// or estimated, and what each adapter refuses. The expected base64 strings were computed apart
// from this code (Python's struct.pack('<…f') and base64), not by the encoder under test.

#include <catch2/catch.hpp>

#include "builtin_adapters.hpp"
#include "providers/embeddings.hpp"
#include "providers/gemini_embeddings.hpp"

using namespace keygate;
using namespace keygate::providers;
using keygate::testing::builtin_adapter;
using keygate::testing::parse_object;

namespace {

std::string view_text(const Result<std::string_view>& r) {
  REQUIRE(r.has_value());
  return std::string(*r);
}

}  // namespace

TEST_CASE("embeddings: the OpenAI family gets the client's request with its own model id",
          "[embeddings]") {
  const Adapter& openai = builtin_adapter("openai");
  auto request = parse_object(
      R"({"input": ["a", "b"], "model": "openai/text-embedding-3-small", "dimensions": 8,
          "user": "u"})");
  auto built = openai.build_embeddings_request(request, "text-embedding-3-small");
  REQUIRE(built.has_value());
  CHECK(built->path == "/embeddings");
  CHECK(built->method == "POST");
  // The client's members in their order, the model replaced in place.
  CHECK(built->body ==
        R"({"input":["a","b"],"model":"text-embedding-3-small","dimensions":8,"user":"u"})");

  // A second "model" member is not passed on (it would name another model upstream).
  auto twice = parse_object(R"({"model": "a", "input": "x", "model": "b"})");
  CHECK(openai.build_embeddings_request(twice, "m")->body == R"({"model":"m","input":"x"})");

  // A provider of the family without the capability refuses before anything is sent.
  CHECK_FALSE(builtin_adapter("groq").embeds());
  auto groq = builtin_adapter("groq").build_embeddings_request(request, "x");
  REQUIRE_FALSE(groq.has_value());
  CHECK(groq.error().status == 400);
  CHECK(groq.error().code == "embeddings_unsupported");
  // So does Claude, whose API has no embeddings.
  CHECK_FALSE(builtin_adapter("anthropic").embeds());
  CHECK(builtin_adapter("anthropic").build_embeddings_request(request, "x").error().status == 400);
}

TEST_CASE("embeddings: an OpenAI-family answer is passed on as it came, its usage read",
          "[embeddings]") {
  const Adapter& openai = builtin_adapter("openai");
  auto request = parse_object(R"({"model": "m", "input": "a", "encoding_format": "float"})");
  const std::string body =
      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25]}],)"
      R"("model":"text-embedding-3-small","usage":{"prompt_tokens":12,"total_tokens":12}})";
  Usage usage;
  std::string storage;
  auto answer = openai.translate_embeddings(body, request, "m", usage, storage);
  REQUIRE(answer.has_value());
  CHECK(answer->data() == body.data());  // the upstream body itself: no copy
  CHECK(usage.prompt_tokens == 12);
  CHECK(usage.completion_tokens == 0);
  CHECK_FALSE(usage.estimated);

  SECTION("numbers to a client that asked for base64 become base64 float32s") {
    auto asked = parse_object(R"({"model": "m", "input": "a", "encoding_format": "base64"})");
    const std::string numbers =
        R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.5,-2]}],)"
        R"("usage":{"prompt_tokens":3,"total_tokens":3}})";
    auto converted = openai.translate_embeddings(numbers, asked, "m", usage, storage);
    const auto doc = parse_object(view_text(converted));
    CHECK(std::string(doc["data"][0]["embedding"].GetString()) == "AADAPwAAAMA=");
    CHECK(doc["usage"]["prompt_tokens"].GetInt() == 3);
    // Already base64: untouched.
    const std::string b64 = R"({"object":"list","data":[{"embedding":"AADAPwAAAMA="}]})";
    CHECK(openai.translate_embeddings(b64, asked, "m", usage, storage)->data() == b64.data());
  }
  SECTION("usage: total_tokens where prompt_tokens is missing; none at all is unknown") {
    const std::string total = R"({"data":[],"usage":{"total_tokens":9}})";
    REQUIRE(openai.translate_embeddings(total, request, "m", usage, storage).has_value());
    CHECK(usage.prompt_tokens == 9);
    const std::string none = R"({"data":[]})";
    REQUIRE(openai.translate_embeddings(none, request, "m", usage, storage).has_value());
    CHECK_FALSE(usage.reported());
    // A "usage" deeper down is not the answer's.
    const std::string nested = R"({"data":[{"usage":{"prompt_tokens":5}}]})";
    REQUIRE(openai.translate_embeddings(nested, request, "m", usage, storage).has_value());
    CHECK(usage.prompt_tokens == -1);
  }
  SECTION("an error object with a 200, or no list at all, is an error") {
    const std::string error =
        R"({"error":{"message":"overloaded","type":"server_error","code":"overloaded"}})";
    auto e = openai.translate_embeddings(error, request, "m", usage, storage);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().message.find("overloaded") != std::string::npos);
    for (const char* bad : {"not json", "[1,2]", R"({"data":{}})", R"({"object":"list"})"}) {
      INFO(bad);
      auto r = openai.translate_embeddings(bad, request, "m", usage, storage);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().status == 502);
    }
  }
}

TEST_CASE("embeddings: Gemini gets one batchEmbedContents entry per text", "[embeddings]") {
  const Adapter& gemini = builtin_adapter("google");
  REQUIRE(gemini.embeds());
  auto request = parse_object(
      R"({"model": "google/gemini-embedding-001", "input": ["one", "two"], "dimensions": 256})");
  auto built = gemini.build_embeddings_request(request, "gemini-embedding-001");
  REQUIRE(built.has_value());
  CHECK(built->path == "/v1beta/models/gemini-embedding-001:batchEmbedContents");
  CHECK(built->body ==
        R"({"requests":[)"
        R"({"model":"models/gemini-embedding-001","content":{"parts":[{"text":"one"}]},)"
        R"("outputDimensionality":256},)"
        R"({"model":"models/gemini-embedding-001","content":{"parts":[{"text":"two"}]},)"
        R"("outputDimensionality":256}]})");

  auto single = parse_object(R"({"model": "m", "input": "just one"})");
  CHECK(gemini.build_embeddings_request(single, "gemini-embedding-001")->body ==
        R"({"requests":[{"model":"models/gemini-embedding-001",)"
        R"("content":{"parts":[{"text":"just one"}]}}]})");

  // Token ids: Gemini embeds text only.
  auto tokens = parse_object(R"({"model": "m", "input": [1, 2, 3]})");
  auto refused = gemini.build_embeddings_request(tokens, "gemini-embedding-001");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().status == 400);
  CHECK(refused.error().param == "input");
  // A model id that would reach another path.
  CHECK(gemini.build_embeddings_request(single, "../files").error().code == "model_not_found");
  // Google's batch limit, said before the round trip.
  std::string many = R"({"model": "m", "input": [)";
  for (int i = 0; i < 101; ++i) {
    many += (i > 0 ? ",\"t\"" : "\"t\"");
  }
  many += "]}";
  auto too_many = gemini.build_embeddings_request(parse_object(many), "gemini-embedding-001");
  REQUIRE_FALSE(too_many.has_value());
  CHECK(too_many.error().code == "too_many_inputs");
  CHECK(too_many.error().message.find("at most 100") != std::string::npos);
}

TEST_CASE("embeddings: Gemini's answer in OpenAI's shape, numbers or base64, usage estimated",
          "[embeddings]") {
  const Adapter& gemini = builtin_adapter("google");
  const std::string body = R"({"embeddings": [{"values": [0.5, -0.25, 0.125]},)"
                           R"( {"values": [0.1234567, -2.5e-3, 1, -0.333333333333]}]})";
  Usage usage;
  std::string storage;
  SECTION("numbers, as Google wrote them") {
    auto request = parse_object(R"({"model": "m", "input": ["first", "a longer text"]})");
    const std::string answer = view_text(
        gemini.translate_embeddings(body, request, "gemini-embedding-001", usage, storage));
    CHECK(answer ==
          R"({"object":"list","data":[)"
          R"({"object":"embedding","index":0,"embedding":[0.5,-0.25,0.125]},)"
          R"({"object":"embedding","index":1,"embedding":[0.1234567,-2.5e-3,1,-0.333333333333]}],)"
          R"("model":"gemini-embedding-001","usage":{"prompt_tokens":6,"total_tokens":6}})");
    // 5 bytes → 2 tokens, 13 bytes → 4: keygate's estimate, marked as one.
    CHECK(usage.prompt_tokens == 6);
    CHECK(usage.completion_tokens == 0);
    CHECK(usage.estimated);
  }
  SECTION("base64 float32s when asked") {
    auto request = parse_object(
        R"({"model": "m", "input": ["first", "second"], "encoding_format": "base64"})");
    const auto doc = parse_object(view_text(
        gemini.translate_embeddings(body, request, "gemini-embedding-001", usage, storage)));
    CHECK(std::string(doc["data"][0]["embedding"].GetString()) == "AAAAPwAAgL4AAAA+");
    CHECK(std::string(doc["data"][1]["embedding"].GetString()) == "3tb8PQrXI7sAAIA/q6qqvg==");
  }
  SECTION("an answer that does not match the request is an upstream error") {
    auto one = parse_object(R"({"model": "m", "input": "only one"})");
    auto counted = gemini.translate_embeddings(body, one, "m", usage, storage);
    REQUIRE_FALSE(counted.has_value());
    CHECK(counted.error().status == 502);
    CHECK(counted.error().message.find("2 embeddings for 1 inputs") != std::string::npos);
    for (const char* bad :
         {"not json", R"({"embedding": {"values": [1]}})", R"({"embeddings": [{"values": 1}]})",
          R"({"embeddings": [{"values": [1], "values": [2]}]})",
          R"({"embeddings": [{"values": []}]})", R"({"embeddings": [{"other": [1]}]})",
          R"({"embeddings": [{"values": ["1"]}]})", R"({"embeddings": [{"values": [true]}]})",
          R"({"embeddings": [{"values": [1e999]}]})", R"({"embeddings": [7]})"}) {
      INFO(bad);
      auto r = gemini.translate_embeddings(bad, one, "m", usage, storage);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().status == 502);
    }
  }
}

TEST_CASE("embeddings: the shared pieces", "[embeddings]") {
  CHECK(estimate_tokens("") == 1);
  CHECK(estimate_tokens("abcd") == 1);
  CHECK(estimate_tokens("abcde") == 2);
  CHECK(estimate_tokens("héllo") == 2);  // bytes, not characters: 6
  std::string out = "x";
  append_base64_floats(out, {0.5f, -0.25f, 0.125f});
  CHECK(out == "xAAAAPwAAgL4AAAA+");
  CHECK(input_texts(parse_object(R"({"input": [1, 2]})")).empty());
  CHECK(input_texts(parse_object(R"({"input": ["a", "b"]})")).size() == 2);
  CHECK(wants_base64(parse_object(R"({"encoding_format": "base64"})")));
  CHECK_FALSE(wants_base64(parse_object(R"({"encoding_format": "float"})")));
  CHECK_FALSE(wants_base64(parse_object(R"({})")));
}

TEST_CASE("embeddings: Gemini numbers at the edges of a float", "[embeddings]") {
  const Adapter& gemini = builtin_adapter("google");
  Usage usage;
  std::string storage;
  auto numbers = parse_object(R"({"model": "m", "input": "a"})");
  auto base64 = parse_object(R"({"model": "m", "input": "a", "encoding_format": "base64"})");
  // Too small for a double: a zero, as Google meant it, not a failed answer.
  const std::string tiny = R"({"embeddings": [{"values": [1e-400, -0, 1E2]}]})";
  const std::string out =
      view_text(gemini.translate_embeddings(tiny, numbers, "m", usage, storage));
  CHECK(out.find("[1e-400,-0,1E2]") != std::string::npos);
  CHECK(gemini.translate_embeddings(tiny, base64, "m", usage, storage).has_value());
  // A double that no float32 holds cannot be written as one.
  const std::string huge = R"({"embeddings": [{"values": [1e39]}]})";
  CHECK(gemini.translate_embeddings(huge, numbers, "m", usage, storage).has_value());
  auto refused = gemini.translate_embeddings(huge, base64, "m", usage, storage);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().status == 502);
  CHECK_FALSE(refused.error().retryable);
}

TEST_CASE("embeddings: re-encoding leaves entries that are not vectors alone", "[embeddings]") {
  auto encoded =
      vectors_as_base64(R"({"data":[1,{"embedding":[1.5,-2]},{"embedding":"x"}]})", "test");
  REQUIRE(encoded.has_value());
  CHECK(*encoded == R"({"data":[1,{"embedding":"AADAPwAAAMA="},{"embedding":"x"}]})");
  CHECK_FALSE(vectors_as_base64(R"({"data":[{"embedding":[true]}]})", "test").has_value());
  CHECK_FALSE(vectors_as_base64(R"({"data":{}})", "test").has_value());
}
