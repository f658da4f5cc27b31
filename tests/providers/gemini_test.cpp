// Gemini adapter behaviour the golden fixtures cannot express: rejected requests, paths (the key
// never goes in the URL), and malformed upstream JSON (an Error, never a crash).
// Translations themselves are covered by tests/fixtures/providers/gemini/.

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

const Adapter& gemini() {
  static const Catalog catalog = *Catalog::builtin();
  return *catalog.find("google")->adapter;
}

rapidjson::Document request(const char* json) {
  return *keygate::parse_json_object(json);
}

}  // namespace

TEST_CASE("gemini: paths carry the model and never a key", "[gemini]") {
  auto doc = request(R"({"messages":[{"role":"user","content":"hi"}]})");
  ChatOptions stream;
  stream.stream = true;
  auto r = gemini().build_chat_request(doc, stream, "gemini-2.5-flash");
  REQUIRE(r.has_value());
  CHECK(r->path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  CHECK(r->path.find("key=") == std::string::npos);
  for (const auto& [name, value] : r->headers) {
    CHECK(name != "x-goog-api-key");
  }
}

TEST_CASE("gemini: a model id that could change the URL path is a 400", "[gemini]") {
  // Guards against "../" or "?" in a model name reaching another endpoint of the upstream.
  for (const char* model : {"../files", "gemini-2.5-flash:countTokens?x=", "a/b", ""}) {
    INFO(model);
    auto doc = request(R"({"messages":[{"role":"user","content":"hi"}]})");
    auto r = gemini().build_chat_request(doc, {}, model);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
  }
}

TEST_CASE("gemini: key test lists models", "[gemini]") {
  auto r = gemini().build_key_test_request();
  CHECK(r.method == "GET");
  CHECK(r.path == "/v1beta/models");
}

TEST_CASE("gemini: requests it cannot express are a 400", "[gemini]") {
  for (
      const char* json : {
          // a tool result whose call is not in the history: functionResponse needs the name
          R"({"messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_9","content":"x"}]})",
          R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]})",
          R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}]})",
          R"({"messages":[{"role":"user","content":"hi"}],"tool_choice":7,"tools":[]})",
          R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":"many"})",
          R"({"messages":[{"role":"wizard","content":"hi"}]})",
      }) {
    INFO(json);
    auto doc = request(json);
    auto r = gemini().build_chat_request(doc, {}, "gemini-2.5-flash");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
  }
}

TEST_CASE("gemini: wrong types in a response are a 502, not a crash", "[gemini]") {
  for (const char* body : {
           R"(not json)",
           R"({"candidates":{}})",
           R"({"candidates":[{"content":{"parts":[{"text":1}]}}]})",
           R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":[]}}]}}]})",
           R"({"candidates":[{"finishReason":3}]})",
           R"({"candidates":[],"usageMetadata":{"promptTokenCount":"9"}})",
           R"({})",
       }) {
    INFO(body);
    keygate::providers::Usage usage;
    auto r = gemini().translate_response(body, "gemini-2.5-flash", usage);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 502);
  }
}

TEST_CASE("gemini: malformed stream chunks are an error, not a crash", "[gemini]") {
  for (const char* data : {
           R"(not json)",
           R"({"candidates":"x"})",
           R"({"candidates":[{"index":"0"}]})",
           R"({"responseId":5})",
           R"({"error":"boom"})",
       }) {
    INFO(data);
    auto stream = gemini().start_stream({}, "gemini-2.5-flash");
    std::vector<std::string> out;
    auto r = stream->on_event(SseEvent{"", data}, out);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status >= 500);
  }
}

TEST_CASE("gemini: a stream that closes without any chunk is truncated", "[gemini]") {
  auto stream = gemini().start_stream({}, "gemini-2.5-flash");
  std::vector<std::string> out;
  auto r = stream->on_end(out);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == "upstream_truncated");
  CHECK(out.empty());
}
