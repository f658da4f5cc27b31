// End to end through keygate to mock Anthropic and Gemini upstreams speaking their own wire
// formats: request shape upstream (path, auth header, body), the OpenAI-shaped answer the client
// gets, tool calls both ways, aliases, and fallback — before the first byte only.

#include <catch2/catch.hpp>

#include <cstdlib>

#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_providers.hpp"
#include "testing/mock_upstream.hpp"
#include "testing/refusing_port.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAnthropicKey = "sk-ant-env-routing-test-0000000000ab";
constexpr const char* kGeminiKey = "AIzaEnvRoutingTest000000000000000cd";

struct RoutingFixture {
  MockUpstream anthropic;
  MockUpstream google;
  std::unique_ptr<TestGateway> gw;
  explicit RoutingFixture(MockHandler anthropic_handler = anthropic_json_handler("from claude"),
                          MockHandler google_handler = gemini_json_handler("from gemini"),
                          std::string anthropic_url = {}, std::string extra_config = {})
      : anthropic(std::move(anthropic_handler)), google(std::move(google_handler)) {
    setenv("ANTHROPIC_API_KEY", kAnthropicKey, 1);
    setenv("GEMINI_API_KEY", kGeminiKey, 1);
    GatewayOptions options;
    options.base_urls = {
        {"anthropic", anthropic_url.empty() ? anthropic.base_url() : anthropic_url},
        {"google", google.base_url()}};
    options.extra_config = R"("models": {"smart": "anthropic/claude-sonnet-4-5"})";
    if (!extra_config.empty()) {
      options.extra_config += ", " + extra_config;
    }
    gw = std::make_unique<TestGateway>(options);
  }
  HttpResponse post(const std::string& path, const std::string& body,
                    const std::string& method = "POST") {
    return http_request(gw->port(), method, path, body,
                        {{"authorization", bearer(gw->user_token)}});
  }
  HttpResponse chat(const std::string& body) { return post("/v1/chat/completions", body); }
  // http_request() keeps a fixed set of headers; this reads x-keygate-model itself.
  std::string served_model(const std::string& body) {
    HttpConnection conn(gw->port());
    conn.send("POST", "/v1/chat/completions", body, {{"authorization", bearer(gw->user_token)}});
    REQUIRE(conn.read_header() == 200);
    std::string model = conn.header("x-keygate-model");
    conn.read_rest();
    return model;
  }
  // An agent: claude first, gemini as its fallback.
  void make_fallback_agent() {
    auto r = post("/v1/agents/resilient",
                  R"({"model": "anthropic/claude-sonnet-4-5",
                      "fallbacks": ["google/gemini-2.5-flash"]})",
                  "PUT");
    REQUIRE(r.status == 200);
  }
};

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

std::string str(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// All content deltas of an OpenAI chunk stream, concatenated.
std::string streamed_text(const std::vector<std::string>& events) {
  std::string text;
  for (const auto& e : events) {
    auto d = parse(e);
    if (d.IsObject() && d.HasMember("choices") && d["choices"].Size() > 0) {
      const auto& delta = d["choices"][0]["delta"];
      if (delta.HasMember("content") && delta["content"].IsString()) {
        text += str(delta["content"]);
      }
    }
  }
  return text;
}

constexpr const char* kWeatherTool =
    R"("tools": [{"type": "function", "function": {"name": "get_weather",
        "description": "Weather of a city", "parameters": {"type": "object",
        "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";

}  // namespace

TEST_CASE("chat through keygate to Anthropic: x-api-key, /v1/messages, OpenAI answer",
          "[routing][anthropic]") {
  RoutingFixture f;
  auto r = f.chat(R"({"model": "anthropic/claude-sonnet-4-5", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.header("x-keygate-provider") == "anthropic");
  CHECK(f.served_model(chat_body("anthropic/claude-sonnet-4-5")) == "claude-sonnet-4-5");
  auto d = parse(r.body);
  CHECK(str(d["object"]) == "chat.completion");
  CHECK(str(d["choices"][0]["message"]["content"]) == "from claude");
  CHECK(str(d["choices"][0]["finish_reason"]) == "stop");
  CHECK(d["usage"]["prompt_tokens"].GetInt() == 10);
  CHECK(d["usage"]["completion_tokens"].GetInt() == 25);

  auto reqs = f.anthropic.requests();
  REQUIRE(reqs.size() == 2);  // this chat and served_model()'s
  CHECK(reqs[0].target == "/v1/messages");
  CHECK(reqs[0].header("x-api-key") == kAnthropicKey);
  CHECK(reqs[0].header("authorization").empty());
  CHECK_FALSE(reqs[0].header("anthropic-version").empty());
  auto sent = parse(reqs[0].body);
  CHECK(str(sent["model"]) == "claude-sonnet-4-5");
  CHECK(sent["max_tokens"].GetInt() > 0);  // required by Anthropic
  CHECK((sent["system"].IsString() || sent["system"].IsArray()));
  CHECK(sent["messages"].Size() == 1);  // the system message moved out of messages
  CHECK(f.google.request_count() == 0);
}

TEST_CASE("streaming through keygate to Anthropic arrives as OpenAI chunks",
          "[routing][anthropic][stream]") {
  RoutingFixture f(anthropic_stream_handler({"Hel", "lo", " there"}));
  auto r = f.chat(chat_body("anthropic/claude-sonnet-4-5", true));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type") == "text/event-stream");
  CHECK(r.header("x-keygate-provider") == "anthropic");
  auto events = sse_data(r.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  CHECK(streamed_text(events) == "Hello there");
  CHECK(str(parse(events[0])["object"]) == "chat.completion.chunk");
  auto sent = parse(f.anthropic.requests().at(0).body);
  CHECK(sent["stream"].GetBool());
}

TEST_CASE("Anthropic tool_use becomes tool_calls, and the tool result goes back as tool_result",
          "[routing][anthropic][tools]") {
  RoutingFixture f(anthropic_tool_use_handler("toolu_01A", "get_weather", R"({"city":"Paris"})"));
  auto r = f.chat(R"({"model": "claude-sonnet-4-5", "messages": [
      {"role": "user", "content": "Weather in Paris?"}], )" +
                  std::string(kWeatherTool) + "}");
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto d = parse(r.body);
  const auto& choice = d["choices"][0];
  CHECK(str(choice["finish_reason"]) == "tool_calls");
  const auto& call = choice["message"]["tool_calls"][0];
  CHECK(str(call["id"]) == "toolu_01A");
  CHECK(str(call["type"]) == "function");
  CHECK(str(call["function"]["name"]) == "get_weather");
  CHECK(parse(str(call["function"]["arguments"]))["city"] == "Paris");
  auto sent = parse(f.anthropic.requests().at(0).body);
  CHECK(str(sent["tools"][0]["name"]) == "get_weather");
  CHECK(sent["tools"][0].HasMember("input_schema"));

  // Round trip: the client answers the call; Anthropic must get a tool_result for toolu_01A.
  f.anthropic.set_handler(anthropic_json_handler("It is sunny in Paris."));
  auto second = f.chat(R"({"model": "claude-sonnet-4-5", "messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "toolu_01A",
        "type": "function", "function": {"name": "get_weather",
        "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "toolu_01A", "content": "sunny, 24C"}], )" +
                       std::string(kWeatherTool) + "}");
  INFO(second.body);
  REQUIRE(second.status == 200);
  CHECK(str(parse(second.body)["choices"][0]["message"]["content"]) == "It is sunny in Paris.");
  auto back = parse(f.anthropic.requests().at(1).body);
  const auto& messages = back["messages"];
  REQUIRE(messages.Size() == 3);
  CHECK(str(messages[1]["role"]) == "assistant");
  bool saw_tool_use = false;
  for (const auto& block : messages[1]["content"].GetArray()) {
    saw_tool_use |= str(block["type"]) == "tool_use" && str(block["id"]) == "toolu_01A" &&
                    block["input"]["city"] == "Paris";
  }
  CHECK(saw_tool_use);
  CHECK(str(messages[2]["role"]) == "user");
  const auto& result = messages[2]["content"][0];
  CHECK(str(result["type"]) == "tool_result");
  CHECK(str(result["tool_use_id"]) == "toolu_01A");
  CHECK(f.anthropic.requests().at(1).body.find("sunny, 24C") != std::string::npos);
}

TEST_CASE("a streamed Anthropic tool call arrives as tool_call deltas",
          "[routing][anthropic][tools][stream]") {
  RoutingFixture f(
      anthropic_tool_stream_handler("toolu_02B", "get_weather", {"{\"ci", "ty\": \"Ro", "me\"}"}));
  auto r = f.chat(R"({"model": "claude-sonnet-4-5", "stream": true, "messages": [
      {"role": "user", "content": "Weather in Rome?"}], )" +
                  std::string(kWeatherTool) + "}");
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto events = sse_data(r.body);
  REQUIRE(events.back() == "[DONE]");
  std::string args;
  std::string id;
  std::string name;
  std::string finish;
  for (const auto& e : events) {
    auto d = parse(e);
    if (!d.IsObject() || !d.HasMember("choices") || d["choices"].Size() == 0) {
      continue;
    }
    const auto& c = d["choices"][0];
    if (c.HasMember("finish_reason") && c["finish_reason"].IsString()) {
      finish = str(c["finish_reason"]);
    }
    if (!c["delta"].HasMember("tool_calls")) {
      continue;
    }
    const auto& tc = c["delta"]["tool_calls"][0];
    if (tc.HasMember("id") && tc["id"].IsString()) {
      id = str(tc["id"]);
    }
    if (tc.HasMember("function")) {
      if (tc["function"].HasMember("name") && tc["function"]["name"].IsString()) {
        name = str(tc["function"]["name"]);
      }
      if (tc["function"].HasMember("arguments")) {
        args += str(tc["function"]["arguments"]);
      }
    }
  }
  CHECK(id == "toolu_02B");
  CHECK(name == "get_weather");
  CHECK(parse(args)["city"] == "Rome");
  CHECK(finish == "tool_calls");
}

TEST_CASE("chat through keygate to Gemini: x-goog-api-key, never the key in the URL",
          "[routing][gemini]") {
  RoutingFixture f;
  auto r = f.chat(R"({"model": "google/gemini-2.5-flash", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.header("x-keygate-provider") == "google");
  auto d = parse(r.body);
  CHECK(str(d["choices"][0]["message"]["content"]) == "from gemini");
  CHECK(d["usage"]["prompt_tokens"].GetInt() == 8);
  CHECK(d["usage"]["completion_tokens"].GetInt() == 12);

  auto reqs = f.google.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/v1beta/models/gemini-2.5-flash:generateContent");
  CHECK(reqs[0].header("x-goog-api-key") == kGeminiKey);
  // Bug guarded: the key in the query string, where proxies and access logs keep it.
  CHECK(reqs[0].target.find(kGeminiKey) == std::string::npos);
  CHECK(reqs[0].target.find("key=") == std::string::npos);
  auto sent = parse(reqs[0].body);
  CHECK(sent["contents"].IsArray());
  CHECK(sent.HasMember("systemInstruction"));
}

TEST_CASE("streaming through keygate to Gemini uses alt=sse and arrives as OpenAI chunks",
          "[routing][gemini][stream]") {
  RoutingFixture f(anthropic_json_handler("unused"), gemini_stream_handler({"Ciao", " mondo"}));
  auto r =
      f.chat(chat_body("gemini-2.5-flash", true, R"("stream_options": {"include_usage": true})"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto events = sse_data(r.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  CHECK(streamed_text(events) == "Ciao mondo");
  CHECK(r.body.find("\"usage\":{") != std::string::npos);  // the client asked for usage
  auto reqs = f.google.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  CHECK(reqs[0].header("x-goog-api-key") == kGeminiKey);
  CHECK(reqs[0].target.find(kGeminiKey) == std::string::npos);
}

TEST_CASE("Gemini functionCall becomes tool_calls; the result goes back as functionResponse",
          "[routing][gemini][tools]") {
  RoutingFixture f(anthropic_json_handler("unused"),
                   gemini_function_call_handler("get_weather", R"({"city":"Oslo"})"));
  auto r = f.chat(R"({"model": "gemini-2.5-flash", "messages": [
      {"role": "user", "content": "Weather in Oslo?"}], )" +
                  std::string(kWeatherTool) + "}");
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto d = parse(r.body);
  CHECK(str(d["choices"][0]["finish_reason"]) == "tool_calls");
  const auto& call = d["choices"][0]["message"]["tool_calls"][0];
  const std::string call_id = str(call["id"]);
  CHECK_FALSE(call_id.empty());
  CHECK(str(call["function"]["name"]) == "get_weather");
  CHECK(parse(str(call["function"]["arguments"]))["city"] == "Oslo");
  auto sent = parse(f.google.requests().at(0).body);
  CHECK(str(sent["tools"][0]["functionDeclarations"][0]["name"]) == "get_weather");

  f.google.set_handler(gemini_json_handler("Cold in Oslo."));
  auto second =
      f.chat(R"({"model": "gemini-2.5-flash", "messages": [
      {"role": "user", "content": "Weather in Oslo?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": ")" +
             call_id + R"(", "type": "function", "function": {"name": "get_weather",
        "arguments": "{\"city\":\"Oslo\"}"}}]},
      {"role": "tool", "tool_call_id": ")" +
             call_id + R"(", "content": "{\"temp\": -3}"}], )" + std::string(kWeatherTool) + "}");
  INFO(second.body);
  REQUIRE(second.status == 200);
  CHECK(str(parse(second.body)["choices"][0]["message"]["content"]) == "Cold in Oslo.");
  auto back = parse(f.google.requests().at(1).body);
  const auto& contents = back["contents"];
  REQUIRE(contents.Size() == 3);
  CHECK(str(contents[1]["role"]) == "model");
  CHECK(str(contents[1]["parts"][0]["functionCall"]["name"]) == "get_weather");
  const auto& response = contents[2]["parts"][0]["functionResponse"];
  CHECK(str(response["name"]) == "get_weather");
  CHECK(response["response"]["temp"].GetInt() == -3);
}

TEST_CASE("a streamed Gemini functionCall arrives as a tool_call chunk",
          "[routing][gemini][tools][stream]") {
  RoutingFixture f(anthropic_json_handler("unused"),
                   gemini_function_call_stream_handler("get_weather", R"({"city":"Lima"})"));
  auto r = f.chat(R"({"model": "gemini-2.5-flash", "stream": true, "messages": [
      {"role": "user", "content": "Weather in Lima?"}], )" +
                  std::string(kWeatherTool) + "}");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.body.find("\"tool_calls\"") != std::string::npos);
  CHECK(r.body.find("get_weather") != std::string::npos);
  CHECK(r.body.find("Lima") != std::string::npos);
  CHECK(sse_data(r.body).back() == "[DONE]");
}

TEST_CASE("a configured alias routes to its provider and model", "[routing][alias]") {
  RoutingFixture f;
  auto r = f.chat(chat_body("smart"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.header("x-keygate-provider") == "anthropic");
  REQUIRE(f.anthropic.request_count() == 1);
  CHECK(str(parse(f.anthropic.requests()[0].body)["model"]) == "claude-sonnet-4-5");
}

TEST_CASE("a 503 from the first provider falls back to the second", "[routing][fallback]") {
  RoutingFixture f(anthropic_error_handler(503, "overloaded_error", "Overloaded"));
  f.make_fallback_agent();
  auto r = f.chat(chat_body("agent:resilient"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(str(parse(r.body)["choices"][0]["message"]["content"]) == "from gemini");
  CHECK(r.header("x-keygate-provider") == "google");
  CHECK(f.anthropic.request_count() == 2);  // the attempt and its one retry
  CHECK(f.google.request_count() == 1);
  // Each attempt has its own fresh request: Gemini got a Gemini body, not Anthropic's.
  auto sent = parse(f.google.requests()[0].body);
  CHECK(sent.HasMember("contents"));
  CHECK_FALSE(sent.HasMember("messages"));
  CHECK(f.served_model(chat_body("agent:resilient")) == "gemini-2.5-flash");
}

TEST_CASE("a fallback that cannot run Claude's tool leaves the client Claude's own error",
          "[routing][fallback][claude_native]") {
  // Guards against an overloaded Claude turning into a permanent "google cannot run
  // web_search" 400 (a client would not retry that), and against Gemini getting the request
  // without the tool it was given.
  RoutingFixture f(anthropic_error_handler(529, "overloaded_error", "Overloaded"));
  f.make_fallback_agent();
  const std::string body =
      R"({"model": "agent:resilient", "messages": [{"role": "user", "content": "Search."}],
          "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]})";
  auto r = f.chat(body);
  INFO(r.body);
  CHECK(r.status == 529);
  CHECK(r.body.find("Overloaded") != std::string::npos);
  CHECK(f.anthropic.request_count() == 2);  // the attempt and its one retry
  CHECK(f.google.request_count() == 0);

  // With Claude up, the tool reaches it as the client wrote it.
  RoutingFixture up;
  up.make_fallback_agent();
  auto ok = up.chat(body);
  INFO(ok.body);
  REQUIRE(ok.status == 200);
  auto sent = parse(up.anthropic.requests()[0].body);
  CHECK(str(sent["tools"][0]["type"]) == "web_search_20250305");
  CHECK(sent["tools"][0]["max_uses"].GetInt() == 2);
}

TEST_CASE("an unreachable first provider falls back to the second", "[routing][fallback]") {
  RefusingPort dead;
  RoutingFixture f(anthropic_json_handler("unused"), gemini_stream_handler({"from ", "gemini"}),
                   dead.base_url());
  f.make_fallback_agent();
  auto r = f.chat(chat_body("agent:resilient", true));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.header("x-keygate-provider") == "google");
  CHECK(streamed_text(sse_data(r.body)) == "from gemini");
  CHECK(f.google.request_count() == 1);
}

TEST_CASE("a client error from the first provider is not retried elsewhere",
          "[routing][fallback]") {
  // Bug guarded: replaying a request the provider refused as invalid (400) on every fallback.
  RoutingFixture f(anthropic_error_handler(400, "invalid_request_error", "messages: bad"));
  f.make_fallback_agent();
  auto r = f.chat(chat_body("agent:resilient"));
  CHECK(r.status == 400);
  CHECK(r.header("x-keygate-provider") == "anthropic");
  CHECK(f.anthropic.request_count() == 1);
  CHECK(f.google.request_count() == 0);
}

TEST_CASE("no fallback once the first byte reached the client", "[routing][fallback][stream]") {
  RoutingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.start_chunked();
    const std::string head =
        "event: message_start\ndata: "
        R"({"type":"message_start","message":{"id":"msg_x","type":"message","role":"assistant",)"
        R"("content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":5,"output_tokens":1}}})"
        "\n\nevent: content_block_start\ndata: "
        R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
        "\n\nevent: content_block_delta\ndata: "
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Half"}})"
        "\n\n";
    co_await ex.send_chunk(head);
    co_await ex.sleep(50ms);
    ex.cut();
  });
  f.make_fallback_agent();
  // A client that keeps its connection open (as keep-alive clients do): a client that hangs up
  // would end the request anyway and hide a wrong retry.
  HttpConnection conn(f.gw->port());
  conn.send("POST", "/v1/chat/completions", chat_body("agent:resilient", true),
            {{"authorization", bearer(f.gw->user_token)}});
  REQUIRE(conn.read_header() == 200);
  CHECK(conn.header("x-keygate-provider") == "anthropic");
  const std::string body = conn.read_rest();
  INFO(body);
  auto events = sse_data(body);
  REQUIRE(events.size() >= 2);
  CHECK(streamed_text(events) == "Half");
  CHECK(events.back().find("\"error\"") != std::string::npos);
  CHECK(body.find("[DONE]") == std::string::npos);
  // The stream has ended; give a wrong retry or fallback (after the 50-200 ms backoff) the time
  // to show up before concluding it did not happen.
  CHECK_FALSE(f.anthropic.wait_for_requests(2, 600ms));  // not retried either
  CHECK_FALSE(f.google.wait_for_requests(1, 100ms));
}

TEST_CASE("a provider without a key is skipped; none with a key is provider_key_missing",
          "[routing][fallback][keys]") {
  RoutingFixture f;
  f.make_fallback_agent();
  unsetenv("ANTHROPIC_API_KEY");
  auto r = f.chat(chat_body("agent:resilient"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.header("x-keygate-provider") == "google");
  CHECK(f.anthropic.request_count() == 0);

  unsetenv("GEMINI_API_KEY");
  auto none = f.chat(chat_body("agent:resilient"));
  CHECK(none.status == 400);
  CHECK(none.body.find("provider_key_missing") != std::string::npos);
  CHECK(none.body.find("anthropic") != std::string::npos);  // names the first provider
  CHECK(f.google.request_count() == 1);
  setenv("ANTHROPIC_API_KEY", kAnthropicKey, 1);
  setenv("GEMINI_API_KEY", kGeminiKey, 1);
}

TEST_CASE("the routing section sets the retries and when the circuit opens",
          "[routing][fallback][circuit][config]") {
  // Guards against: the operator's settings read but not used (the defaults, one retry and five
  // failures, would take 5 upstream calls here, not 2).
  RoutingFixture f(anthropic_error_handler(529, "overloaded_error", "Overloaded"),
                   gemini_json_handler("from gemini"), {},
                   R"("routing": {"retries_per_target": 0, "breaker_failures": 2,
                                  "breaker_open_s": 60})");
  f.make_fallback_agent();
  for (int i = 0; i < 4; ++i) {
    auto r = f.chat(chat_body("agent:resilient"));
    REQUIRE(r.status == 200);
    CHECK(r.header("x-keygate-provider") == "google");
  }
  // No retry: one call per request; the second failure opened the circuit; then it was skipped.
  CHECK(f.anthropic.request_count() == 2);
  CHECK(f.google.request_count() == 4);
}

TEST_CASE("repeated failures open the provider's circuit: later requests skip it",
          "[routing][fallback][circuit]") {
  RoutingFixture f(anthropic_error_handler(529, "overloaded_error", "Overloaded"));
  f.make_fallback_agent();
  // Two failures per request (attempt + retry); the fifth consecutive failure opens the circuit,
  // and an open circuit is not retried.
  for (int i = 0; i < 3; ++i) {
    auto r = f.chat(chat_body("agent:resilient"));
    REQUIRE(r.status == 200);
    CHECK(r.header("x-keygate-provider") == "google");
  }
  CHECK(f.anthropic.request_count() == 5);
  auto r = f.chat(chat_body("agent:resilient"));
  REQUIRE(r.status == 200);
  CHECK(r.header("x-keygate-provider") == "google");
  CHECK(f.anthropic.request_count() == 5);  // skipped while open
  CHECK(f.google.request_count() == 4);
}
