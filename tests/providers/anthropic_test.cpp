// Anthropic adapter behaviour the golden fixtures cannot express: rejected requests, headers,
// defaults from the catalog, and malformed upstream JSON (an Error, never a crash).
// Translations themselves are covered by tests/fixtures/providers/anthropic/.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "providers/catalog.hpp"
#include "schema/json.hpp"

namespace {

using keygate::providers::Adapter;
using keygate::providers::Catalog;
using keygate::providers::ChatOptions;
using keygate::providers::SseEvent;

const Adapter& anthropic() {
  static const Catalog catalog = *Catalog::builtin();
  return *catalog.find("anthropic")->adapter;
}

rapidjson::Document request(const char* json) {
  return *keygate::parse_json_object(json);
}

std::string header(const keygate::providers::UpstreamRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

// A request with `field` set to `value` (JSON), which the adapter must refuse with a 400: the
// param the error names.
std::string refused_param(const std::string& field, const std::string& value) {
  auto doc = request(
      (R"({"messages":[{"role":"user","content":"hi"}],")" + field + "\":" + value + "}").c_str());
  auto refused = anthropic().build_chat_request(doc, {}, "claude-sonnet-4-5");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().status == 400);
  return refused.error().param;
}

}  // namespace

TEST_CASE("anthropic: version header set, no secret header from the adapter", "[anthropic]") {
  auto doc = request(R"({"messages":[{"role":"user","content":"hi"}]})");
  auto r = anthropic().build_chat_request(doc, {}, "claude-sonnet-4-5");
  REQUIRE(r.has_value());
  CHECK(header(*r, "anthropic-version") == "2023-06-01");
  CHECK(header(*r, "x-api-key").empty());
  CHECK(header(*r, "Authorization").empty());
}

TEST_CASE("anthropic: max_tokens is always sent, 4096 for a model the catalog lacks",
          "[anthropic]") {
  // Guards against a 400 "max_tokens: Field required" from Anthropic.
  auto doc = request(R"({"messages":[{"role":"user","content":"hi"}]})");
  auto r = anthropic().build_chat_request(doc, {}, "claude-future-9");
  REQUIRE(r.has_value());
  auto body = *keygate::parse_json_object(r->body);
  CHECK(body["max_tokens"].GetInt64() == 4096);
}

TEST_CASE("anthropic: tool call arguments that are not a JSON object are a 400", "[anthropic]") {
  for (const char* args : {R"(not json)", R"([1,2])"}) {
    std::string json = std::string(R"({"messages":[{"role":"user","content":"hi"},)") +
                       R"({"role":"assistant","tool_calls":[{"id":"t1","type":"function",)" +
                       R"("function":{"name":"f","arguments":)" +
                       keygate::to_json(rapidjson::Value(rapidjson::StringRef(args))) + "}}]}]}";
    auto doc = request(json.c_str());
    auto r = anthropic().build_chat_request(doc, {}, "claude-sonnet-4-5");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
    CHECK(r.error().code == "invalid_tool_arguments");
  }
}

TEST_CASE("anthropic: requests it cannot express are a 400", "[anthropic]") {
  for (
      const char* json : {
          R"({"messages":"hi"})",
          R"({"messages":[{"role":"user","content":"hi"}],"n":2})",
          R"({"messages":[{"role":"wizard","content":"hi"}]})",
          R"({"messages":[{"role":"user","content":[{"type":"input_audio"}]}]})",
          R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]})",
          R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]})",
          R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":0})",
          R"({"messages":[{"role":"user","content":"hi"}],"stop":7})",
          R"({"messages":[{"role":"system","content":"only a system prompt"}]})",
      }) {
    INFO(json);
    auto doc = request(json);
    auto r = anthropic().build_chat_request(doc, {}, "claude-sonnet-4-5");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
  }
}

TEST_CASE("anthropic: key test lists models", "[anthropic]") {
  auto r = anthropic().build_key_test_request();
  CHECK(r.method == "GET");
  CHECK(r.path == "/v1/models");
  CHECK(header(r, "anthropic-version") == "2023-06-01");
}

TEST_CASE("anthropic: wrong types in a response are a 502, not a crash", "[anthropic]") {
  for (const char* body : {
           R"(not json)",
           R"([])",
           R"({"content":[{"type":"text","text":5}],"stop_reason":"end_turn"})",
           R"({"content":[{"type":"tool_use","id":"t","name":"f","input":"x"}]})",
           R"({"content":[],"usage":{"input_tokens":"ten"}})",
           R"({"id":7,"content":[]})",
       }) {
    INFO(body);
    keygate::providers::Usage usage;
    auto r = anthropic().translate_response(body, "claude-sonnet-4-5", usage);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 502);
  }
}

TEST_CASE("anthropic: malformed stream events are an error, not a crash", "[anthropic]") {
  for (
      const char* data : {
          R"(not json)",
          R"({"type":7})",
          R"({"type":"message_start","message":"x"})",
          R"({"type":"content_block_delta","index":"0","delta":{"type":"text_delta","text":"a"}})",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":1}})",
          R"({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{"}})",
          R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":1}})",
          R"({"type":"message_delta","delta":{"stop_reason":1}})",
          R"({"type":"error","error":"overloaded"})",
      }) {
    INFO(data);
    auto stream = anthropic().start_stream({}, "claude-sonnet-4-5");
    std::vector<std::string> out;
    auto r = stream->on_event(SseEvent{"", data}, out);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status >= 500);
  }
}

TEST_CASE("anthropic: events after message_stop are ignored", "[anthropic]") {
  auto stream = anthropic().start_stream({}, "claude-sonnet-4-5");
  std::vector<std::string> out;
  REQUIRE(stream->on_event({"message_stop", R"({"type":"message_stop"})"}, out));
  REQUIRE(out.back() == "[DONE]");
  std::size_t n = out.size();
  REQUIRE(stream->on_event({"", R"({"type":"content_block_delta","index":0,)"
                                R"("delta":{"type":"text_delta","text":"late"}})"},
                           out));
  REQUIRE(stream->on_end(out));
  CHECK(out.size() == n);
}

TEST_CASE("anthropic: an overloaded error event is retryable", "[anthropic]") {
  auto stream = anthropic().start_stream({}, "claude-sonnet-4-5");
  std::vector<std::string> out;
  auto r = stream->on_event(
      {"error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"},
      out);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().status == 529);
  CHECK(r.error().retryable);
  CHECK(r.error().message.find("Overloaded") != std::string::npos);
}

TEST_CASE("anthropic: beta features asked for go out in the anthropic-beta header", "[anthropic]") {
  // Guards against Claude Code's betas (interleaved thinking, long context) lost on the way, and
  // against a value that could add a line to the upstream's head.
  auto doc =
      request(R"({"messages":[{"role":"user","content":"hi"}],)"
              R"("anthropic_beta":"interleaved-thinking-2025-05-14, context-1m-2025-08-07"})");
  auto r = anthropic().build_chat_request(doc, {}, "claude-sonnet-4-5");
  REQUIRE(r.has_value());
  CHECK(header(*r, "anthropic-beta") == "interleaved-thinking-2025-05-14,context-1m-2025-08-07");
  CHECK(r->body.find("anthropic_beta") == std::string::npos);  // a header, not a body field
  auto counted = anthropic().build_count_tokens_request(doc, "claude-sonnet-4-5");
  REQUIRE(counted.has_value());
  CHECK(header(*counted, "anthropic-beta") ==
        "interleaved-thinking-2025-05-14,context-1m-2025-08-07");
  auto tidy = anthropic().build_chat_request(
      request(R"({"messages":[{"role":"user","content":"hi"}],"anthropic_beta":" , a-1 ,, b.2 "})"),
      {}, "claude-sonnet-4-5");
  REQUIRE(tidy.has_value());
  CHECK(header(*tidy, "anthropic-beta") == "a-1,b.2");
  for (const char* bad : {R"("a\r\nx-evil: 1")", R"("a;b")", R"("a b")", "7"}) {
    INFO(bad);
    CHECK(refused_param("anthropic_beta", bad) == "anthropic_beta");
  }
  auto plain = anthropic().build_chat_request(
      request(R"({"messages":[{"role":"user","content":"hi"}]})"), {}, "claude-sonnet-4-5");
  REQUIRE(plain.has_value());
  CHECK(header(*plain, "anthropic-beta").empty());
}

TEST_CASE("anthropic: Claude's own settings under \"anthropic\" go into the request as they are",
          "[anthropic]") {
  // Guards against Claude Code's effort setting and context editing dropped without a word, and
  // against the object being used to set anything else (model, stream, max_tokens, ...).
  auto doc = request(R"({"messages":[{"role":"user","content":"hi"}],"anthropic":{)"
                     R"("output_config":{"effort":"medium"},"service_tier":"standard_only"}})");
  auto r = anthropic().build_chat_request(doc, {}, "claude-opus-4-5");
  REQUIRE(r.has_value());
  auto body = *keygate::parse_json_object(r->body);
  CHECK(keygate::to_json(body["output_config"]) == R"({"effort":"medium"})");
  CHECK(keygate::as_view(body["service_tier"]) == "standard_only");
  CHECK_FALSE(body.HasMember("anthropic"));
  // A name given twice goes out once, the first.
  auto twice = anthropic().build_chat_request(
      request(R"({"messages":[{"role":"user","content":"hi"}],"anthropic":)"
              R"({"service_tier":"auto","service_tier":"standard_only"}})"),
      {}, "claude-opus-4-5");
  REQUIRE(twice.has_value());
  CHECK(twice->body.find("standard_only") == std::string::npos);
  CHECK(twice->body.find(R"("service_tier":"auto")") != std::string::npos);
  for (const char* bad : {R"("fast")", R"({"stream":true})", R"({"model":"claude-x"})"}) {
    INFO(bad);
    CHECK(refused_param("anthropic", bad).rfind("anthropic", 0) == 0);
  }
}
