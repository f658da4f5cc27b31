// POST /v1/responses end to end: keygate in-process with mock OpenAI, Anthropic and Gemini
// upstreams on loopback speaking their documented wire formats. What reaches each provider, the
// Response and its stream events, usage rows, tool calls and Claude's thinking blocks across
// turns, upstream failures, and every refusal.

#include <catch2/catch.hpp>

#include <cstdlib>

#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_providers.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

struct ResponsesFixture {
  MockUpstream openai{openai_json_handler("Hello from the mock")};
  MockUpstream anthropic{anthropic_json_handler("Hello from Claude")};
  MockUpstream google{gemini_json_handler("Hello from Gemini")};
  std::unique_ptr<TestGateway> gw;

  explicit ResponsesFixture(const std::string& extra_config = {}) {
    setenv("OPENAI_API_KEY", "sk-env-responses-test-00000000000042", 1);
    setenv("ANTHROPIC_API_KEY", "sk-ant-env-responses-test-0000000042", 1);
    setenv("GEMINI_API_KEY", "AIzaEnvResponsesTest000000000000042", 1);
    GatewayOptions options;
    options.base_urls = {{"openai", openai.base_url("/v1")},
                         {"anthropic", anthropic.base_url()},
                         {"google", google.base_url()}};
    options.extra_config = extra_config;
    gw = std::make_unique<TestGateway>(options);
  }
  HttpResponse respond(const std::string& body) {
    return http_request(gw->port(), "POST", "/v1/responses", body,
                        {{"authorization", bearer(gw->user_token)}});
  }
  std::size_t upstream_requests() {
    return openai.request_count() + anthropic.request_count() + google.request_count();
  }
};

struct Event {
  std::string name;
  rapidjson::Document data;
};

// The stream's events: "event: NAME" and its "data: {...}" line.
std::vector<Event> events_of(const std::string& body) {
  std::vector<Event> out;
  std::size_t at = 0;
  while ((at = body.find("event: ", at)) != std::string::npos) {
    const std::size_t name_end = body.find('\n', at);
    REQUIRE(name_end != std::string::npos);
    Event e;
    e.name = body.substr(at + 7, name_end - at - 7);
    REQUIRE(body.compare(name_end + 1, 6, "data: ") == 0);
    const std::size_t data_end = body.find('\n', name_end + 7);
    e.data = parse_json(body.substr(name_end + 7, data_end - name_end - 7));
    REQUIRE(e.data.IsObject());
    out.push_back(std::move(e));
    at = data_end;
  }
  return out;
}

std::string str(const rapidjson::Value& v, const char* name) {
  REQUIRE(v.IsObject());
  REQUIRE(v.HasMember(name));
  REQUIRE(v[name].IsString());
  return v[name].GetString();
}

}  // namespace

TEST_CASE("a Response from the OpenAI family: the chat request sent, the Response, the usage row",
          "[responses]") {
  ResponsesFixture f;
  auto r = f.respond(R"({"model": "openai/gpt-4o-mini", "instructions": "Be brief.",
                         "input": [{"role": "developer", "content": "Answer in French."},
                                   {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
                         "max_output_tokens": 64, "temperature": 0.5,
                         "metadata": {"ticket": "T-1"}})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.headers["x-keygate-provider"] == "openai");

  REQUIRE(f.openai.request_count() == 1);
  const RecordedRequest sent = f.openai.requests().front();
  CHECK(sent.target == "/v1/chat/completions");
  const auto up = parse_json(sent.body);
  CHECK(str(up, "model") == "gpt-4o-mini");
  REQUIRE(up["messages"].Size() == 3);
  CHECK(str(up["messages"][0], "role") == "system");
  CHECK(str(up["messages"][0], "content") == "Be brief.");
  CHECK(str(up["messages"][1], "role") == "system");  // developer, as every provider knows it
  CHECK(str(up["messages"][2], "role") == "user");
  CHECK(str(up["messages"][2]["content"][0], "text") == "Hi");
  CHECK(up["max_completion_tokens"].GetInt() == 64);
  CHECK(up["temperature"].GetDouble() == 0.5);
  CHECK_FALSE(up.HasMember("input"));
  CHECK_FALSE(up.HasMember("metadata"));

  const auto answer = parse_json(r.body);
  CHECK(str(answer, "object") == "response");
  CHECK(str(answer, "id").rfind("resp_", 0) == 0);
  CHECK(str(answer, "status") == "completed");
  CHECK(str(answer, "instructions") == "Be brief.");
  CHECK(str(answer["metadata"], "ticket") == "T-1");
  CHECK(answer["store"].IsFalse());
  REQUIRE(answer["output"].Size() == 1);
  const auto& item = answer["output"][0];
  CHECK(str(item, "type") == "message");
  CHECK(str(item, "role") == "assistant");
  CHECK(str(item["content"][0], "type") == "output_text");
  CHECK(str(item["content"][0], "text") == "Hello from the mock");
  CHECK(answer["usage"]["input_tokens"].GetInt() == 5);
  CHECK(answer["usage"]["output_tokens"].GetInt() == 7);
  CHECK(answer["usage"]["total_tokens"].GetInt() == 12);

  // Two answers never share an id.
  auto again = f.respond(R"({"model": "openai/gpt-4o-mini", "input": "Hi"})");
  REQUIRE(again.status == 200);
  CHECK(str(parse_json(again.body), "id") != str(answer, "id"));

  REQUIRE(f.gw->wait_usage_rows(2) == 2);
  CHECK(f.gw->query_int(
            "SELECT count(*) FROM usage WHERE provider = 'openai' AND "
            "model_served = 'gpt-4o-mini' AND prompt_tokens = 5 AND completion_tokens = 7 "
            "AND outcome = 'ok' AND user_id = '" +
            f.gw->user_id + "'") == 2);
}

TEST_CASE("a streamed Response from Claude: events in order, numbered, with the usage at the end",
          "[responses]") {
  ResponsesFixture f;
  f.anthropic.set_handler(anthropic_stream_handler({"Bon", "jour", "!"}));
  auto r = f.respond(R"({"model": "anthropic/claude-sonnet-4-5", "input": "Hi", "stream": true})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"].find("text/event-stream") == 0);
  CHECK(r.body.find("[DONE]") == std::string::npos);  // the Responses stream has no [DONE]

  const auto events = events_of(r.body);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < events.size(); ++i) {
    names.push_back(events[i].name);
    CHECK(str(events[i].data, "type") == events[i].name);
    CHECK(events[i].data["sequence_number"].GetInt64() == static_cast<int64_t>(i));
  }
  const std::vector<std::string> expected = {
      "response.created",           "response.in_progress",
      "response.output_item.added", "response.content_part.added",
      "response.output_text.delta", "response.output_text.delta",
      "response.output_text.delta", "response.output_text.done",
      "response.content_part.done", "response.output_item.done",
      "response.completed"};
  CHECK(names == expected);
  REQUIRE(events.size() == expected.size());
  CHECK(str(events[7].data, "text") == "Bonjour!");
  const auto& done = events.back().data["response"];
  CHECK(str(done, "status") == "completed");
  CHECK(str(done["output"][0]["content"][0], "text") == "Bonjour!");
  CHECK(done["usage"]["input_tokens"].GetInt() == 10);
  CHECK(done["usage"]["output_tokens"].GetInt() == 3);
  // Every event names the one Response.
  CHECK(str(events[0].data["response"], "id") == str(done, "id"));

  REQUIRE(f.gw->wait_usage_rows(1) == 1);
  CHECK(
      f.gw->query_int("SELECT count(*) FROM usage WHERE provider = 'anthropic' AND stream = 1 AND "
                      "prompt_tokens = 10 AND completion_tokens = 3") == 1);
}

TEST_CASE("a tool call goes out as a function_call item and comes back as tool_use and tool_result",
          "[responses]") {
  ResponsesFixture f;
  f.anthropic.set_handler(
      anthropic_tool_use_handler("toolu_01", "get_weather", R"({"city":"Paris"})"));
  const std::string tools = R"("tools": [{"type": "function", "name": "get_weather",
      "description": "Weather now", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]}}])";
  auto first = f.respond(
      R"({"model": "anthropic/claude-sonnet-4-5", "input": "Weather in Paris?", )" + tools + "}");
  INFO(first.body);
  REQUIRE(first.status == 200);
  const auto answer = parse_json(first.body);
  const rapidjson::Value* call = nullptr;
  for (const auto& item : answer["output"].GetArray()) {
    if (str(item, "type") == "function_call") {
      call = &item;
    }
  }
  REQUIRE(call != nullptr);
  CHECK(str(*call, "call_id") == "toolu_01");
  CHECK(str(*call, "name") == "get_weather");
  CHECK(parse_json(str(*call, "arguments"))["city"] == "Paris");
  const auto tool_sent = parse_json(f.anthropic.requests().front().body);
  CHECK(str(tool_sent["tools"][0], "name") == "get_weather");
  CHECK(tool_sent["tools"][0]["input_schema"]["required"][0] == "city");

  f.anthropic.set_handler(anthropic_json_handler("It is sunny."));
  auto second = f.respond(R"({"model": "anthropic/claude-sonnet-4-5", )" + tools + R"(,
      "input": [{"role": "user", "content": "Weather in Paris?"},
                {"type": "function_call", "call_id": "toolu_01", "name": "get_weather",
                 "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call_output", "call_id": "toolu_01", "output": "22C, sunny"}]})");
  INFO(second.body);
  REQUIRE(second.status == 200);
  const auto sent = parse_json(f.anthropic.requests().back().body);
  REQUIRE(sent["messages"].Size() == 3);
  const auto& assistant = sent["messages"][1];
  CHECK(str(assistant, "role") == "assistant");
  CHECK(str(assistant["content"][0], "type") == "tool_use");
  CHECK(str(assistant["content"][0], "id") == "toolu_01");
  CHECK(assistant["content"][0]["input"]["city"] == "Paris");
  const auto& result = sent["messages"][2];
  CHECK(str(result, "role") == "user");
  CHECK(str(result["content"][0], "type") == "tool_result");
  CHECK(str(result["content"][0], "tool_use_id") == "toolu_01");
  CHECK(str(parse_json(second.body)["output"][0]["content"][0], "text") == "It is sunny.");
}

TEST_CASE("Claude's signed thinking goes out in a reasoning item and back to Claude unchanged",
          "[responses]") {
  ResponsesFixture f;
  f.anthropic.set_handler([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.respond(
        200,
        R"({"id":"msg_t1","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
        R"("content":[{"type":"thinking","thinking":"Paris needs a lookup.","signature":"sig-AAA"},)"
        R"({"type":"tool_use","id":"toolu_02","name":"get_weather","input":{"city":"Paris"}}],)"
        R"("stop_reason":"tool_use","stop_sequence":null,)"
        R"("usage":{"input_tokens":30,"output_tokens":12}})");
  });
  const std::string tools = R"("tools": [{"type": "function", "name": "get_weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}])";
  auto first = f.respond(R"({"model": "anthropic/claude-sonnet-4-5", "input": "Weather?",
      "reasoning": {"effort": "low"}, )" +
                         tools + "}");
  INFO(first.body);
  REQUIRE(first.status == 200);
  auto answer = parse_json(first.body);
  REQUIRE(answer["output"].Size() == 2);
  auto& reasoning = answer["output"][0];
  CHECK(str(reasoning, "type") == "reasoning");
  CHECK(str(reasoning["summary"][0], "text") == "Paris needs a lookup.");
  REQUIRE(reasoning.HasMember("encrypted_content"));
  CHECK(str(answer["output"][1], "type") == "function_call");

  // The next turn sends the output back as it came, with the tool's result.
  rapidjson::Document next(rapidjson::kObjectType);
  auto& a = next.GetAllocator();
  next.AddMember("model", "anthropic/claude-sonnet-4-5", a);
  rapidjson::Value input(rapidjson::kArrayType);
  input.PushBack(rapidjson::Value(rapidjson::kObjectType)
                     .AddMember("role", "user", a)
                     .AddMember("content", "Weather?", a),
                 a);
  for (auto& item : answer["output"].GetArray()) {
    input.PushBack(rapidjson::Value(item, a), a);
  }
  input.PushBack(rapidjson::Value(rapidjson::kObjectType)
                     .AddMember("type", "function_call_output", a)
                     .AddMember("call_id", "toolu_02", a)
                     .AddMember("output", "22C", a),
                 a);
  next.AddMember("input", input, a);
  f.anthropic.set_handler(anthropic_json_handler("Sunny."));
  auto second = f.respond(to_json(next));
  INFO(second.body);
  REQUIRE(second.status == 200);
  const auto sent = parse_json(f.anthropic.requests().back().body);
  const auto& assistant = sent["messages"][1];
  REQUIRE(assistant["content"].Size() == 2);
  CHECK(str(assistant["content"][0], "type") == "thinking");
  CHECK(str(assistant["content"][0], "thinking") == "Paris needs a lookup.");
  CHECK(str(assistant["content"][0], "signature") == "sig-AAA");
  CHECK(str(assistant["content"][1], "type") == "tool_use");

  // A reasoning item whose content keygate did not write (OpenAI's own) is left out.
  auto other = f.respond(R"({"model": "anthropic/claude-sonnet-4-5", "input": [
      {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-openai"},
      {"role": "user", "content": "Hi"}]})");
  CHECK(other.status == 200);
  CHECK(parse_json(f.anthropic.requests().back().body)["messages"].Size() == 1);
}

TEST_CASE("a stream from Gemini, and a stream cut by its upstream ends with response.failed",
          "[responses]") {
  ResponsesFixture f;
  f.google.set_handler(gemini_stream_handler({"Hal", "lo"}));
  auto gemini = f.respond(R"({"model": "google/gemini-2.5-flash", "input": "Hi", "stream": true})");
  INFO(gemini.body);
  REQUIRE(gemini.status == 200);
  auto events = events_of(gemini.body);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().name == "response.completed");
  CHECK(str(events.back().data["response"]["output"][0]["content"][0], "text") == "Hallo");

  f.openai.set_handler([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.start_chunked();
    const std::string first = "data: " + openai_chunk_json("Half", true) + "\n\n";
    co_await ex.send_chunk(first);
    ex.cut();
  });
  auto cut = f.respond(R"({"model": "openai/gpt-4o-mini", "input": "Hi", "stream": true})");
  INFO(cut.body);
  REQUIRE(cut.status == 200);
  events = events_of(cut.body);
  REQUIRE(events.size() >= 3);
  CHECK(events.back().name == "response.failed");
  CHECK(str(events.back().data["response"], "status") == "failed");
  CHECK_FALSE(str(events.back().data["response"]["error"], "message").empty());
  for (const auto& e : events) {
    CHECK(e.name != "response.completed");
  }
}

TEST_CASE("an upstream's error before any answer keeps its status, in OpenAI's error shape",
          "[responses]") {
  ResponsesFixture f;
  f.anthropic.set_handler(anthropic_error_handler(400, "invalid_request_error", "bad prompt"));
  auto r = f.respond(R"({"model": "anthropic/claude-sonnet-4-5", "input": "Hi", "stream": true})");
  INFO(r.body);
  CHECK(r.status == 400);
  const auto error = parse_json(r.body);
  REQUIRE(error.HasMember("error"));
  CHECK(str(error["error"], "message").find("bad prompt") != std::string::npos);
}

TEST_CASE("refused Responses requests: 400 in OpenAI's shape naming the field, nothing sent",
          "[responses]") {
  ResponsesFixture f;
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"input": "Hi"})", "model"},
      {R"({"model": "", "input": "Hi"})", "model"},
      {R"({"model": "openai/gpt-4o-mini"})", "input"},
      {R"({"model": "openai/gpt-4o-mini", "input": 7})", "input"},
      {R"({"model": "openai/gpt-4o-mini", "input": []})", "input"},
      {R"({"model": "openai/gpt-4o-mini", "input": ["Hi"]})", "input[0]"},
      {R"({"model": "openai/gpt-4o-mini", "input": [{"role": "tool", "content": "x"}]})",
       "input[0].role"},
      {R"({"model": "openai/gpt-4o-mini", "input": [{"type": "item_reference", "id": "msg_1"}]})",
       "input[0]"},
      {R"({"model": "openai/gpt-4o-mini", "input": [{"type": "web_search_call", "id": "ws_1"}]})",
       "input[0].type"},
      {R"({"model": "openai/gpt-4o-mini", "input": [{"role": "user", "content":
          [{"type": "input_image", "file_id": "file-1"}]}]})",
       "input[0].content[0].file_id"},
      {R"({"model": "openai/gpt-4o-mini", "input": [{"role": "user", "content":
          [{"type": "input_audio", "input_audio": {}}]}]})",
       "input[0].content[0].type"},
      {R"({"model": "openai/gpt-4o-mini", "input": [{"type": "function_call", "name": "f",
          "arguments": "{}"}]})",
       "input[0].call_id"},
      {R"({"model": "openai/gpt-4o-mini", "input": [{"type": "function_call_output",
          "call_id": "c"}]})",
       "input[0].output"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "previous_response_id": "resp_1"})",
       "previous_response_id"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "conversation": "conv_1"})",
       "conversation"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "background": true})", "background"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "prompt": {"id": "pmpt_1"}})", "prompt"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "tools": [{"type": "web_search"}]})",
       "tools[0]"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "tools": [{"type": "function"}]})",
       "tools[0].name"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "tool_choice": "sometimes"})",
       "tool_choice"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "max_output_tokens": 0})",
       "max_output_tokens"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "temperature": "hot"})", "temperature"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "stream": "yes"})", "stream"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "truncation": "auto"})", "truncation"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "top_logprobs": 3})", "top_logprobs"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "text": {"format": {"type": "xml"}}})",
       "text.format.type"},
      {R"({"model": "openai/gpt-4o-mini", "input": "Hi", "reasoning": {"effort": "extreme"}})",
       "reasoning.effort"},
      {R"({"model": "openai/text-embedding-3-small", "input": "Hi"})", "model"},
      {R"({"model": "anthropic/claude-sonnet-4-5", "input": [{"type": "reasoning",
          "summary": [], "encrypted_content": "keygate.thinking_blocks:{broken"},
          {"role": "user", "content": "Hi"}]})",
       "input[0].encrypted_content"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto r = f.respond(c.body);
    INFO(r.body);
    CHECK(r.status == 400);
    const auto error = parse_json(r.body);
    REQUIRE(error.HasMember("error"));
    CHECK(str(error["error"], "type") == "invalid_request_error");
    CHECK(error["error"]["param"].IsString());
    if (error["error"]["param"].IsString()) {
      CHECK(std::string(error["error"]["param"].GetString()) == c.param);
    }
  }
  for (const char* body : {"", "not json", "[1, 2]", R"({"model": "openai/gpt-4o-mini")"}) {
    INFO(body);
    auto r = f.respond(body);
    CHECK(r.status == 400);
    CHECK(parse_json(r.body).HasMember("error"));
  }
  CHECK(f.upstream_requests() == 0);
  // The server is still there.
  CHECK(f.respond(R"({"model": "openai/gpt-4o-mini", "input": "Hi"})").status == 200);
}

TEST_CASE("Responses count against the caller's rate limit", "[responses]") {
  ResponsesFixture f(R"("rate_limit": {"requests_per_minute": 1})");
  CHECK(f.respond(R"({"model": "openai/gpt-4o-mini", "input": "Hi"})").status == 200);
  auto refused = f.respond(R"({"model": "openai/gpt-4o-mini", "input": "Hi"})");
  CHECK(refused.status == 429);
  CHECK(error_code_of(refused) == "rate_limit_exceeded");
  CHECK(f.openai.request_count() == 1);
}
