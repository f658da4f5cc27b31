// OpenAI's Responses API as a client-facing dialect: the request, response and stream transforms
// between it and the OpenAI chat format keygate routes internally. Outputs are checked as parsed
// JSON values (member order and spacing are free), never as exact strings.

#include <catch2/catch.hpp>

#include <rapidjson/pointer.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "json_checks.hpp"
#include "providers/responses_inbound.hpp"
#include "schema/json.hpp"

namespace {

using namespace keygate::json_checks;

using keygate::providers::chat_to_response;
using keygate::providers::ResponseIdentity;
using keygate::providers::responses_to_chat_request;
using keygate::providers::ResponsesStreamWriter;
using keygate::providers::ResponsesTranslation;

const ResponseIdentity kIdentity{"resp_test123", 1700000123};

// ---------------------------------------------------------------------------------------------
// JSON helpers

// `text` as the inside of a JSON string.
std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// A JSON array (parse() takes objects only).
rapidjson::Document parse_array(const std::string& text) {
  INFO(text);
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsArray());
  return doc;
}

// responses_to_chat_request that must succeed.
ResponsesTranslation translate(std::string_view request) {
  INFO(request);
  auto r = responses_to_chat_request(request, kIdentity);
  if (!r.has_value()) {
    FAIL("responses_to_chat_request failed: " << r.error().status << " " << r.error().param << " "
                                              << r.error().message);
  }
  return std::move(*r);
}

// The chat request of a Responses request that must translate, parsed.
rapidjson::Document chat(std::string_view request) {
  return parse(translate(request).chat_request);
}

// A Responses request with a model and the given members after it.
std::string request_with(const std::string& members) {
  return R"({"model":"gpt-4o-mini",)" + members + "}";
}

// A request that must be refused: 400 invalid_request_error whose param starts with `param`.
void require_400(std::string_view request, const std::string& param) {
  INFO("request: " << request);
  auto r = responses_to_chat_request(request, kIdentity);
  if (r.has_value()) {
    FAIL("accepted, chat request: " << r->chat_request);
  }
  INFO("error: " << r.error().status << " " << r.error().type << " param=" << r.error().param << " "
                 << r.error().message);
  CHECK(r.error().status == 400);
  CHECK(r.error().type == "invalid_request_error");
  CHECK_THAT(r.error().param, Catch::StartsWith(param));
}

// ---------------------------------------------------------------------------------------------
// chat.completion helpers

const std::string kPlainRequest = R"({"model":"gpt-4o-mini","input":"hi"})";

std::string echo_of(const std::string& request = kPlainRequest) {
  return translate(request).echo;
}

// A chat.completion with one choice holding `message`.
std::string completion(
    const std::string& message, const std::string& finish_reason = R"("stop")",
    const std::string& usage = R"({"prompt_tokens":9,"completion_tokens":3,"total_tokens":12})") {
  return R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,)"
         R"("model":"gpt-4o-mini","choices":[{"index":0,"message":)" +
         message + R"(,"finish_reason":)" + finish_reason + R"(}],"usage":)" + usage + "}";
}

// chat_to_response that must succeed, its output parsed.
rapidjson::Document response(const std::string& chat_completion,
                             const std::string& request = kPlainRequest) {
  INFO(chat_completion);
  const std::string echo = echo_of(request);
  auto r = chat_to_response(chat_completion, echo);
  if (!r.has_value()) {
    FAIL("chat_to_response failed: " << r.error().status << " " << r.error().message);
  }
  return parse(*r);
}

// ---------------------------------------------------------------------------------------------
// Stream helpers

// (events_of, names_of: tests/providers/json_checks.hpp)

// Every event carries sequence_number, 0, 1, 2, ... in order.
void check_sequence_numbers(const std::vector<Event>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    INFO("event " << i << " " << events[i].name << ": " << keygate::to_json(events[i].data));
    CHECK_THAT(at(events[i].data, "/sequence_number"), IsJson(std::to_string(i)));
  }
}

const rapidjson::Value& event_data(const std::vector<Event>& events, std::string_view name) {
  static const rapidjson::Value null_value;
  for (const auto& e : events) {
    if (e.name == name) {
      return e.data;
    }
  }
  FAIL_CHECK("no " << name << " event");
  return null_value;
}

// An output item rebuilt from its events.
struct Item {
  std::string type;
  std::string id;
  std::string added;      // the item in output_item.added, as JSON
  std::string done_item;  // the item in output_item.done, as JSON
  std::string text;       // message: output_text deltas joined
  std::string text_done;  // message: output_text.done's text
  std::string arguments;  // function_call: argument deltas joined
  std::string arguments_done;
  std::string summary;  // reasoning: summary text deltas joined
  std::string summary_done;
  bool done = false;
};

// Rebuilds the output items, checking the protocol on the way: output_index 0, 1, 2, ... in
// order, one item open at a time (done before the next is added), every event of an item naming
// its id and output_index, content_index / summary_index 0, the done events repeating the joined
// deltas, and every item done before the response ends.
std::vector<Item> items_of(const std::vector<Event>& events) {
  std::vector<Item> items;
  auto open_item = [&](const rapidjson::Value& data) -> Item* {
    REQUIRE(!items.empty());
    CHECK_THAT(at(data, "/output_index"), IsJson(std::to_string(items.size() - 1)));
    CHECK(str(at(data, "/item_id")) == items.back().id);
    CHECK_FALSE(items.back().done);
    return &items.back();
  };
  for (const auto& e : events) {
    INFO("event " << e.name << ": " << keygate::to_json(e.data));
    const auto& d = e.data;
    if (e.name == "response.output_item.added") {
      CHECK_THAT(at(d, "/output_index"), IsJson(std::to_string(items.size())));
      if (!items.empty()) {
        CHECK(items.back().done);
      }
      Item item;
      item.type = str(at(d, "/item/type"));
      item.id = str(at(d, "/item/id"));
      CHECK_FALSE(item.id.empty());
      item.added = keygate::to_json(at(d, "/item"));
      items.push_back(std::move(item));
    } else if (e.name == "response.content_part.added") {
      Item* item = open_item(d);
      CHECK(item->type == "message");
      CHECK_THAT(at(d, "/content_index"), IsJson("0"));
      CHECK(str(at(d, "/part/type")) == "output_text");
      CHECK(str(at(d, "/part/text")) == "");
    } else if (e.name == "response.output_text.delta") {
      Item* item = open_item(d);
      CHECK(item->type == "message");
      CHECK_THAT(at(d, "/content_index"), IsJson("0"));
      item->text += str(at(d, "/delta"));
    } else if (e.name == "response.output_text.done") {
      Item* item = open_item(d);
      CHECK_THAT(at(d, "/content_index"), IsJson("0"));
      item->text_done = str(at(d, "/text"));
    } else if (e.name == "response.content_part.done") {
      Item* item = open_item(d);
      CHECK_THAT(at(d, "/content_index"), IsJson("0"));
      CHECK(str(at(d, "/part/type")) == "output_text");
      CHECK(str(at(d, "/part/text")) == item->text);
    } else if (e.name == "response.function_call_arguments.delta") {
      Item* item = open_item(d);
      CHECK(item->type == "function_call");
      item->arguments += str(at(d, "/delta"));
    } else if (e.name == "response.function_call_arguments.done") {
      Item* item = open_item(d);
      CHECK(item->type == "function_call");
      item->arguments_done = str(at(d, "/arguments"));
    } else if (e.name == "response.reasoning_summary_part.added" ||
               e.name == "response.reasoning_summary_part.done") {
      Item* item = open_item(d);
      CHECK(item->type == "reasoning");
      CHECK_THAT(at(d, "/summary_index"), IsJson("0"));
      CHECK(str(at(d, "/part/type")) == "summary_text");
    } else if (e.name == "response.reasoning_summary_text.delta") {
      Item* item = open_item(d);
      CHECK(item->type == "reasoning");
      CHECK_THAT(at(d, "/summary_index"), IsJson("0"));
      item->summary += str(at(d, "/delta"));
    } else if (e.name == "response.reasoning_summary_text.done") {
      Item* item = open_item(d);
      CHECK_THAT(at(d, "/summary_index"), IsJson("0"));
      item->summary_done = str(at(d, "/text"));
    } else if (e.name == "response.output_item.done") {
      REQUIRE(!items.empty());
      CHECK_THAT(at(d, "/output_index"), IsJson(std::to_string(items.size() - 1)));
      CHECK(str(at(d, "/item/id")) == items.back().id);
      CHECK(str(at(d, "/item/type")) == items.back().type);
      CHECK_FALSE(items.back().done);
      items.back().done = true;
      items.back().done_item = keygate::to_json(at(d, "/item"));
    } else if (e.name == "response.completed" || e.name == "response.incomplete") {
      for (const auto& item : items) {
        CHECK(item.done);
      }
    }
  }
  return items;
}

// A stream fed through one writer in pieces of `piece` bytes (0: all at once).
std::string feed_all(const std::string& bytes, std::size_t piece = 0, bool* finished = nullptr) {
  ResponsesStreamWriter writer(echo_of());
  std::string out;
  if (piece == 0) {
    auto r = writer.feed(bytes, out);
    if (!r.has_value()) {
      FAIL("feed failed: " << r.error().message);
    }
  } else {
    for (std::size_t pos = 0; pos < bytes.size(); pos += piece) {
      auto r = writer.feed(std::string_view(bytes).substr(pos, piece), out);
      if (!r.has_value()) {
        FAIL("feed failed at byte " << pos << ": " << r.error().message);
      }
    }
  }
  if (finished != nullptr) {
    *finished = writer.finished();
  }
  return out;
}

// The events of a whole stream fed at once.
std::vector<Event> convert(const std::string& bytes, bool* finished = nullptr) {
  return events_of(feed_all(bytes, 0, finished));
}

// Events as comparable lines.
std::vector<std::string> lines_of(const std::string& out) {
  std::vector<std::string> lines;
  for (const auto& e : events_of(out)) {
    lines.push_back(e.name + " " + keygate::to_json(e.data));
  }
  return lines;
}

// (frame, chunk, usage_chunk, kDone: tests/providers/json_checks.hpp)

std::string text_stream() {
  return chunk(R"({"role":"assistant","content":""})") + chunk(R"({"content":"Hel"})") +
         chunk(R"({"content":"lo, "})") + chunk(R"({"content":"world"})") +
         chunk("{}", R"("stop")") + usage_chunk(5, 3) + kDone;
}

std::string tool_call_delta(int index, const std::string& fields) {
  return R"({"tool_calls":[{"index":)" + std::to_string(index) + "," + fields + "}]}";
}

std::string two_tool_stream() {
  return chunk(R"({"role":"assistant","content":null})") +
         chunk(tool_call_delta(
             0,
             R"("id":"call_1","type":"function","function":{"name":"get_weather","arguments":""})")) +
         chunk(tool_call_delta(0, R"("function":{"arguments":"{\"city\":"})")) +
         chunk(tool_call_delta(0, R"("function":{"arguments":"\"Paris\"}"})")) +
         chunk(tool_call_delta(
             1,
             R"("id":"call_2","type":"function","function":{"name":"get_time","arguments":""})")) +
         chunk(tool_call_delta(1, R"("function":{"arguments":"{\"tz\":"})")) +
         chunk(tool_call_delta(1, R"("function":{"arguments":"\"CET\"}"})")) +
         chunk("{}", R"("tool_calls")") + usage_chunk(20, 10) + kDone;
}

std::string reasoning_stream() {
  return chunk(R"({"role":"assistant","content":""})") +
         chunk(R"({"reasoning_content":"Rayleigh "})") +
         chunk(R"({"reasoning_content":"scattering."})") + chunk(R"({"content":"Blue"})") +
         chunk(R"({"content":"."})") + chunk("{}", R"("stop")") + usage_chunk(4, 6) + kDone;
}

}  // namespace

// =============================================================================================
// responses_to_chat_request

TEST_CASE("responses inbound: a string input is one user message", "[responses]") {
  // Guards against the simplest request (responses.create(model, input="...")) losing its model
  // or text, or turning on streaming.
  auto t = translate(R"({"model":"gpt-4o-mini","input":"Hello"})");
  CHECK_FALSE(t.stream);
  auto d = parse(t.chat_request);
  CHECK(str(at(d, "/model")) == "gpt-4o-mini");
  REQUIRE(at(d, "/messages").IsArray());
  REQUIRE(at(d, "/messages").Size() == 1);
  CHECK(str(at(d, "/messages/0/role")) == "user");
  CHECK(content_text(at(d, "/messages/0/content")) == "Hello");
  CHECK((!has(d, "/stream") || at(d, "/stream").IsFalse()));
  CHECK_FALSE(has(d, "/input"));
}

TEST_CASE("responses inbound: message items keep their roles, developer becoming system",
          "[responses]") {
  // Guards against a role dropped or passed as "developer" (which most chat providers refuse),
  // and against items reordered.
  auto d = chat(request_with(
      R"("input":[{"type":"message","role":"system","content":"S"},)"
      R"({"type":"message","role":"developer","content":"D"},)"
      R"({"type":"message","role":"user","content":[{"type":"input_text","text":"U"}]},)"
      R"({"type":"message","role":"assistant","content":"A"},)"
      R"({"type":"message","role":"user","content":"U2"}])"));
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 5);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"system", "S"}, {"system", "D"}, {"user", "U"}, {"assistant", "A"}, {"user", "U2"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("message " << i);
    CHECK(str(at(messages[i], "/role")) == expected[i].first);
    CHECK(content_text(at(messages[i], "/content")) == expected[i].second);
  }
}

TEST_CASE("responses inbound: a message item without a type is a message", "[responses]") {
  // Guards against refusing the SDKs' EasyInputMessage ({"role","content"} with no "type"), the
  // most common shape of an input list.
  auto d = chat(request_with(R"("input":[{"role":"user","content":"hi"}])"));
  REQUIRE(at(d, "/messages").IsArray());
  REQUIRE(at(d, "/messages").Size() == 1);
  CHECK(str(at(d, "/messages/0/role")) == "user");
  CHECK(content_text(at(d, "/messages/0/content")) == "hi");
}

TEST_CASE("responses inbound: input_text, input_image and input_file become chat content parts",
          "[responses]") {
  // Guards against images or files lost or left in the Responses shape (a chat provider does not
  // know input_image), the image's detail dropped, or the parts reordered.
  auto d = chat(request_with(
      R"("input":[{"type":"message","role":"user","content":[)"
      R"({"type":"input_text","text":"Compare"},)"
      R"({"type":"input_image","image_url":"https://example.com/cat.png","detail":"high"},)"
      R"({"type":"input_file","file_data":"data:application/pdf;base64,JVBERi0x",)"
      R"("filename":"report.pdf"},)"
      R"({"type":"input_text","text":"please"}]}])"));
  CHECK_THAT(at(d, "/messages"),
             IsJson(R"([{"role":"user","content":[)"
                    R"({"type":"text","text":"Compare"},)"
                    R"({"type":"image_url","image_url":)"
                    R"({"url":"https://example.com/cat.png","detail":"high"}},)"
                    R"({"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0x",)"
                    R"("filename":"report.pdf"}},)"
                    R"({"type":"text","text":"please"}]}])"));
}

TEST_CASE("responses inbound: an assistant message's output_text parts become its content",
          "[responses]") {
  // Guards against an earlier answer, sent back as the SDK returned it (output_text parts with
  // annotations, an id and a status), refused or sent in the Responses shape.
  auto d = chat(request_with(
      R"("input":[{"role":"user","content":"hi"},)"
      R"({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[)"
      R"({"type":"output_text","text":"Hello!","annotations":[]}]},)"
      R"({"role":"user","content":"bye"}])"));
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 3);
  CHECK(str(at(messages, "/1/role")) == "assistant");
  CHECK(content_text(at(messages, "/1/content")) == "Hello!");
  CHECK_FALSE(has(messages, "/1/id"));
  CHECK_FALSE(has(messages, "/1/status"));
}

TEST_CASE("responses inbound: a function_call after an assistant message joins it", "[responses]") {
  // Guards against a tool call sent as a separate assistant message after the text (providers
  // then see two assistant turns), its call_id replaced by the item's id, and its output not
  // becoming a tool message with that call_id.
  auto d = chat(request_with(
      R"("input":[{"role":"user","content":"Weather in Paris?"},)"
      R"({"type":"message","role":"assistant","content":[{"type":"output_text","text":"Let me check."}]},)"
      R"({"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather",)"
      R"("arguments":"{\"city\":\"Paris\"}","status":"completed"},)"
      R"({"type":"function_call_output","call_id":"call_1","output":"15C"}])"));
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 3);
  CHECK(str(at(messages, "/1/role")) == "assistant");
  CHECK(content_text(at(messages, "/1/content")) == "Let me check.");
  CHECK_THAT(at(messages, "/1/tool_calls"),
             IsJson(R"([{"id":"call_1","type":"function","function":{"name":"get_weather",)"
                    R"("arguments":"{\"city\":\"Paris\"}"}}])"));
  CHECK(str(at(messages, "/2/role")) == "tool");
  CHECK(str(at(messages, "/2/tool_call_id")) == "call_1");
  CHECK(content_text(at(messages, "/2/content")) == "15C");
}

TEST_CASE("responses inbound: consecutive function_calls are one assistant message",
          "[responses]") {
  // Guards against parallel tool calls split into two assistant messages (OpenAI then refuses the
  // first, whose tool_calls are not all answered before the next assistant message).
  auto d = chat(request_with(
      R"("input":[{"role":"user","content":"Weather and time?"},)"
      R"({"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{}"},)"
      R"({"type":"function_call","call_id":"call_2","name":"get_time","arguments":"{\"tz\":\"CET\"}"},)"
      R"({"type":"function_call_output","call_id":"call_1","output":"15C"},)"
      R"({"type":"function_call_output","call_id":"call_2","output":"noon"}])"));
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 4);
  CHECK(str(at(messages, "/0/role")) == "user");
  CHECK(str(at(messages, "/1/role")) == "assistant");
  CHECK(null_or_absent(messages, "/1/content"));
  CHECK_THAT(at(messages, "/1/tool_calls"),
             IsJson(R"([{"id":"call_1","type":"function","function":{"name":"get_weather",)"
                    R"("arguments":"{}"}},)"
                    R"({"id":"call_2","type":"function","function":{"name":"get_time",)"
                    R"("arguments":"{\"tz\":\"CET\"}"}}])"));
  CHECK(str(at(messages, "/2/role")) == "tool");
  CHECK(str(at(messages, "/2/tool_call_id")) == "call_1");
  CHECK(content_text(at(messages, "/2/content")) == "15C");
  CHECK(str(at(messages, "/3/role")) == "tool");
  CHECK(str(at(messages, "/3/tool_call_id")) == "call_2");
  CHECK(content_text(at(messages, "/3/content")) == "noon");
}

TEST_CASE("responses inbound: a function_call_output is a tool message", "[responses]") {
  // Guards against a tool result sent as user text or without its call id.
  auto d = chat(request_with(
      R"("input":[{"role":"user","content":"x"},)"
      R"({"type":"function_call","call_id":"call_9","name":"f","arguments":"{}"},)"
      R"({"type":"function_call_output","call_id":"call_9","output":"{\"ok\":true}"}])"));
  CHECK_THAT(at(d, "/messages/2"),
             IsJson(R"({"role":"tool","tool_call_id":"call_9","content":"{\"ok\":true}"})"));
}

TEST_CASE("responses inbound: instructions become the first, system message", "[responses]") {
  // Guards against instructions dropped (the agent's whole system prompt) or placed after the
  // conversation.
  auto d = chat(request_with(R"("instructions":"Be brief.",)"
                             R"("input":[{"role":"developer","content":"D"},)"
                             R"({"role":"user","content":"hi"}])"));
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 3);
  CHECK(str(at(messages, "/0/role")) == "system");
  CHECK(content_text(at(messages, "/0/content")) == "Be brief.");
  CHECK(str(at(messages, "/1/role")) == "system");
  CHECK(content_text(at(messages, "/1/content")) == "D");
  CHECK(str(at(messages, "/2/role")) == "user");
  CHECK_FALSE(has(d, "/instructions"));

  auto s = chat(request_with(R"("instructions":"Be kind.","input":"hi")"));
  CHECK_THAT(at(s, "/messages/0"), IsJson(R"({"role":"system","content":"Be kind."})"));
  CHECK(str(at(s, "/messages/1/role")) == "user");
}

TEST_CASE("responses inbound: max_output_tokens becomes max_completion_tokens", "[responses]") {
  // Guards against the client's output limit dropped or left under its Responses name.
  auto d = chat(request_with(R"("input":"hi","max_output_tokens":100)"));
  CHECK_THAT(at(d, "/max_completion_tokens"), IsJson("100"));
  CHECK_FALSE(has(d, "/max_output_tokens"));
  CHECK_FALSE(has(d, "/max_tokens"));
}

TEST_CASE("responses inbound: temperature, top_p, parallel_tool_calls and user are kept",
          "[responses]") {
  // Guards against sampling settings or the end-user id silently dropped.
  auto d = chat(request_with(R"("input":"hi","temperature":0.5,"top_p":0.9,)"
                             R"("parallel_tool_calls":false,"user":"user-42")"));
  CHECK_THAT(at(d, "/temperature"), IsJson("0.5"));
  CHECK_THAT(at(d, "/top_p"), IsJson("0.9"));
  CHECK_THAT(at(d, "/parallel_tool_calls"), IsJson("false"));
  CHECK_THAT(at(d, "/user"), IsJson(R"("user-42")"));
}

TEST_CASE("responses inbound: function tools become chat tools", "[responses]") {
  // Guards against tools left in the flat Responses shape (name at the top), which chat providers
  // refuse, or strict and description lost.
  auto d = chat(request_with(
      R"("input":"hi","tools":[{"type":"function","name":"get_weather",)"
      R"("description":"Weather for a city","parameters":{"type":"object",)"
      R"("properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}])"));
  CHECK_THAT(at(d, "/tools"),
             IsJson(R"([{"type":"function","function":{"name":"get_weather",)"
                    R"("description":"Weather for a city","parameters":{"type":"object",)"
                    R"("properties":{"city":{"type":"string"}},"required":["city"]},)"
                    R"("strict":true}}])"));
}

TEST_CASE("responses inbound: tool_choice maps to chat's tool_choice", "[responses]") {
  // Guards against a named tool choice left in the Responses shape ({"type","name"}), which chat
  // providers refuse, and the string choices changed.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("none")", R"("none")"},
      {R"("auto")", R"("auto")"},
      {R"("required")", R"("required")"},
      {R"({"type":"function","name":"get_weather"})",
       R"({"type":"function","function":{"name":"get_weather"}})"},
  };
  for (const auto& [choice, expected] : cases) {
    INFO(choice);
    auto d = chat(request_with(R"("input":"hi","tools":[{"type":"function","name":"get_weather",)"
                               R"("parameters":{"type":"object"}}],"tool_choice":)" +
                               choice));
    CHECK_THAT(at(d, "/tool_choice"), IsJson(expected));
  }
}

TEST_CASE("responses inbound: text.format becomes response_format", "[responses]") {
  // Guards against structured output lost (the client then parses free text as JSON) or the
  // schema left flat where chat wants it under json_schema.
  auto schema = chat(request_with(
      R"("input":"hi","text":{"format":{"type":"json_schema","name":"answer",)"
      R"("schema":{"type":"object","properties":{"a":{"type":"string"}}},"strict":true}})"));
  CHECK_THAT(at(schema, "/response_format"),
             IsJson(R"({"type":"json_schema","json_schema":{"name":"answer",)"
                    R"("schema":{"type":"object","properties":{"a":{"type":"string"}}},)"
                    R"("strict":true}})"));
  CHECK_FALSE(has(schema, "/text"));

  auto object = chat(request_with(R"("input":"hi","text":{"format":{"type":"json_object"}})"));
  CHECK_THAT(at(object, "/response_format"), IsJson(R"({"type":"json_object"})"));

  auto verbosity = chat(request_with(R"("input":"hi","text":{"verbosity":"low"})"));
  CHECK_THAT(at(verbosity, "/verbosity"), IsJson(R"("low")"));
}

TEST_CASE("responses inbound: reasoning.effort becomes reasoning_effort", "[responses]") {
  // Guards against a reasoning model's effort dropped (it then thinks at its default).
  auto d = chat(request_with(R"("input":"hi","reasoning":{"effort":"high","summary":"auto"})"));
  CHECK_THAT(at(d, "/reasoning_effort"), IsJson(R"("high")"));
}

TEST_CASE("responses inbound: a streamed request asks for usage", "[responses]") {
  // Guards against a stream whose response.completed has no usage, or a stream request answered
  // as a whole.
  auto t = translate(request_with(R"("input":"hi","stream":true)"));
  CHECK(t.stream);
  auto d = parse(t.chat_request);
  CHECK_THAT(at(d, "/stream"), IsJson("true"));
  CHECK_THAT(at(d, "/stream_options/include_usage"), IsJson("true"));
}

TEST_CASE("responses inbound: reasoning items sent back are left out", "[responses]") {
  // Guards against a 400 for an agent (Codex) that sends its previous reasoning items back, or
  // those items reaching a chat provider as messages.
  auto d = chat(request_with(
      R"("input":[{"role":"user","content":"hi"},)"
      R"({"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"hmm"}],)"
      R"("encrypted_content":"gAAAA"},)"
      R"({"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hello"}]},)"
      R"({"role":"user","content":"bye"}])"));
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 3);
  CHECK(str(at(messages, "/0/role")) == "user");
  CHECK(str(at(messages, "/1/role")) == "assistant");
  CHECK(content_text(at(messages, "/1/content")) == "Hello");
  CHECK(str(at(messages, "/2/role")) == "user");
  CHECK(keygate::to_json(messages).find("hmm") == std::string::npos);
}

TEST_CASE("responses inbound: Claude's thinking blocks go out and come back in encrypted_content",
          "[responses]") {
  // Guards against Claude's signed thinking lost between turns: keygate puts it in a reasoning
  // item's encrypted_content, and a client sending that item back must get it to the next
  // assistant turn as thinking_blocks (Claude refuses a tool result whose turn lost them).
  const std::string blocks = R"([{"type":"thinking","thinking":"hmm","signature":"c2ln"}])";
  auto r = response(completion(
      R"({"role":"assistant","content":null,"reasoning_content":"hmm","thinking_blocks":)" +
          blocks +
          R"(,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]})",
      R"("tool_calls")"));
  INFO(keygate::to_json(at(r, "/output")));
  CHECK(str(at(r, "/output/0/type")) == "reasoning");
  const std::string sealed = str(at(r, "/output/0/encrypted_content"));
  REQUIRE(sealed.starts_with(keygate::providers::kThinkingBlocksPrefix));

  // The client sends the reasoning item back before its function_call, as Codex does.
  rapidjson::Document item(rapidjson::kObjectType);
  item.CopyFrom(at(r, "/output/0"), item.GetAllocator());
  auto d = chat(
      request_with(R"("input":[{"role":"user","content":"hi"},)" + keygate::to_json(item) +
                   R"(,{"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"},)"
                   R"({"type":"function_call_output","call_id":"call_1","output":"ok"}])"));
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 3);
  CHECK(str(at(messages, "/1/role")) == "assistant");
  CHECK(str(at(messages, "/1/tool_calls/0/id")) == "call_1");
  CHECK_THAT(at(messages, "/1/thinking_blocks"), IsJson(blocks));
  CHECK_FALSE(has(messages, "/0/thinking_blocks"));
  CHECK_FALSE(has(messages, "/2/thinking_blocks"));
}

TEST_CASE("responses inbound: the echo holds the identity and the settings to repeat",
          "[responses]") {
  // Guards against a Response missing the id keygate gave it, or the request's settings it must
  // repeat, and against "store" saying true when keygate keeps nothing.
  auto t = translate(request_with(
      R"("input":"hi","instructions":"Be brief.","store":true,"metadata":{"k":"v"},)"
      R"("tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}])"));
  auto echo = parse(t.echo);
  CHECK(str(at(echo, "/id")) == "resp_test123");
  CHECK_THAT(at(echo, "/created_at"), IsJson("1700000123"));
  CHECK(str(at(echo, "/instructions")) == "Be brief.");
  REQUIRE(at(echo, "/tools").IsArray());
  CHECK(at(echo, "/tools").Size() == 1);
  CHECK_THAT(at(echo, "/metadata"), IsJson(R"({"k":"v"})"));
  CHECK_THAT(at(echo, "/store"), IsJson("false"));
}

TEST_CASE("responses inbound: settings accepted without effect do not refuse the request",
          "[responses]") {
  // Guards against a 400 for what the SDKs and agents send on every request (include, store,
  // prompt_cache_key, ...) and for the stateless values of the refused fields.
  auto d =
      chat(request_with(R"("input":"hi","include":["reasoning.encrypted_content"],"store":false,)"
                        R"("service_tier":"auto","prompt_cache_key":"k","safety_identifier":"s",)"
                        R"("stream_options":{"include_obfuscation":false},"truncation":"disabled",)"
                        R"("previous_response_id":null,"background":false,"metadata":{"a":"b"})"));
  CHECK(str(at(d, "/model")) == "gpt-4o-mini");
  CHECK(str(at(d, "/messages/0/role")) == "user");
  CHECK_FALSE(has(d, "/previous_response_id"));
  CHECK_FALSE(has(d, "/include"));
  CHECK_FALSE(has(d, "/truncation"));
}

// ---------------------------------------------------------------------------------------------
// Refusals

TEST_CASE("responses inbound: a missing or empty model is a 400 naming model", "[responses]") {
  // Guards against a request with no model routed somewhere arbitrary.
  require_400(R"({"input":"hi"})", "model");
  require_400(R"({"model":"","input":"hi"})", "model");
  require_400(R"({"model":7,"input":"hi"})", "model");
}

TEST_CASE("responses inbound: a missing or mistyped input is a 400 naming input", "[responses]") {
  // Guards against an empty conversation sent to a provider, or a crash on an odd input.
  require_400(R"({"model":"gpt-4o-mini"})", "input");
  require_400(R"({"model":"gpt-4o-mini","input":5})", "input");
  require_400(R"({"model":"gpt-4o-mini","input":{"role":"user","content":"hi"}})", "input");
  require_400(R"({"model":"gpt-4o-mini","input":null})", "input");
}

TEST_CASE("responses inbound: items keygate cannot carry are a 400 naming the item",
          "[responses]") {
  // Guards against a reference to a stored item (keygate stores none) or an unknown item silently
  // dropped, changing the conversation the model sees.
  require_400(request_with(R"("input":[{"role":"user","content":"hi"},)"
                           R"({"type":"item_reference","id":"msg_123"}])"),
              "input[1]");
  require_400(request_with(R"("input":[{"type":"no_such_item","text":"x"}])"), "input[0]");
  require_400(request_with(R"("input":[{"role":"user","content":"hi"},)"
                           R"({"type":"web_search_call","id":"ws_1","status":"completed"}])"),
              "input[1]");
}

TEST_CASE("responses inbound: stateful features are a 400 naming the field", "[responses]") {
  // Guards against keygate pretending to continue a stored conversation it does not have, or to
  // run a background job, and answering without the context the client relies on.
  require_400(request_with(R"("input":"hi","previous_response_id":"resp_abc")"),
              "previous_response_id");
  require_400(request_with(R"("input":"hi","conversation":"conv_abc")"), "conversation");
  require_400(request_with(R"("input":"hi","conversation":{"id":"conv_abc"})"), "conversation");
  require_400(request_with(R"("input":"hi","background":true)"), "background");
  require_400(request_with(R"("input":"hi","prompt":{"id":"pmpt_abc","version":"2"})"), "prompt");
}

TEST_CASE("responses inbound: OpenAI's hosted tools are a 400 naming the tool", "[responses]") {
  // Guards against a hosted tool dropped (the model then answers without searching and the client
  // believes it searched) or sent to a chat provider that cannot run it. The refusal is for the
  // tool's kind, not some missing field of it: a named tool that is not a function (Codex's
  // custom apply_patch tool) is refused too.
  const std::string function_tool =
      R"({"type":"function","name":"f","parameters":{"type":"object"}})";
  for (const std::string& tool : {
           std::string(R"({"type":"web_search"})"),
           std::string(R"({"type":"web_search_preview"})"),
           std::string(R"({"type":"file_search","vector_store_ids":["vs_1"]})"),
           std::string(R"({"type":"code_interpreter","container":{"type":"auto"}})"),
           std::string(R"({"type":"mcp","server_label":"docs","server_url":"https://x.test"})"),
           std::string(R"({"type":"custom","name":"apply_patch","description":"Edit files"})"),
       }) {
    for (const auto& [tools, param] :
         {std::pair{"[" + function_tool + "," + tool + "]", std::string("tools[1]")},
          std::pair{"[" + tool + "]", std::string("tools[0]")}}) {
      require_400(request_with(R"("input":"hi","tools":)" + tools), param);
      auto r =
          responses_to_chat_request(request_with(R"("input":"hi","tools":)" + tools), kIdentity);
      REQUIRE_FALSE(r.has_value());
      INFO("tool: " << tool << " param: " << r.error().param);
      CHECK((r.error().param == param || r.error().param == param + ".type"));
    }
  }
}

TEST_CASE("responses inbound: top_logprobs, max_tool_calls and truncation auto are a 400",
          "[responses]") {
  // Guards against settings keygate cannot honour being silently ignored.
  require_400(request_with(R"("input":"hi","top_logprobs":5)"), "top_logprobs");
  require_400(request_with(R"("input":"hi","max_tool_calls":3)"), "max_tool_calls");
  require_400(request_with(R"("input":"hi","truncation":"auto")"), "truncation");
}

TEST_CASE("responses inbound: a bad max_output_tokens is a 400 naming it", "[responses]") {
  // Guards against a zero, negative or quoted limit reaching a provider.
  require_400(request_with(R"("input":"hi","max_output_tokens":0)"), "max_output_tokens");
  require_400(request_with(R"("input":"hi","max_output_tokens":-3)"), "max_output_tokens");
  require_400(request_with(R"("input":"hi","max_output_tokens":"10")"), "max_output_tokens");
}

TEST_CASE("responses inbound: images and files by file_id alone are a 400", "[responses]") {
  // Guards against a reference into OpenAI's file store (which keygate cannot read) dropped,
  // leaving the model to answer about an image or file it never saw.
  require_400(request_with(R"("input":[{"role":"user","content":[)"
                           R"({"type":"input_text","text":"What is this?"},)"
                           R"({"type":"input_image","file_id":"file-abc","detail":"auto"}]}])"),
              "input[0]");
  require_400(request_with(R"("input":[{"role":"user","content":[)"
                           R"({"type":"input_file","file_id":"file-abc"}]}])"),
              "input[0]");
}

TEST_CASE("responses inbound: a body that is not a JSON object is a 400", "[responses]") {
  // Guards against a crash or a routed request on garbage.
  for (const char* body : {"not json", "[]", R"("just a string")", "", "{"}) {
    INFO("body: " << body);
    auto r = responses_to_chat_request(body, kIdentity);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
    CHECK(r.error().type == "invalid_request_error");
  }
}

// =============================================================================================
// chat_to_response

TEST_CASE("responses inbound: a text answer is a completed Response with one message",
          "[responses]") {
  // Guards against a Response the SDK cannot read: the text outside an output_text part, status
  // not "completed", usage under chat's names or its cached and reasoning details lost.
  auto r = response(completion(
      R"({"role":"assistant","content":"Hi there"})", R"("stop")",
      R"({"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,)"
      R"("prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":1}})"));
  CHECK(str(at(r, "/object")) == "response");
  CHECK(str(at(r, "/status")) == "completed");
  CHECK(null_or_absent(r, "/error"));
  CHECK(null_or_absent(r, "/incomplete_details"));
  CHECK(at(r, "/model").IsString());
  const auto& output = at(r, "/output");
  INFO(keygate::to_json(output));
  REQUIRE(output.IsArray());
  REQUIRE(output.Size() == 1);
  CHECK(str(at(output, "/0/type")) == "message");
  CHECK(str(at(output, "/0/role")) == "assistant");
  CHECK(str(at(output, "/0/status")) == "completed");
  CHECK_FALSE(str(at(output, "/0/id")).empty());
  REQUIRE(at(output, "/0/content").IsArray());
  REQUIRE(at(output, "/0/content").Size() == 1);
  CHECK(str(at(output, "/0/content/0/type")) == "output_text");
  CHECK(str(at(output, "/0/content/0/text")) == "Hi there");
  CHECK(at(output, "/0/content/0/annotations").IsArray());
  CHECK_THAT(at(r, "/usage"),
             IsJson(R"({"input_tokens":9,"input_tokens_details":{"cached_tokens":4},)"
                    R"("output_tokens":3,"output_tokens_details":{"reasoning_tokens":1},)"
                    R"("total_tokens":12})"));
}

TEST_CASE("responses inbound: a Response carries its identity and the repeated settings",
          "[responses]") {
  // Guards against a Response whose id is not the one keygate assigned (logs and the client would
  // disagree), a missing created_at, "store" not false, or the request's settings not repeated
  // (the SDK reads instructions, tools and metadata back from the Response).
  auto r =
      response(completion(R"({"role":"assistant","content":"ok"})"),
               request_with(R"("input":"hi","instructions":"Be brief.","metadata":{"k":"v"},)"
                            R"("temperature":0.5,"max_output_tokens":100,"tool_choice":"auto",)"
                            R"("tools":[{"type":"function","name":"get_weather",)"
                            R"("parameters":{"type":"object"}}])"));
  CHECK(str(at(r, "/id")) == "resp_test123");
  CHECK_THAT(at(r, "/created_at"), IsJson("1700000123"));
  CHECK(str(at(r, "/object")) == "response");
  CHECK_THAT(at(r, "/store"), IsJson("false"));
  CHECK(str(at(r, "/instructions")) == "Be brief.");
  CHECK_THAT(at(r, "/metadata"), IsJson(R"({"k":"v"})"));
  CHECK_THAT(at(r, "/temperature"), IsJson("0.5"));
  CHECK_THAT(at(r, "/max_output_tokens"), IsJson("100"));
  CHECK_THAT(at(r, "/tool_choice"), IsJson(R"("auto")"));
  // The Response repeats the tools in the Responses shape the client sent.
  CHECK(str(at(r, "/tools/0/type")) == "function");
  CHECK(str(at(r, "/tools/0/name")) == "get_weather");
}

TEST_CASE("responses inbound: tool calls become function_call items", "[responses]") {
  // Guards against tool calls dropped, their call_id replaced, or their arguments parsed into an
  // object (the Responses item holds them as a JSON string).
  auto r = response(completion(
      R"({"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"get_weather",)"
      R"("arguments":"{\"city\":\"Paris\"}"}},)"
      R"({"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]})",
      R"("tool_calls")"));
  CHECK(str(at(r, "/status")) == "completed");
  const auto& output = at(r, "/output");
  INFO(keygate::to_json(output));
  REQUIRE(output.IsArray());
  REQUIRE(output.Size() == 2);
  const std::vector<std::tuple<std::string, std::string, std::string>> expected = {
      {"call_1", "get_weather", R"({"city":"Paris"})"}, {"call_2", "get_time", "{}"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("item " << i);
    const auto& item = output[i];
    CHECK(str(at(item, "/type")) == "function_call");
    CHECK(str(at(item, "/call_id")) == std::get<0>(expected[i]));
    CHECK(str(at(item, "/name")) == std::get<1>(expected[i]));
    CHECK(str(at(item, "/arguments")) == std::get<2>(expected[i]));
    CHECK_FALSE(str(at(item, "/id")).empty());
  }
  CHECK(str(at(output, "/0/id")) != str(at(output, "/1/id")));
}

TEST_CASE("responses inbound: text with a tool call is a message then a function_call",
          "[responses]") {
  // Guards against the text lost when the answer also calls a tool.
  auto r = response(
      completion(R"({"role":"assistant","content":"Let me check.","tool_calls":[)"
                 R"({"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]})",
                 R"("tool_calls")"));
  const auto& output = at(r, "/output");
  INFO(keygate::to_json(output));
  REQUIRE(output.IsArray());
  REQUIRE(output.Size() == 2);
  CHECK(str(at(output, "/0/type")) == "message");
  CHECK(str(at(output, "/0/content/0/text")) == "Let me check.");
  CHECK(str(at(output, "/1/type")) == "function_call");
  CHECK(str(at(output, "/1/call_id")) == "call_1");
}

TEST_CASE("responses inbound: reasoning_content becomes a reasoning item first", "[responses]") {
  // Guards against a provider's reasoning lost, mixed into the answer's text, or placed after it.
  auto r = response(completion(
      R"({"role":"assistant","content":"Blue.","reasoning_content":"Rayleigh scattering."})"));
  const auto& output = at(r, "/output");
  INFO(keygate::to_json(output));
  REQUIRE(output.IsArray());
  REQUIRE(output.Size() == 2);
  CHECK(str(at(output, "/0/type")) == "reasoning");
  CHECK_FALSE(str(at(output, "/0/id")).empty());
  CHECK_THAT(at(output, "/0/summary"),
             IsJson(R"([{"type":"summary_text","text":"Rayleigh scattering."}])"));
  CHECK(str(at(output, "/1/type")) == "message");
  CHECK(str(at(output, "/1/content/0/text")) == "Blue.");
  CHECK(str(at(output, "/0/id")) != str(at(output, "/1/id")));
}

TEST_CASE("responses inbound: a cut answer is an incomplete Response", "[responses]") {
  // Guards against an answer cut by its token limit or a content filter reported as completed.
  auto length = response(completion(R"({"role":"assistant","content":"Hal"})", R"("length")"));
  CHECK(str(at(length, "/status")) == "incomplete");
  CHECK_THAT(at(length, "/incomplete_details"), IsJson(R"({"reason":"max_output_tokens"})"));
  CHECK(str(at(length, "/output/0/content/0/text")) == "Hal");

  auto filtered =
      response(completion(R"({"role":"assistant","content":"x"})", R"("content_filter")"));
  CHECK(str(at(filtered, "/status")) == "incomplete");
  CHECK_THAT(at(filtered, "/incomplete_details"), IsJson(R"({"reason":"content_filter"})"));
}

TEST_CASE("responses inbound: an answer without choices, or not JSON, is a 502", "[responses]") {
  // Guards against an empty Response (or a crash) for an upstream answer that is not a
  // chat.completion.
  const std::string echo = echo_of();
  for (const char* body : {
           "not json",
           "",
           "[]",
           "{}",
           R"({"id":"x","object":"chat.completion","model":"m","choices":[]})",
           R"({"id":"x","object":"chat.completion","model":"m","choices":"nope"})",
       }) {
    INFO("body: " << body);
    auto r = chat_to_response(body, echo);
    if (r.has_value()) {
      FAIL("accepted: " << *r);
    }
    CHECK(r.error().status == 502);
  }
}

// =============================================================================================
// ResponsesStreamWriter

TEST_CASE("responses inbound stream: a text stream becomes the Responses event sequence",
          "[responses]") {
  // Guards against missing or misordered events, event names that differ from their data's type,
  // gaps in sequence_number, a done text that is not the deltas joined, and a final Response
  // without the message or the usage.
  ResponsesStreamWriter writer(echo_of());
  std::string out;
  const std::string all = text_stream();
  const std::string before_done = all.substr(0, all.size() - kDone.size());
  REQUIRE(writer.feed(before_done, out).has_value());
  CHECK_FALSE(writer.finished());
  REQUIRE(writer.feed(kDone, out).has_value());
  CHECK(writer.finished());

  auto events = events_of(out);
  check_sequence_numbers(events);
  CHECK(names_of(events) ==
        std::vector<std::string>{
            "response.created", "response.in_progress", "response.output_item.added",
            "response.content_part.added", "response.output_text.delta",
            "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
            "response.content_part.done", "response.output_item.done", "response.completed"});
  const auto& created = event_data(events, "response.created");
  CHECK(str(at(created, "/response/id")) == "resp_test123");
  CHECK_THAT(at(created, "/response/created_at"), IsJson("1700000123"));
  CHECK(str(at(created, "/response/object")) == "response");
  CHECK(str(at(created, "/response/status")) == "in_progress");
  CHECK_THAT(at(created, "/response/output"), IsJson("[]"));
  CHECK(str(at(event_data(events, "response.in_progress"), "/response/status")) == "in_progress");

  auto items = items_of(events);
  REQUIRE(items.size() == 1);
  CHECK(items[0].type == "message");
  CHECK(items[0].text == "Hello, world");
  CHECK(items[0].text_done == "Hello, world");
  auto added = parse(items[0].added);
  CHECK(str(at(added, "/role")) == "assistant");
  CHECK(str(at(added, "/status")) == "in_progress");
  CHECK_THAT(at(added, "/content"), IsJson("[]"));
  auto done = parse(items[0].done_item);
  CHECK(str(at(done, "/status")) == "completed");
  CHECK(str(at(done, "/content/0/type")) == "output_text");
  CHECK(str(at(done, "/content/0/text")) == "Hello, world");

  const auto& completed = event_data(events, "response.completed");
  CHECK(str(at(completed, "/response/id")) == "resp_test123");
  CHECK(str(at(completed, "/response/status")) == "completed");
  CHECK_THAT(at(completed, "/response/store"), IsJson("false"));
  const auto& output = at(completed, "/response/output");
  REQUIRE(output.IsArray());
  REQUIRE(output.Size() == 1);
  CHECK_THAT(output[0], IsJson(items[0].done_item));
  CHECK_THAT(at(completed, "/response/usage/input_tokens"), IsJson("5"));
  CHECK_THAT(at(completed, "/response/usage/output_tokens"), IsJson("3"));
  CHECK_THAT(at(completed, "/response/usage/total_tokens"), IsJson("8"));
}

TEST_CASE("responses inbound stream: the events do not depend on how the bytes are split",
          "[responses]") {
  // Guards against a frame split across reads being lost, duplicated or misparsed (network reads
  // cut frames anywhere, including between the two newlines).
  for (const std::string& stream : {text_stream(), two_tool_stream(), reasoning_stream()}) {
    const auto expected = lines_of(feed_all(stream));
    REQUIRE(expected.size() > 5);
    for (std::size_t piece : {std::size_t{7}, std::size_t{1}, std::size_t{2}, std::size_t{64}}) {
      INFO("pieces of " << piece << " bytes");
      bool finished = false;
      CHECK(lines_of(feed_all(stream, piece, &finished)) == expected);
      CHECK(finished);
    }
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {  // two pieces, cut anywhere
      ResponsesStreamWriter writer(echo_of());
      std::string out;
      REQUIRE(writer.feed(std::string_view(stream).substr(0, cut), out).has_value());
      REQUIRE(writer.feed(std::string_view(stream).substr(cut), out).has_value());
      INFO("cut at " << cut);
      CHECK(lines_of(out) == expected);
      CHECK(writer.finished());
    }
  }
}

TEST_CASE("responses inbound stream: finished() is false until the last event", "[responses]") {
  // Guards against the gateway closing the client's stream early (or never).
  ResponsesStreamWriter writer(echo_of());
  CHECK_FALSE(writer.finished());
  std::string out;
  const std::string all = text_stream();
  std::size_t pos = 0;
  while (pos < all.size()) {
    std::size_t end = all.find("\n\n", pos) + 2;
    std::string_view frame_bytes(all.data() + pos, end - pos);
    REQUIRE(writer.feed(frame_bytes, out).has_value());
    pos = end;
    if (pos < all.size()) {
      INFO("after " << frame_bytes);
      CHECK_FALSE(writer.finished());
    }
  }
  CHECK(writer.finished());
  CHECK(names_of(events_of(out)).back() == "response.completed");
}

TEST_CASE("responses inbound stream: two streamed tool calls are two function_call items",
          "[responses]") {
  // Guards against parallel tool calls merged into one item (their arguments concatenated), an
  // item without its call_id or name at output_item.added, and arguments.done not holding the
  // whole arguments.
  bool finished = false;
  auto events = convert(two_tool_stream(), &finished);
  CHECK(finished);
  check_sequence_numbers(events);
  auto names = names_of(events);
  INFO("events: " << Catch::Detail::stringify(names));
  REQUIRE(names.size() >= 4);
  CHECK(names[0] == "response.created");
  CHECK(names[1] == "response.in_progress");
  CHECK(names.back() == "response.completed");
  CHECK(std::count(names.begin(), names.end(), "response.function_call_arguments.done") == 2);
  CHECK(std::count(names.begin(), names.end(), "response.output_text.delta") == 0);

  auto items = items_of(events);
  REQUIRE(items.size() == 2);
  const std::vector<std::tuple<std::string, std::string, std::string>> expected = {
      {"call_1", "get_weather", R"({"city":"Paris"})"}, {"call_2", "get_time", R"({"tz":"CET"})"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("item " << i);
    const auto& [call_id, name, arguments] = expected[i];
    CHECK(items[i].type == "function_call");
    auto added = parse(items[i].added);
    CHECK(str(at(added, "/call_id")) == call_id);
    CHECK(str(at(added, "/name")) == name);
    CHECK(items[i].arguments == arguments);
    CHECK(items[i].arguments_done == arguments);
    auto done = parse(items[i].done_item);
    CHECK(str(at(done, "/call_id")) == call_id);
    CHECK(str(at(done, "/name")) == name);
    CHECK(str(at(done, "/arguments")) == arguments);
  }
  CHECK(items[0].id != items[1].id);

  const auto& completed = event_data(events, "response.completed");
  CHECK(str(at(completed, "/response/status")) == "completed");
  const auto& output = at(completed, "/response/output");
  REQUIRE(output.IsArray());
  REQUIRE(output.Size() == 2);
  CHECK(str(at(output, "/0/type")) == "function_call");
  CHECK(str(at(output, "/0/call_id")) == "call_1");
  CHECK(str(at(output, "/0/arguments")) == R"({"city":"Paris"})");
  CHECK(str(at(output, "/1/type")) == "function_call");
  CHECK(str(at(output, "/1/call_id")) == "call_2");
  CHECK(str(at(output, "/1/arguments")) == R"({"tz":"CET"})");
  CHECK_THAT(at(completed, "/response/usage/input_tokens"), IsJson("20"));
  CHECK_THAT(at(completed, "/response/usage/output_tokens"), IsJson("10"));
}

TEST_CASE("responses inbound stream: reasoning then text are a reasoning item, then a message",
          "[responses]") {
  // Guards against reasoning deltas sent as output text, the reasoning item not first, or the
  // message given the reasoning's output_index.
  auto events = convert(reasoning_stream());
  check_sequence_numbers(events);
  auto items = items_of(events);
  REQUIRE(items.size() == 2);
  CHECK(items[0].type == "reasoning");
  CHECK(items[0].summary == "Rayleigh scattering.");
  CHECK(items[0].summary_done == "Rayleigh scattering.");
  CHECK(items[1].type == "message");
  CHECK(items[1].text == "Blue.");
  CHECK(items[1].text_done == "Blue.");
  auto names = names_of(events);
  INFO("events: " << Catch::Detail::stringify(names));
  CHECK(std::count(names.begin(), names.end(), "response.reasoning_summary_text.delta") == 2);
  CHECK(std::count(names.begin(), names.end(), "response.reasoning_summary_text.done") == 1);
  CHECK(std::count(names.begin(), names.end(), "response.output_text.delta") == 2);

  std::vector<std::string> item_adds;
  for (const auto& e : events) {
    if (e.name == "response.output_item.added") {
      item_adds.push_back(str(at(e.data, "/item/type")) + "@" +
                          keygate::to_json(at(e.data, "/output_index")));
    }
  }
  CHECK(item_adds == std::vector<std::string>{"reasoning@0", "message@1"});

  auto reasoning_done = parse(items[0].done_item);
  CHECK_THAT(at(reasoning_done, "/summary"),
             IsJson(R"([{"type":"summary_text","text":"Rayleigh scattering."}])"));
  const auto& completed = event_data(events, "response.completed");
  const auto& output = at(completed, "/response/output");
  REQUIRE(output.IsArray());
  REQUIRE(output.Size() == 2);
  CHECK(str(at(output, "/0/type")) == "reasoning");
  CHECK(str(at(output, "/1/type")) == "message");
  CHECK(str(at(output, "/1/content/0/text")) == "Blue.");
}

TEST_CASE("responses inbound stream: finish_reason length ends with response.incomplete",
          "[responses]") {
  // Guards against an answer cut by its token limit reported as completed.
  bool finished = false;
  auto events = convert(chunk(R"({"role":"assistant"})") + chunk(R"({"content":"Hal"})") +
                            chunk("{}", R"("length")") + usage_chunk(5, 1) + kDone,
                        &finished);
  CHECK(finished);
  check_sequence_numbers(events);
  auto names = names_of(events);
  INFO("events: " << Catch::Detail::stringify(names));
  REQUIRE_FALSE(names.empty());
  CHECK(names.back() == "response.incomplete");
  CHECK(std::find(names.begin(), names.end(), "response.completed") == names.end());
  const auto& incomplete = events.back().data;
  CHECK(str(at(incomplete, "/response/status")) == "incomplete");
  CHECK_THAT(at(incomplete, "/response/incomplete_details"),
             IsJson(R"({"reason":"max_output_tokens"})"));
  CHECK(str(at(incomplete, "/response/output/0/content/0/text")) == "Hal");
}

TEST_CASE("responses inbound stream: an error frame ends the stream with response.failed",
          "[responses]") {
  // Guards against a failed upstream stream looking like a normal end to the client, the error's
  // message lost, or events after the failure.
  bool finished = false;
  const std::string bytes =
      chunk(R"({"role":"assistant"})") + chunk(R"({"content":"Hel"})") +
      frame(R"({"error":{"message":"boom","type":"server_error","code":"x"}})") +
      chunk(R"({"content":"late"})") + chunk("{}", R"("stop")") + usage_chunk(1, 1) + kDone;
  const std::string out = feed_all(bytes, 0, &finished);
  CHECK(finished);
  auto events = events_of(out);
  check_sequence_numbers(events);
  auto names = names_of(events);
  INFO("events: " << Catch::Detail::stringify(names));
  REQUIRE_FALSE(names.empty());
  CHECK(names.front() == "response.created");
  CHECK(names.back() == "response.failed");
  CHECK(std::count(names.begin(), names.end(), "response.failed") == 1);
  CHECK(std::find(names.begin(), names.end(), "response.completed") == names.end());
  const auto& failed = events.back().data;
  CHECK(str(at(failed, "/response/status")) == "failed");
  // The message, with keygate's code; the code one of the documented set typed clients take.
  CHECK(str(at(failed, "/response/error/message")) == "boom (x)");
  CHECK(str(at(failed, "/response/error/code")) == "server_error");
  // The text streamed before the failure stays in the output, marked incomplete.
  CHECK(str(at(failed, "/response/output/0/status")) == "incomplete");
  CHECK(str(at(failed, "/response/output/0/content/0/text")) == "Hel");
  CHECK(out.find("late") == std::string::npos);

  // A rate limit keeps its code.
  const std::string limited = chunk(R"({"content":"Hel"})") +
                              frame(R"({"error":{"message":"slow down","type":"rate_limit_error",)"
                                    R"("code":"rate_limit_exceeded"}})");
  const auto limited_events = events_of(feed_all(limited, 0, nullptr));
  REQUIRE_FALSE(limited_events.empty());
  CHECK(str(at(limited_events.back().data, "/response/error/code")) == "rate_limit_exceeded");
  CHECK(str(at(limited_events.back().data, "/response/error/message")) == "slow down");
}

TEST_CASE(
    "responses inbound stream: a tool call cut by the token limit is incomplete, and named "
    "at its end",
    "[responses]") {
  // Guards against an agent running a call whose arguments were cut off: the item must not say
  // "completed"; and against arguments.done without the call's name, which typed clients need.
  const auto events = convert(
      chunk(R"({"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function",)"
            R"("function":{"name":"get_weather","arguments":""}}]})") +
      chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Pa"}}]})") +
      chunk("{}", R"("length")") + kDone);
  check_sequence_numbers(events);
  const auto& done = event_data(events, "response.function_call_arguments.done");
  CHECK(str(at(done, "/name")) == "get_weather");
  CHECK(str(at(done, "/arguments")) == R"({"city":"Pa)");
  CHECK(str(at(event_data(events, "response.output_item.done"), "/item/status")) == "incomplete");
  CHECK(str(at(events.back().data, "/response/status")) == "incomplete");

  auto whole = response(completion(
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
      R"("function":{"name":"get_weather","arguments":"{\"city\":\"Pa"}}]})",
      R"("length")"));
  CHECK(str(at(whole, "/output/0/status")) == "incomplete");
}

TEST_CASE("responses inbound: a tool call's id arriving after its first piece names that call",
          "[responses]") {
  // Guards against one call split into two items (the second without a name) by a server that
  // sends the id late.
  const auto events = convert(
      chunk(R"({"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\""}}]})") +
      chunk(R"({"tool_calls":[{"index":0,"id":"call_late","function":{"arguments":":1}"}}]})") +
      chunk("{}", R"("tool_calls")") + kDone);
  const auto& output = at(events.back().data, "/response/output");
  REQUIRE(output.Size() == 1);
  CHECK(str(at(output, "/0/call_id")) == "call_late");
  CHECK(str(at(output, "/0/name")) == "f");
  CHECK(str(at(output, "/0/arguments")) == R"({"a":1})");
}

TEST_CASE("responses inbound: Gemini's thought signature rides on the function_call item and back",
          "[responses]") {
  // Guards against Gemini 3 losing its thought signature between turns (it then gets Google's
  // stand-in, which may cost quality): the item carries the chat call's extra_content, and an
  // item sent back gives it to the chat call again.
  const std::string extra = R"({"google":{"thought_signature":"c2lnLWdlbWluaQ=="}})";
  auto whole = response(completion(
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_g","type":"function",)"
      R"("function":{"name":"f","arguments":"{}"},"extra_content":)" +
          extra + "}]}",
      R"("tool_calls")"));
  CHECK_THAT(at(whole, "/output/0/extra_content"), IsJson(extra));

  const auto events = convert(chunk(R"({"tool_calls":[{"index":0,"id":"call_g","type":"function",)"
                                    R"("function":{"name":"f","arguments":"{}"},"extra_content":)" +
                                    extra + "}]}") +
                              chunk("{}", R"("tool_calls")") + kDone);
  CHECK_THAT(at(events.back().data, "/response/output/0/extra_content"), IsJson(extra));

  auto sent = chat(request_with(
      R"("input":[{"role":"user","content":"hi"},{"type":"function_call","call_id":"call_g",)"
      R"("name":"f","arguments":"{}","extra_content":)" +
      extra + R"(},{"type":"function_call_output","call_id":"call_g","output":"ok"}])"));
  CHECK_THAT(at(sent, "/messages/1/tool_calls/0/extra_content"), IsJson(extra));
}

TEST_CASE("responses inbound: thinking blocks go to the assistant turn right after them only",
          "[responses]") {
  // Guards against Claude's blocks from one turn attached to a later, unrelated assistant turn
  // when a user message comes between.
  const std::string sealed = std::string(keygate::providers::kThinkingBlocksPrefix) +
                             R"([{"type":"thinking","thinking":"t","signature":"s"}])";
  auto sent = chat(request_with(R"("input":[{"type":"reasoning","summary":[],)"
                                R"("encrypted_content":")" +
                                escape(sealed) +
                                R"("},{"role":"user","content":"new question"},)"
                                R"({"role":"assistant","content":"an answer"},)"
                                R"({"role":"user","content":"more"}])"));
  const auto& messages = at(sent, "/messages");
  REQUIRE(messages.Size() == 3);
  CHECK_FALSE(has(messages, "/1/thinking_blocks"));

  require_400(request_with(R"("input":"hi","include":["message.output_text.logprobs"])"),
              "include");
}

TEST_CASE(
    "responses inbound stream: a frame that is not a JSON chunk ends it with "
    "response.failed",
    "[responses]") {
  // Guards against a crash, silently skipped data, or a client left waiting when the upstream's
  // bytes are broken ("data: {not json", "data: [DONE] " with a space, a non-object).
  for (const std::string& prefix : {std::string(), chunk(R"({"role":"assistant"})")}) {
    for (const std::string& bad :
         {std::string("{not json"), std::string("[DONE] "), std::string("null")}) {
      INFO("after: " << prefix << " bad: " << bad);
      ResponsesStreamWriter writer(echo_of());
      std::string out;
      // feed may report the bad bytes as an error too; the events must say so either way.
      (void)writer.feed(prefix + "data: " + bad + "\n\n" + chunk(R"({"content":"late"})"), out);
      CHECK(writer.finished());
      auto events = events_of(out);
      check_sequence_numbers(events);
      auto names = names_of(events);
      INFO("events: " << Catch::Detail::stringify(names));
      REQUIRE_FALSE(names.empty());
      CHECK(names.front() == "response.created");
      CHECK(names.back() == "response.failed");
      CHECK(std::find(names.begin(), names.end(), "response.completed") == names.end());
      CHECK(out.find("late") == std::string::npos);
    }
  }
}

TEST_CASE("responses inbound stream: fail() after the start ends it with response.failed",
          "[responses]") {
  // Guards against a stream the gateway gives up on (upstream timeout, client limit) left without
  // a final event, the error's message lost, or a second final event.
  ResponsesStreamWriter writer(echo_of());
  std::string out;
  REQUIRE(writer.feed(chunk(R"({"role":"assistant"})") + chunk(R"({"content":"Hel"})"), out));
  CHECK_FALSE(writer.finished());
  writer.fail(keygate::Error::upstream_timeout("upstream took too long"), out);
  CHECK(writer.finished());
  auto events = events_of(out);
  check_sequence_numbers(events);
  auto names = names_of(events);
  INFO("events: " << Catch::Detail::stringify(names));
  REQUIRE_FALSE(names.empty());
  CHECK(names.front() == "response.created");
  CHECK(names.back() == "response.failed");
  const auto& failed = events.back().data;
  CHECK(str(at(failed, "/response/id")) == "resp_test123");
  CHECK(str(at(failed, "/response/status")) == "failed");
  CHECK(str(at(failed, "/response/error/message")) == "upstream took too long");
  CHECK(at(failed, "/response/error/code").IsString());

  // Once ended, neither another fail() nor more bytes add anything.
  const std::string before = out;
  writer.fail(keygate::Error::internal("again"), out);
  CHECK(out == before);
  (void)writer.feed(chunk(R"({"content":"late"})") + chunk("{}", R"("stop")") + kDone, out);
  CHECK(out == before);
  CHECK(writer.finished());
}

TEST_CASE("responses inbound stream: fail() before any bytes still ends with response.failed",
          "[responses]") {
  // Guards against a client left with an empty stream when the upstream fails before answering,
  // or given a response.failed without response.created first (the openai SDKs' stream helpers
  // refuse a stream that does not start with response.created).
  ResponsesStreamWriter writer(echo_of());
  std::string out;
  writer.fail(keygate::Error::upstream_unreachable("no route"), out);
  CHECK(writer.finished());
  auto events = events_of(out);
  check_sequence_numbers(events);
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().name == "response.created");
  CHECK(events.back().name == "response.failed");
  CHECK(str(at(events.back().data, "/response/error/message")) == "no route");
}

TEST_CASE("responses inbound stream: bytes fed after the end add nothing", "[responses]") {
  // Guards against events after response.completed (the SDK treats the stream as over and a
  // stray event as a protocol error), or a second response.completed.
  ResponsesStreamWriter writer(echo_of());
  std::string out;
  REQUIRE(writer.feed(text_stream(), out).has_value());
  REQUIRE(writer.finished());
  const std::string before = out;
  (void)writer.feed(text_stream(), out);
  CHECK(out == before);
  writer.fail(keygate::Error::internal("late"), out);
  CHECK(out == before);
  CHECK(writer.finished());
}

TEST_CASE("responses inbound: a refusal is a message item with a refusal part", "[responses]") {
  // Guards against a model's refusal (OpenAI's own field, which structured outputs rely on)
  // lost: an empty output_text instead, or nothing at all in a stream.
  auto r = response(completion(R"({"role":"assistant","content":null,"refusal":"I can't."})"));
  const auto& output = at(r, "/output");
  INFO(keygate::to_json(output));
  REQUIRE(output.Size() == 1);
  CHECK(str(at(output, "/0/type")) == "message");
  CHECK_THAT(at(output, "/0/content"), IsJson(R"([{"type":"refusal","refusal":"I can't."}])"));

  auto events = convert(chunk(R"({"role":"assistant"})") + chunk(R"({"refusal":"I can"})") +
                        chunk(R"({"refusal":"'t."})") + chunk("{}", R"("stop")") + kDone);
  check_sequence_numbers(events);
  auto names = names_of(events);
  INFO("events: " << Catch::Detail::stringify(names));
  const std::vector<std::string> expected = {
      "response.created",           "response.in_progress",
      "response.output_item.added", "response.content_part.added",
      "response.refusal.delta",     "response.refusal.delta",
      "response.refusal.done",      "response.content_part.done",
      "response.output_item.done",  "response.completed"};
  CHECK(names == expected);
  CHECK(str(at(event_data(events, "response.content_part.added"), "/part/type")) == "refusal");
  CHECK(str(at(event_data(events, "response.refusal.done"), "/refusal")) == "I can't.");
  CHECK_THAT(at(event_data(events, "response.completed"), "/response/output/0/content"),
             IsJson(R"([{"type":"refusal","refusal":"I can't."}])"));
}

TEST_CASE("responses inbound stream: Claude's streamed thinking blocks end up in encrypted_content",
          "[responses]") {
  // Guards against the signed blocks lost in a stream: Claude's adapter streams the reasoning as
  // reasoning_content and each block whole at its end (delta.thinking_blocks); the reasoning item
  // must carry them for the next turn, with the text not repeated in its summary.
  auto events = convert(
      chunk(R"({"role":"assistant","reasoning_content":"Look it "})") +
      chunk(R"({"reasoning_content":"up."})") +
      chunk(
          R"({"thinking_blocks":[{"type":"thinking","thinking":"Look it up.","signature":"c2ln"}]})") +
      chunk(R"({"thinking_blocks":[{"type":"redacted_thinking","data":"ZGF0YQ=="}]})") +
      chunk(R"({"content":"Done."})") + chunk("{}", R"("stop")") + kDone);
  check_sequence_numbers(events);
  const auto& completed = event_data(events, "response.completed");
  const auto& reasoning = at(completed, "/response/output/0");
  INFO(keygate::to_json(reasoning));
  CHECK(str(at(reasoning, "/type")) == "reasoning");
  CHECK_THAT(at(reasoning, "/summary"),
             IsJson(R"([{"type":"summary_text","text":"Look it up."}])"));
  const std::string sealed = str(at(reasoning, "/encrypted_content"));
  REQUIRE(sealed.starts_with(keygate::providers::kThinkingBlocksPrefix));
  CHECK_THAT(parse_array(sealed.substr(keygate::providers::kThinkingBlocksPrefix.size())),
             IsJson(R"([{"type":"thinking","thinking":"Look it up.","signature":"c2ln"},)"
                    R"({"type":"redacted_thinking","data":"ZGF0YQ=="}])"));
  CHECK(str(at(completed, "/response/output/1/content/0/text")) == "Done.");
}
