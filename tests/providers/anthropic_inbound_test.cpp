// Anthropic's Messages API as a client-facing dialect: the request, response, error and stream
// transforms between it and the OpenAI chat format keygate routes internally. Outputs are checked
// as parsed JSON values (member order and spacing are free), never as exact strings.

#include <catch2/catch.hpp>

#include <rapidjson/pointer.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json_checks.hpp"
#include "providers/anthropic_inbound.hpp"
#include "schema/json.hpp"

namespace {

using namespace keygate::json_checks;

using keygate::providers::anthropic_error_body;
using keygate::providers::AnthropicStreamWriter;
using keygate::providers::to_anthropic_message;
using keygate::providers::to_openai_request;

// ---------------------------------------------------------------------------------------------
// JSON helpers

// to_openai_request that must succeed, its output parsed.
rapidjson::Document openai(std::string_view request) {
  INFO(request);
  auto r = to_openai_request(request);
  if (!r.has_value()) {
    FAIL("to_openai_request failed: " << r.error().status << " " << r.error().message);
  }
  return parse(*r);
}

// to_anthropic_message that must succeed, its output parsed.
rapidjson::Document anthropic(std::string_view completion) {
  INFO(completion);
  auto r = to_anthropic_message(completion);
  if (!r.has_value()) {
    FAIL("to_anthropic_message failed: " << r.error().status << " " << r.error().message);
  }
  return parse(*r);
}

// ---------------------------------------------------------------------------------------------
// Stream helpers

// (events_of, names_of: tests/providers/json_checks.hpp)

// A content block rebuilt from its start, delta and stop events.
struct Block {
  std::string type;
  std::string id;         // tool_use
  std::string name;       // tool_use
  std::string text;       // text: the text deltas joined
  std::string json;       // tool_use: the partial_json pieces joined
  std::string signature;  // thinking: its signature; redacted_thinking: its data
  bool stopped = false;
};

// Rebuilds the content blocks, checking the block protocol on the way: indexes 0, 1, 2, ... in
// order, one block open at a time (stopped before the next starts), deltas only to the open block
// and of its kind, every block stopped before message_delta.
std::vector<Block> blocks_of(const std::vector<Event>& events) {
  std::vector<Block> blocks;
  for (const auto& e : events) {
    INFO("event " << e.name << ": " << keygate::to_json(e.data));
    if (e.name == "content_block_start") {
      CHECK_THAT(at(e.data, "/index"), IsJson(std::to_string(blocks.size())));
      if (!blocks.empty()) {
        CHECK(blocks.back().stopped);
      }
      Block b;
      b.type = str(at(e.data, "/content_block/type"));
      if (b.type == "text") {
        CHECK_THAT(at(e.data, "/content_block/text"), IsJson(R"("")"));
      } else if (b.type == "tool_use") {
        b.id = str(at(e.data, "/content_block/id"));
        b.name = str(at(e.data, "/content_block/name"));
        CHECK_THAT(at(e.data, "/content_block/input"), IsJson("{}"));
      } else if (b.type == "thinking") {
        CHECK_THAT(at(e.data, "/content_block/thinking"), IsJson(R"("")"));
        CHECK_THAT(at(e.data, "/content_block/signature"), IsJson(R"("")"));
      } else if (b.type == "redacted_thinking") {
        b.signature = str(at(e.data, "/content_block/data"));
      }
      blocks.push_back(std::move(b));
    } else if (e.name == "content_block_delta") {
      REQUIRE(!blocks.empty());
      CHECK_THAT(at(e.data, "/index"), IsJson(std::to_string(blocks.size() - 1)));
      CHECK_FALSE(blocks.back().stopped);
      if (blocks.back().type == "text") {
        CHECK(str(at(e.data, "/delta/type")) == "text_delta");
        blocks.back().text += str(at(e.data, "/delta/text"));
      } else if (blocks.back().type == "thinking") {
        // Anthropic's order: thinking_deltas, then one signature_delta last.
        CHECK(blocks.back().signature.empty());
        if (str(at(e.data, "/delta/type")) == "signature_delta") {
          blocks.back().signature = str(at(e.data, "/delta/signature"));
        } else {
          CHECK(str(at(e.data, "/delta/type")) == "thinking_delta");
          blocks.back().text += str(at(e.data, "/delta/thinking"));
        }
      } else {
        CHECK(blocks.back().type == "tool_use");
        CHECK(str(at(e.data, "/delta/type")) == "input_json_delta");
        blocks.back().json += str(at(e.data, "/delta/partial_json"));
      }
    } else if (e.name == "content_block_stop") {
      REQUIRE(!blocks.empty());
      CHECK_THAT(at(e.data, "/index"), IsJson(std::to_string(blocks.size() - 1)));
      CHECK_FALSE(blocks.back().stopped);
      blocks.back().stopped = true;
    } else if (e.name == "message_delta" || e.name == "message_stop") {
      for (const auto& b : blocks) {
        CHECK(b.stopped);
      }
    }
  }
  return blocks;
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

// The events of a whole stream fed at once.
std::vector<Event> convert(const std::string& bytes, bool* finished = nullptr) {
  AnthropicStreamWriter writer;
  std::string out;
  auto r = writer.feed(bytes, out);
  if (!r.has_value()) {
    FAIL("feed failed: " << r.error().message);
  }
  if (finished != nullptr) {
    *finished = writer.finished();
  }
  return events_of(out);
}

// (frame, chunk, usage_chunk, kDone: tests/providers/json_checks.hpp)

std::string text_stream() {
  return chunk(R"({"role":"assistant"})") + chunk(R"({"content":"Hel"})") +
         chunk(R"({"content":"lo"})") + chunk("{}", R"("stop")") + usage_chunk(5, 2) + kDone;
}

std::string tool_call_delta(int index, const std::string& fields) {
  return R"({"tool_calls":[{"index":)" + std::to_string(index) + "," + fields + "}]}";
}

std::string tool_stream() {
  return chunk(R"({"role":"assistant","content":null})") +
         chunk(tool_call_delta(
             0,
             R"("id":"call_1","type":"function","function":{"name":"get_weather","arguments":""})")) +
         chunk(tool_call_delta(0, R"("function":{"arguments":"{\"city\":"})")) +
         chunk(tool_call_delta(0, R"("function":{"arguments":"\"Paris\"}"})")) +
         chunk("{}", R"("tool_calls")") + usage_chunk(20, 10) + kDone;
}

// A stream's events as comparable lines, message_start's message id left out (it may be made
// fresh for every stream).
std::vector<std::string> normalized(const std::string& out) {
  std::vector<std::string> lines;
  for (auto& e : events_of(out)) {
    if (e.name == "message_start" && e.data.HasMember("message") && e.data["message"].IsObject()) {
      e.data["message"].RemoveMember("id");
    }
    lines.push_back(e.name + " " + keygate::to_json(e.data));
  }
  return lines;
}

void require_400(std::string_view request) {
  INFO(request);
  auto r = to_openai_request(request);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().status == 400);
  CHECK(r.error().type == "invalid_request_error");
}

}  // namespace

// =============================================================================================
// to_openai_request

TEST_CASE("anthropic inbound: a plain request keeps model, max_tokens and the user's text",
          "[anthropic_inbound]") {
  // Guards against a renamed model, a lost max_tokens, or a string content turned into something
  // else on the way to the router.
  auto d = openai(R"({"model":"claude-sonnet-4-5","max_tokens":1024,)"
                  R"("messages":[{"role":"user","content":"Hello"}]})");
  CHECK(str(at(d, "/model")) == "claude-sonnet-4-5");
  CHECK_THAT(at(d, "/max_tokens"), IsJson("1024"));
  CHECK_THAT(at(d, "/messages"), IsJson(R"([{"role":"user","content":"Hello"}])"));
  CHECK((!has(d, "/stream") || at(d, "/stream").IsFalse()));
}

TEST_CASE("anthropic inbound: requests that are invalid or cannot be carried are a 400",
          "[anthropic_inbound]") {
  // Guards against a malformed or unsupported Messages request reaching a provider (or crashing
  // the transform) instead of a 400 invalid_request_error for the client.
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  for (const std::string& request : {
           std::string("not json"),
           std::string("[]"),
           std::string(R"("just a string")"),
           R"({"max_tokens":100,)" + msgs + "}",
           R"({"model":7,"max_tokens":100,)" + msgs + "}",
           R"({"model":"claude-sonnet-4-5",)" + msgs + "}",
           R"({"model":"claude-sonnet-4-5","max_tokens":0,)" + msgs + "}",
           R"({"model":"claude-sonnet-4-5","max_tokens":-5,)" + msgs + "}",
           R"({"model":"claude-sonnet-4-5","max_tokens":"100",)" + msgs + "}",
           R"({"model":"claude-sonnet-4-5","max_tokens":1.5,)" + msgs + "}",
           std::string(R"({"model":"claude-sonnet-4-5","max_tokens":100})"),
           std::string(R"({"model":"claude-sonnet-4-5","max_tokens":100,"messages":[]})"),
           std::string(R"({"model":"claude-sonnet-4-5","max_tokens":100,"messages":"hi"})"),
           std::string(R"({"model":"claude-sonnet-4-5","max_tokens":100,)"
                       R"("messages":[{"role":"system","content":"hi"}]})"),
           std::string(R"({"model":"claude-sonnet-4-5","max_tokens":100,)"
                       R"("messages":[{"role":"tool","content":"hi"}]})"),
           std::string(R"({"model":"claude-sonnet-4-5","max_tokens":100,)"
                       R"("messages":[{"role":"user","content":[{"type":"document",)"
                       R"("source":{"type":"url","url":"https://example.com/a.pdf"}}]}]})"),
           std::string(R"({"model":"claude-sonnet-4-5","max_tokens":100,)"
                       R"("messages":[{"role":"user","content":[{"type":"document",)"
                       R"("source":{"type":"base64","media_type":"text/csv","data":"YSxi"}}]}]})"),
           // Claude's own tools travel (tests below); one without a type or name does not.
           R"({"model":"claude-sonnet-4-5","max_tokens":100,)" + msgs +
               R"(,"tools":[{"type":5,"name":"web_search","max_uses":5}]})",
           R"({"model":"claude-sonnet-4-5","max_tokens":100,)" + msgs +
               R"(,"tools":[{"type":"web_search_20250305","max_uses":5}]})",
           R"({"model":"claude-sonnet-4-5","max_tokens":100,)" + msgs +
               R"(,"tools":[{"type":"","name":"web_search"}]})",
           R"({"model":"m","max_tokens":100,)" + msgs + R"(,"thinking":"on"})",
           R"({"model":"m","max_tokens":100,)" + msgs + R"(,"thinking":{"budget_tokens":2048}})",
           R"({"model":"m","max_tokens":100,)" + msgs + R"(,"top_k":-1})",
           R"({"model":"m","max_tokens":100,)" + msgs + R"(,"top_k":"5"})",
           std::string(
               R"({"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"},)"
               R"({"role":"assistant","content":[{"type":"thinking","thinking":"x"}]}]})"),
           std::string(
               R"({"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"},)"
               R"({"role":"assistant","content":[{"type":"redacted_thinking"}]}]})"),
       }) {
    require_400(request);
  }
}

TEST_CASE("anthropic inbound: a 400 for a missing field names it", "[anthropic_inbound]") {
  // Guards against a bare "invalid request" that leaves the client guessing which field is wrong.
  auto no_max = to_openai_request(
      R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]})");
  REQUIRE_FALSE(no_max.has_value());
  CHECK_THAT(no_max.error().param + " " + no_max.error().message, Catch::Contains("max_tokens"));
  auto no_model =
      to_openai_request(R"({"max_tokens":10,"messages":[{"role":"user","content":"hi"}]})");
  REQUIRE_FALSE(no_model.has_value());
  CHECK_THAT(no_model.error().param + " " + no_model.error().message, Catch::Contains("model"));
}

TEST_CASE("anthropic inbound: system as a string becomes the first, system message",
          "[anthropic_inbound]") {
  // Guards against a dropped system prompt (Anthropic has it top-level, OpenAI as a message).
  auto d = openai(R"({"model":"m","max_tokens":10,"system":"Be brief.",)"
                  R"("messages":[{"role":"user","content":"hi"}]})");
  CHECK_THAT(at(d, "/messages"),
             IsJson(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}])"));
}

TEST_CASE("anthropic inbound: system as text blocks is joined with blank lines",
          "[anthropic_inbound]") {
  // Guards against keeping only the first system block, or sending the block array as content.
  auto d = openai(R"({"model":"m","max_tokens":10,"system":[{"type":"text","text":"Be brief."},)"
                  R"({"type":"text","text":"Be kind."}],)"
                  R"("messages":[{"role":"user","content":"hi"}]})");
  REQUIRE(at(d, "/messages").IsArray());
  REQUIRE(at(d, "/messages").Size() == 2);
  CHECK(str(at(d, "/messages/0/role")) == "system");
  CHECK(content_text(at(d, "/messages/0/content")) == "Be brief.\n\nBe kind.");
  CHECK(str(at(d, "/messages/1/role")) == "user");
}

TEST_CASE("anthropic inbound: prompt-caching marks travel with their blocks",
          "[anthropic_inbound]") {
  // Guards against Claude Code's cache_control marks lost on the way (every turn would then be
  // billed as a cache miss: several times the cost), or moved to another block.
  const std::string mark = R"("cache_control":{"type":"ephemeral"})";
  auto d = openai(
      R"({"model":"m","max_tokens":10,"system":[{"type":"text","text":"Be brief."},)"
      R"({"type":"text","text":"Long rules.",)" +
      mark +
      R"(}],)"
      R"("tools":[{"name":"f","input_schema":{"type":"object"},)" +
      mark +
      R"(}],)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"hi",)" +
      mark +
      R"(}]},)"
      R"({"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{},)" +
      mark +
      R"(}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok",)" +
      mark + R"(}]}]})");
  INFO(keygate::to_json(d));
  const std::string ephemeral = R"({"type":"ephemeral"})";
  CHECK_THAT(at(d, "/messages/0/content"), IsJson(R"([{"type":"text","text":"Be brief."},)"
                                                  R"({"type":"text","text":"Long rules.",)" +
                                                  mark + "}]"));
  CHECK_THAT(at(d, "/tools/0/cache_control"), IsJson(ephemeral));
  CHECK_THAT(at(d, "/messages/1/content/0/cache_control"), IsJson(ephemeral));
  CHECK_THAT(at(d, "/messages/2/cache_control"), IsJson(ephemeral));
  CHECK(str(at(d, "/messages/3/role")) == "tool");
  CHECK_THAT(at(d, "/messages/3/cache_control"), IsJson(ephemeral));
  require_400(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[)"
              R"({"type":"text","text":"hi","cache_control":"ephemeral"}]}]})");
}

TEST_CASE("anthropic inbound: a single user text block keeps its text", "[anthropic_inbound]") {
  // Guards against block content being dropped or passed on in Anthropic's shape.
  auto d =
      openai(R"({"model":"m","max_tokens":10,)"
             R"("messages":[{"role":"user","content":[{"type":"text","text":"Hello there"}]}]})");
  CHECK(str(at(d, "/messages/0/role")) == "user");
  CHECK(content_text(at(d, "/messages/0/content")) == "Hello there");
}

TEST_CASE("anthropic inbound: user text and image blocks become content parts in order",
          "[anthropic_inbound]") {
  // Guards against images lost or mangled: base64 sources must become data: URLs, URL sources
  // stay URLs, and the parts keep their order around the text.
  auto d = openai(
      R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[)"
      R"({"type":"text","text":"Compare"},)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},)"
      R"({"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}},)"
      R"({"type":"text","text":"please"}]}]})");
  CHECK_THAT(at(d, "/messages"), IsJson(R"([{"role":"user","content":[)"
                                        R"({"type":"text","text":"Compare"},)"
                                        R"({"type":"image_url","image_url":)"
                                        R"({"url":"data:image/png;base64,AAAA"}},)"
                                        R"({"type":"image_url","image_url":)"
                                        R"({"url":"https://example.com/cat.jpg"}},)"
                                        R"({"type":"text","text":"please"}]}])"));
}

TEST_CASE("anthropic inbound: several user text blocks keep their order", "[anthropic_inbound]") {
  // Guards against blocks reordered or all but one dropped.
  auto d = openai(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[)"
                  R"({"type":"text","text":"first"},{"type":"text","text":"second"}]}]})");
  std::string text = content_text(at(d, "/messages/0/content"));
  INFO(text);
  auto first = text.find("first");
  auto second = text.find("second");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  CHECK(first < second);
}

TEST_CASE("anthropic inbound: assistant text and tool_use blocks become content and tool_calls",
          "[anthropic_inbound]") {
  // Guards against a conversation's earlier tool calls lost, or their input passed as an object
  // where OpenAI wants a JSON string.
  auto d = openai(
      R"({"model":"m","max_tokens":10,"messages":[)"
      R"({"role":"user","content":"Weather in Paris?"},)"
      R"({"role":"assistant","content":[{"type":"text","text":"Let me check."},)"
      R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris","days":2}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"15C"}]}]})");
  const auto& assistant = at(d, "/messages/1");
  CHECK(str(at(assistant, "/role")) == "assistant");
  CHECK(str(at(assistant, "/content")) == "Let me check.");
  REQUIRE(at(assistant, "/tool_calls").IsArray());
  REQUIRE(at(assistant, "/tool_calls").Size() == 1);
  CHECK(str(at(assistant, "/tool_calls/0/id")) == "toolu_1");
  CHECK(str(at(assistant, "/tool_calls/0/type")) == "function");
  CHECK(str(at(assistant, "/tool_calls/0/function/name")) == "get_weather");
  const auto& arguments = at(assistant, "/tool_calls/0/function/arguments");
  REQUIRE(arguments.IsString());
  CHECK_THAT(static_cast<const rapidjson::Value&>(parse(str(arguments))),
             IsJson(R"({"city":"Paris","days":2})"));
}

TEST_CASE("anthropic inbound: a tool result's images travel as image parts of the tool message",
          "[anthropic_inbound]") {
  // Guards against a 400 for a screenshot a tool returned (Claude Code's Read tool does this for
  // image files), and against the image lost or its text reordered.
  auto d = openai(
      R"({"model":"m","max_tokens":10,"messages":[)"
      R"({"role":"user","content":"Look."},)"
      R"({"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"shot","input":{}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[)"
      R"({"type":"text","text":"Taken."},)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]}]}]})");
  const auto& tool = at(d, "/messages/2");
  INFO(keygate::to_json(tool));
  CHECK(str(at(tool, "/role")) == "tool");
  CHECK_THAT(at(tool, "/content"),
             IsJson(R"([{"type":"text","text":"Taken."},)"
                    R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}])"));
  // Anything else in a tool result is still refused, naming the block.
  auto bad = to_openai_request(
      R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[)"
      R"({"type":"tool_result","tool_use_id":"t","content":[)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},)"
      R"({"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}]})");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().status == 400);
  CHECK(bad.error().param == "messages[0].content[0].content[1]");
}

TEST_CASE("anthropic inbound: tool results become tool messages before the rest of the user turn",
          "[anthropic_inbound]") {
  // Guards against tool results sent as user text, or after the user's follow-up (OpenAI requires
  // the tool messages right after the assistant's tool_calls).
  auto d = openai(
      R"({"model":"m","max_tokens":10,"messages":[)"
      R"({"role":"user","content":"Weather in Paris and Rome?"},)"
      R"({"role":"assistant","content":[)"
      R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},)"
      R"({"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}]},)"
      R"({"role":"user","content":[)"
      R"({"type":"text","text":"And tomorrow?"},)"
      R"({"type":"tool_result","tool_use_id":"toolu_1","content":"15C"},)"
      R"({"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"20C"}],)"
      R"("is_error":false}]}]})");
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 5);
  CHECK(str(at(messages, "/1/role")) == "assistant");
  REQUIRE(at(messages, "/1/tool_calls").IsArray());
  CHECK(at(messages, "/1/tool_calls").Size() == 2);
  CHECK(str(at(messages, "/2/role")) == "tool");
  CHECK(str(at(messages, "/2/tool_call_id")) == "toolu_1");
  CHECK(content_text(at(messages, "/2/content")) == "15C");
  CHECK(str(at(messages, "/3/role")) == "tool");
  CHECK(str(at(messages, "/3/tool_call_id")) == "toolu_2");
  CHECK(content_text(at(messages, "/3/content")) == "20C");
  CHECK(str(at(messages, "/4/role")) == "user");
  CHECK(content_text(at(messages, "/4/content")) == "And tomorrow?");
}

TEST_CASE("anthropic inbound: a user turn of only tool results adds no empty user message",
          "[anthropic_inbound]") {
  // Guards against an empty user message after the tool messages, which providers reject.
  auto d = openai(R"({"model":"m","max_tokens":10,"messages":[)"
                  R"({"role":"user","content":"Weather?"},)"
                  R"({"role":"assistant","content":[)"
                  R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},)"
                  R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1",)"
                  R"("content":"failed: no city","is_error":true}]}]})");
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 3);
  CHECK(str(at(messages, "/2/role")) == "tool");
  CHECK(str(at(messages, "/2/tool_call_id")) == "toolu_1");
  CHECK_THAT(content_text(at(messages, "/2/content")), Catch::Contains("failed: no city"));
}

TEST_CASE("anthropic inbound: thinking blocks sent back travel as the message's thinking_blocks",
          "[anthropic_inbound]") {
  // Guards against Claude's signed thinking lost on the way back (with thinking on, Claude
  // refuses a tool result whose turn lost its thinking block), and against thinking leaking
  // into the text.
  auto d = openai(
      R"({"model":"m","max_tokens":10,"messages":[)"
      R"({"role":"user","content":"hi"},)"
      R"({"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"c2ln"},)"
      R"({"type":"redacted_thinking","data":"cmVk"},{"type":"text","text":"Hello!"}]},)"
      R"({"role":"user","content":"bye"}]})");
  const auto& messages = at(d, "/messages");
  INFO(keygate::to_json(messages));
  REQUIRE(messages.IsArray());
  REQUIRE(messages.Size() == 3);
  CHECK(str(at(messages, "/1/role")) == "assistant");
  CHECK(content_text(at(messages, "/1/content")) == "Hello!");
  CHECK_THAT(at(messages, "/1/thinking_blocks"),
             IsJson(R"([{"type":"thinking","thinking":"hmm","signature":"c2ln"},)"
                    R"({"type":"redacted_thinking","data":"cmVk"}])"));
  CHECK_FALSE(has(messages, "/0/thinking_blocks"));
}

TEST_CASE("anthropic inbound: sampling parameters, stop sequences and user id are carried",
          "[anthropic_inbound]") {
  // Guards against parameters silently dropped or left under their Anthropic names; thinking and
  // top_k go on for the adapters to map (the catalog drops top_k for OpenAI).
  auto d = openai(
      R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],)"
      R"("temperature":0.5,"top_p":0.9,"top_k":40,"stop_sequences":["END","STOP"],)"
      R"("metadata":{"user_id":"user-42"},"thinking":{"type":"enabled","budget_tokens":2048}})");
  CHECK_THAT(at(d, "/temperature"), IsJson("0.5"));
  CHECK_THAT(at(d, "/top_p"), IsJson("0.9"));
  CHECK_THAT(at(d, "/stop"), IsJson(R"(["END","STOP"])"));
  CHECK(str(at(d, "/user")) == "user-42");
  CHECK_THAT(at(d, "/top_k"), IsJson("40"));
  CHECK_THAT(at(d, "/thinking"), IsJson(R"({"type":"enabled","budget_tokens":2048})"));
  CHECK_FALSE(has(d, "/stop_sequences"));
}

TEST_CASE("anthropic inbound: a streamed request asks for usage", "[anthropic_inbound]") {
  // Guards against a stream whose message_delta has no output_tokens to report.
  auto d = openai(R"({"model":"m","max_tokens":10,"stream":true,)"
                  R"("messages":[{"role":"user","content":"hi"}]})");
  CHECK_THAT(at(d, "/stream"), IsJson("true"));
  CHECK_THAT(at(d, "/stream_options/include_usage"), IsJson("true"));
}

TEST_CASE("anthropic inbound: tools become functions with input_schema as parameters",
          "[anthropic_inbound]") {
  // Guards against tool definitions lost or left in Anthropic's shape, and against rejecting the
  // explicit "custom" tool type.
  auto d = openai(
      R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[)"
      R"({"name":"get_weather","description":"Weather for a city","input_schema":)"
      R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},)"
      R"({"type":"custom","name":"get_time","description":"Time","input_schema":{"type":"object"}}]})");
  CHECK_THAT(at(d, "/tools"),
             IsJson(R"([{"type":"function","function":{"name":"get_weather",)"
                    R"("description":"Weather for a city","parameters":)"
                    R"({"type":"object","properties":{"city":{"type":"string"}},)"
                    R"("required":["city"]}}},)"
                    R"({"type":"function","function":{"name":"get_time","description":"Time",)"
                    R"("parameters":{"type":"object"}}}])"));
}

TEST_CASE("anthropic inbound: tool_choice maps to OpenAI's tool_choice", "[anthropic_inbound]") {
  // Guards against "any" passed on verbatim (OpenAI calls it "required") or a named tool choice
  // left in Anthropic's shape.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type":"auto"})", R"("auto")"},
      {R"({"type":"any"})", R"("required")"},
      {R"({"type":"none"})", R"("none")"},
      {R"({"type":"tool","name":"get_weather"})",
       R"({"type":"function","function":{"name":"get_weather"}})"},
  };
  for (const auto& [choice, expected] : cases) {
    INFO(choice);
    auto d = openai(
        R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],)"
        R"("tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"tool_choice":)" +
        choice + "}");
    CHECK_THAT(at(d, "/tool_choice"), IsJson(expected));
    CHECK_FALSE(at(d, "/parallel_tool_calls").IsFalse());
  }
}

TEST_CASE("anthropic inbound: disable_parallel_tool_use turns parallel tool calls off",
          "[anthropic_inbound]") {
  // Guards against a client that can handle one tool call at a time receiving several.
  auto d = openai(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],)"
                  R"("tools":[{"name":"get_weather","input_schema":{"type":"object"}}],)"
                  R"("tool_choice":{"type":"any","disable_parallel_tool_use":true}})");
  CHECK_THAT(at(d, "/tool_choice"), IsJson(R"("required")"));
  CHECK_THAT(at(d, "/parallel_tool_calls"), IsJson("false"));
}

// =============================================================================================
// to_anthropic_message

TEST_CASE("anthropic inbound: a text completion becomes a message with a text block and usage",
          "[anthropic_inbound]") {
  // Guards against a response the Anthropic SDK cannot read: wrong type/role, missing id, usage
  // under OpenAI's names, or a stop_reason left as "stop".
  auto m = anthropic(
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},)"
      R"("finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,)"
      R"("total_tokens":12}})");
  CHECK(str(at(m, "/type")) == "message");
  CHECK(str(at(m, "/role")) == "assistant");
  REQUIRE(at(m, "/id").IsString());
  CHECK_FALSE(str(at(m, "/id")).empty());
  CHECK(str(at(m, "/model")) == "gpt-4o-mini");
  CHECK_THAT(at(m, "/content"), IsJson(R"([{"type":"text","text":"Hi"}])"));
  CHECK(str(at(m, "/stop_reason")) == "end_turn");
  CHECK(has(m, "/stop_sequence"));
  CHECK(at(m, "/stop_sequence").IsNull());
  CHECK_THAT(at(m, "/usage/input_tokens"), IsJson("9"));
  CHECK_THAT(at(m, "/usage/output_tokens"), IsJson("3"));
}

TEST_CASE("anthropic inbound: tool calls become tool_use blocks after the text",
          "[anthropic_inbound]") {
  // Guards against tool calls dropped, their arguments left as a string instead of an "input"
  // object, or stop_reason not "tool_use" (the SDK's agent loop keys on it).
  auto m = anthropic(
      R"({"id":"chatcmpl-2","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"Let me check.","tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"get_weather",)"
      R"("arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],)"
      R"("usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30}})");
  CHECK_THAT(at(m, "/content"), IsJson(R"([{"type":"text","text":"Let me check."},)"
                                       R"({"type":"tool_use","id":"call_1","name":"get_weather",)"
                                       R"("input":{"city":"Paris"}}])"));
  CHECK(str(at(m, "/stop_reason")) == "tool_use");
}

TEST_CASE("anthropic inbound: null content with tool calls gives only tool_use blocks",
          "[anthropic_inbound]") {
  // Guards against an empty text block (or a crash on null content) before the tool calls.
  auto m = anthropic(
      R"({"id":"chatcmpl-3","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"get_weather",)"
      R"("arguments":"{\"city\":\"Paris\"}"}},)"
      R"({"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},)"
      R"("finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2}})");
  CHECK_THAT(at(m, "/content"),
             IsJson(R"([{"type":"tool_use","id":"call_1","name":"get_weather",)"
                    R"("input":{"city":"Paris"}},)"
                    R"({"type":"tool_use","id":"call_2","name":"get_time","input":{}}])"));
}

TEST_CASE("anthropic inbound: finish_reason maps to stop_reason", "[anthropic_inbound]") {
  // Guards against OpenAI's finish reasons passed through, which the Anthropic SDK does not know.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("stop")", "end_turn"},
      {R"("length")", "max_tokens"},
      {R"("tool_calls")", "tool_use"},
      {R"("content_filter")", "end_turn"},
      {"null", "end_turn"},
  };
  for (const auto& [finish, expected] : cases) {
    INFO(finish);
    auto m = anthropic(
        R"({"id":"chatcmpl-4","object":"chat.completion","model":"gpt-4o-mini","choices":[)"
        R"({"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":)" +
        finish + R"(}],"usage":{"prompt_tokens":1,"completion_tokens":1}})");
    CHECK(str(at(m, "/stop_reason")) == expected);
  }
}

TEST_CASE("anthropic inbound: a malformed completion is an error, not a crash",
          "[anthropic_inbound]") {
  // Guards against a crash (or an empty message) on an upstream answer that is not a completion.
  for (const char* body : {
           "not json",
           "[]",
           "{}",
           R"({"id":"x","object":"chat.completion","model":"m","choices":[]})",
           R"({"id":"x","object":"chat.completion","model":"m","choices":"nope"})",
       }) {
    INFO(body);
    auto r = to_anthropic_message(body);
    CHECK_FALSE(r.has_value());
  }
}

// =============================================================================================
// anthropic_error_body

TEST_CASE("anthropic inbound: error bodies carry Anthropic's error type for the status",
          "[anthropic_inbound]") {
  // Guards against OpenAI's error shape or types reaching an Anthropic client, whose SDK picks
  // its exception class (and retry behaviour) from them.
  using keygate::Error;
  const std::vector<std::pair<Error, std::string>> cases = {
      {Error::invalid_request("bad field"), "invalid_request_error"},
      {Error::unauthorized("bad key"), "authentication_error"},
      {Error::forbidden("not yours"), "permission_error"},
      {Error::not_found("no such model"), "not_found_error"},
      {Error::payload_too_large("too big"), "request_too_large"},
      {Error::rate_limited("slow down"), "rate_limit_error"},
      {Error{529, "upstream_error", "overloaded", "overloaded", {}, true}, "overloaded_error"},
      {Error::internal("oops"), "api_error"},
      {Error{501, "server_error", "x", "not implemented", {}, false}, "api_error"},
      {Error::upstream_unreachable("unreachable"), "api_error"},
      {Error::unavailable("unavailable"), "api_error"},
      {Error::upstream_timeout("timeout"), "api_error"},
  };
  for (const auto& [error, expected] : cases) {
    INFO(error.status << " " << error.message);
    auto d = parse(anthropic_error_body(error));
    CHECK(str(at(d, "/type")) == "error");
    CHECK(str(at(d, "/error/type")) == expected);
    CHECK(str(at(d, "/error/message")) == error.message);
  }
}

TEST_CASE("anthropic inbound: an error message with quotes and newlines stays valid JSON",
          "[anthropic_inbound]") {
  // Guards against an unescaped message breaking the error body.
  keygate::Error error{400, "invalid_request_error", "code", "say \"hi\"\n\tthen \\ go", {}, false};
  auto d = parse(anthropic_error_body(error));
  CHECK(str(at(d, "/error/type")) == "invalid_request_error");
  CHECK(str(at(d, "/error/message")) == error.message);
}

// =============================================================================================
// AnthropicStreamWriter

TEST_CASE("anthropic inbound stream: a text stream becomes Anthropic's event sequence",
          "[anthropic_inbound]") {
  // Guards against missing or misordered events, a text block never opened or closed, deltas of
  // the wrong type, and usage or stop_reason missing from message_delta.
  AnthropicStreamWriter writer;
  std::string out;
  const std::string all = text_stream();
  const std::string before_done = all.substr(0, all.size() - kDone.size());
  REQUIRE(writer.feed(before_done, out).has_value());
  CHECK_FALSE(writer.finished());
  REQUIRE(writer.feed(kDone, out).has_value());
  CHECK(writer.finished());

  auto events = events_of(out);
  CHECK(names_of(events) == std::vector<std::string>{"message_start", "content_block_start",
                                                     "content_block_delta", "content_block_delta",
                                                     "content_block_stop", "message_delta",
                                                     "message_stop"});
  REQUIRE(events.size() == 7);
  const auto& start = events[0].data;
  CHECK(str(at(start, "/message/type")) == "message");
  CHECK(str(at(start, "/message/role")) == "assistant");
  CHECK(at(start, "/message/id").IsString());
  CHECK_THAT(at(start, "/message/content"), IsJson("[]"));
  CHECK(str(at(start, "/message/model")) == "gpt-4o-mini");
  CHECK_THAT(at(events[1].data, "/index"), IsJson("0"));
  CHECK_THAT(at(events[1].data, "/content_block"), IsJson(R"({"type":"text","text":""})"));
  CHECK_THAT(at(events[2].data, "/index"), IsJson("0"));
  CHECK_THAT(at(events[2].data, "/delta"), IsJson(R"({"type":"text_delta","text":"Hel"})"));
  CHECK_THAT(at(events[3].data, "/index"), IsJson("0"));
  CHECK_THAT(at(events[3].data, "/delta"), IsJson(R"({"type":"text_delta","text":"lo"})"));
  CHECK_THAT(at(events[4].data, "/index"), IsJson("0"));
  CHECK(str(at(events[5].data, "/delta/stop_reason")) == "end_turn");
  CHECK_THAT(at(events[5].data, "/usage/output_tokens"), IsJson("2"));
}

TEST_CASE("anthropic inbound stream: finished() is false until message_stop",
          "[anthropic_inbound]") {
  // Guards against the gateway closing the client's stream early (or never).
  AnthropicStreamWriter writer;
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
  CHECK(names_of(events_of(out)).back() == "message_stop");
}

TEST_CASE("anthropic inbound stream: the events do not depend on how the bytes are split",
          "[anthropic_inbound]") {
  // Guards against a frame split across reads being lost, duplicated or misparsed (network reads
  // cut frames anywhere, including between the two newlines).
  for (const std::string& stream : {text_stream(), tool_stream()}) {
    AnthropicStreamWriter whole_writer;
    std::string whole;
    REQUIRE(whole_writer.feed(stream, whole).has_value());
    const auto expected = normalized(whole);
    REQUIRE_FALSE(expected.empty());

    {  // one byte at a time
      AnthropicStreamWriter writer;
      std::string out;
      for (char c : stream) {
        REQUIRE(writer.feed(std::string_view(&c, 1), out).has_value());
      }
      CHECK(normalized(out) == expected);
      CHECK(writer.finished());
    }
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {  // two pieces, cut anywhere
      AnthropicStreamWriter writer;
      std::string out;
      REQUIRE(writer.feed(std::string_view(stream).substr(0, cut), out).has_value());
      REQUIRE(writer.feed(std::string_view(stream).substr(cut), out).has_value());
      INFO("cut at " << cut);
      CHECK(normalized(out) == expected);
      CHECK(writer.finished());
    }
  }
}

TEST_CASE("anthropic inbound stream: a streamed tool call becomes a tool_use block",
          "[anthropic_inbound]") {
  // Guards against tool calls missing from a stream, their arguments not sent as input_json_delta,
  // or stop_reason not "tool_use" (Claude Code would never run the tool).
  bool finished = false;
  auto events = convert(tool_stream(), &finished);
  CHECK(finished);
  auto names = names_of(events);
  REQUIRE(names.size() >= 5);
  CHECK(names.front() == "message_start");
  CHECK(names[names.size() - 2] == "message_delta");
  CHECK(names.back() == "message_stop");
  auto blocks = blocks_of(events);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].type == "tool_use");
  CHECK(blocks[0].id == "call_1");
  CHECK(blocks[0].name == "get_weather");
  INFO("partial_json joined: " << blocks[0].json);
  CHECK_THAT(static_cast<const rapidjson::Value&>(parse(blocks[0].json)),
             IsJson(R"({"city":"Paris"})"));
  const auto& delta = event_data(events, "message_delta");
  CHECK(str(at(delta, "/delta/stop_reason")) == "tool_use");
  CHECK_THAT(at(delta, "/usage/output_tokens"), IsJson("10"));
}

TEST_CASE("anthropic inbound stream: text then a tool call are two blocks, closed in turn",
          "[anthropic_inbound]") {
  // Guards against a tool call's deltas sent into the open text block, or two blocks open at once.
  auto events = convert(
      chunk(R"({"role":"assistant","content":""})") + chunk(R"({"content":"Let me "})") +
      chunk(R"({"content":"check."})") +
      chunk(tool_call_delta(
          0,
          R"("id":"call_1","type":"function","function":{"name":"get_weather","arguments":""})")) +
      chunk(tool_call_delta(0, R"("function":{"arguments":"{\"city\":\"Paris\"}"})")) +
      chunk("{}", R"("tool_calls")") + usage_chunk(3, 4) + kDone);
  auto blocks = blocks_of(events);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].type == "text");
  CHECK(blocks[0].text == "Let me check.");
  CHECK(blocks[1].type == "tool_use");
  CHECK(blocks[1].id == "call_1");
  CHECK(blocks[1].name == "get_weather");
  INFO("partial_json joined: " << blocks[1].json);
  CHECK_THAT(static_cast<const rapidjson::Value&>(parse(blocks[1].json)),
             IsJson(R"({"city":"Paris"})"));
  CHECK(str(at(event_data(events, "message_delta"), "/delta/stop_reason")) == "tool_use");
  CHECK(names_of(events).back() == "message_stop");
}

TEST_CASE("anthropic inbound stream: two tool calls are two tool_use blocks",
          "[anthropic_inbound]") {
  // Guards against parallel tool calls merged into one block (their arguments concatenated).
  auto events = convert(
      chunk(R"({"role":"assistant","content":null})") +
      chunk(tool_call_delta(
          0,
          R"("id":"call_1","type":"function","function":{"name":"get_weather","arguments":""})")) +
      chunk(tool_call_delta(0, R"("function":{"arguments":"{\"city\":\"Paris\"}"})")) +
      chunk(tool_call_delta(
          1, R"("id":"call_2","type":"function","function":{"name":"get_time","arguments":""})")) +
      chunk(tool_call_delta(1, R"("function":{"arguments":"{\"tz\":"})")) +
      chunk(tool_call_delta(1, R"("function":{"arguments":"\"CET\"}"})")) +
      chunk("{}", R"("tool_calls")") + usage_chunk(3, 4) + kDone);
  auto blocks = blocks_of(events);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].type == "tool_use");
  CHECK(blocks[0].id == "call_1");
  CHECK(blocks[0].name == "get_weather");
  CHECK(blocks[1].type == "tool_use");
  CHECK(blocks[1].id == "call_2");
  CHECK(blocks[1].name == "get_time");
  INFO("joined: " << blocks[0].json << " | " << blocks[1].json);
  CHECK_THAT(static_cast<const rapidjson::Value&>(parse(blocks[0].json)),
             IsJson(R"({"city":"Paris"})"));
  CHECK_THAT(static_cast<const rapidjson::Value&>(parse(blocks[1].json)),
             IsJson(R"({"tz":"CET"})"));
  CHECK(str(at(event_data(events, "message_delta"), "/delta/stop_reason")) == "tool_use");
}

TEST_CASE("anthropic inbound stream: calls told apart by id alone, or with no id, get own blocks",
          "[anthropic_inbound]") {
  // Guards against: two calls from a server that sends no index merged into one block (invalid
  // JSON in both), an empty tool_use id the client cannot answer, and a tool call ended with
  // "stop" (some OpenAI-compatible servers) read as the end of the turn.
  auto events = convert(
      chunk(R"({"role":"assistant","content":null})") +
      chunk(R"({"tool_calls":[{"id":"call_a","function":{"name":"f","arguments":"{}"}}]})") +
      chunk(R"({"tool_calls":[{"id":"call_b","function":{"name":"g","arguments":"{}"}}]})") +
      chunk(R"({"tool_calls":[{"index":5,"function":{"name":"h","arguments":"{}"}}]})") +
      chunk("{}", R"("stop")") + kDone);
  auto blocks = blocks_of(events);
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0].id == "call_a");
  CHECK(blocks[1].id == "call_b");
  CHECK_FALSE(blocks[2].id.empty());
  CHECK(blocks[2].id != blocks[0].id);
  CHECK(str(at(event_data(events, "message_delta"), "/delta/stop_reason")) == "tool_use");
}

TEST_CASE("anthropic inbound: an answer with tool calls ended with stop is a tool_use turn",
          "[anthropic_inbound]") {
  auto message = to_anthropic_message(
      R"({"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,)"
      R"("tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}},)"
      R"({"type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"stop"}]})");
  REQUIRE(message.has_value());
  auto doc = parse(*message);
  CHECK(str(at(doc, "/stop_reason")) == "tool_use");
  // No ids from the upstream: each block still has its own.
  CHECK(str(at(doc, "/content/0/id")) != str(at(doc, "/content/1/id")));
  CHECK_FALSE(str(at(doc, "/content/0/id")).empty());
}

TEST_CASE("anthropic inbound stream: OpenAI's usual first chunk opens no empty block",
          "[anthropic_inbound]") {
  // Guards against the empty content of OpenAI's first chunk ({"role":"assistant","content":""})
  // producing a second text block or a stray block before the text.
  auto events =
      convert(chunk(R"({"role":"assistant","content":""})") + chunk(R"({"content":"Hel"})") +
              chunk(R"({"content":"lo"})") + chunk("{}", R"("stop")") + usage_chunk(5, 2) + kDone);
  auto blocks = blocks_of(events);
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].type == "text");
  CHECK(blocks[0].text == "Hello");
}

TEST_CASE("anthropic inbound stream: finish_reason length becomes max_tokens",
          "[anthropic_inbound]") {
  // Guards against a truncated answer reported as a finished turn.
  auto events = convert(chunk(R"({"role":"assistant"})") + chunk(R"({"content":"Hi"})") +
                        chunk("{}", R"("length")") + usage_chunk(5, 1) + kDone);
  CHECK(str(at(event_data(events, "message_delta"), "/delta/stop_reason")) == "max_tokens");
  CHECK(names_of(events).back() == "message_stop");
}

TEST_CASE("anthropic inbound stream: an error frame becomes an error event and ends the stream",
          "[anthropic_inbound]") {
  // Guards against a failed upstream stream looking like a normal end (message_stop) to the
  // client, or the error's message being lost.
  bool finished = false;
  auto events = convert(
      chunk(R"({"role":"assistant"})") + chunk(R"({"content":"Hel"})") +
          frame(R"({"error":{"message":"boom","type":"upstream_error","param":null,"code":null}})"),
      &finished);
  CHECK(finished);
  auto names = names_of(events);
  INFO("events: " << Catch::Detail::stringify(names));
  REQUIRE_FALSE(names.empty());
  CHECK(names.back() == "error");
  CHECK(std::find(names.begin(), names.end(), "message_stop") == names.end());
  const auto& error = events.back().data;
  CHECK(str(at(error, "/type")) == "error");
  CHECK(at(error, "/error/type").IsString());
  CHECK(str(at(error, "/error/message")) == "boom");
}

TEST_CASE(
    "anthropic inbound stream: a frame that is not a JSON chunk ends the stream with an error",
    "[anthropic_inbound]") {
  // Guards against a crash, silently skipped data, or a client left waiting: an OpenAI-format
  // upstream's events reach the writer unparsed (the relay's verbatim path), so a broken one
  // ("data: {not json", "data: [DONE] " with a space) must end the stream, saying so.
  for (const std::string& prefix : {std::string(), chunk(R"({"role":"assistant"})")}) {
    for (const std::string& bad :
         {std::string("{not json"), std::string("[DONE] "), std::string("null")}) {
      INFO("after: " << prefix << " bad: " << bad);
      AnthropicStreamWriter writer;
      std::string out;
      REQUIRE(writer.feed(prefix + "data: " + bad + "\n\n" + chunk(R"({"content":"late"})"), out));
      CHECK(writer.finished());
      CHECK(out.find("event: error\n") != std::string::npos);
      CHECK(out.find("late") == std::string::npos);  // nothing after the error
      CHECK(out.find("message_stop") == std::string::npos);
    }
  }
}

// =============================================================================================
// Extended thinking on the way out

TEST_CASE("anthropic inbound: Claude's thinking blocks come first, with their signatures",
          "[anthropic_inbound]") {
  // Guards against thinking lost from the answer, blocks out of Claude's order (thinking first),
  // or a signature dropped, without which the client cannot send the block back.
  auto m = anthropic(
      R"({"id":"msg_1","object":"chat.completion","model":"claude-sonnet-4-5","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"Let me check.","reasoning_content":"hmm",)"
      R"("thinking_blocks":[{"type":"thinking","thinking":"hmm","signature":"c2ln"},)"
      R"({"type":"redacted_thinking","data":"cmVk"}],)"
      R"("tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{}"}}]},)"
      R"("finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7}})");
  CHECK_THAT(at(m, "/content"),
             IsJson(R"([{"type":"thinking","thinking":"hmm","signature":"c2ln"},)"
                    R"({"type":"redacted_thinking","data":"cmVk"},)"
                    R"({"type":"text","text":"Let me check."},)"
                    R"({"type":"tool_use","id":"toolu_1","name":"f","input":{}}])"));
}

TEST_CASE("anthropic inbound: another provider's reasoning is an unsigned thinking block",
          "[anthropic_inbound]") {
  // Guards against the reasoning of Gemini or DeepSeek (reasoning_content, no signature) hidden
  // from a client that shows thinking, or shown with a made-up signature.
  auto m = anthropic(
      R"({"id":"c","object":"chat.completion","model":"gemini-2.5-flash","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"Blue.","reasoning_content":"Rayleigh."},)"
      R"("finish_reason":"stop"}]})");
  CHECK_THAT(at(m, "/content"),
             IsJson(R"([{"type":"thinking","thinking":"Rayleigh.","signature":""},)"
                    R"({"type":"text","text":"Blue."}])"));
}

TEST_CASE("anthropic inbound stream: thinking, its signature and a redacted block become blocks",
          "[anthropic_inbound]") {
  // Guards against thinking deltas sent as text, a signature lost or sent to the wrong block, and
  // a redacted block left open.
  const std::string bytes =
      chunk(R"({"role":"assistant","content":""})") + chunk(R"({"reasoning_content":"Two plus"})") +
      chunk(R"({"reasoning_content":" two."})") +
      chunk(R"({"thinking_blocks":[{"type":"thinking","thinking":"","signature":"c2ln"}]})") +
      chunk(R"({"thinking_blocks":[{"type":"redacted_thinking","data":"cmVk"}]})") +
      chunk(R"({"content":"4"})") + chunk("{}", R"("stop")") + usage_chunk(5, 9) + kDone;
  bool finished = false;
  auto events = convert(bytes, &finished);
  CHECK(finished);
  auto blocks = blocks_of(events);
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0].type == "thinking");
  CHECK(blocks[0].text == "Two plus two.");
  CHECK(blocks[0].signature == "c2ln");
  CHECK(blocks[1].type == "redacted_thinking");
  CHECK(blocks[1].signature == "cmVk");
  CHECK(blocks[2].type == "text");
  CHECK(blocks[2].text == "4");
}

TEST_CASE("anthropic inbound stream: unsigned reasoning is a thinking block closed by the text",
          "[anthropic_inbound]") {
  // Guards against another provider's reasoning_content deltas lost or mixed into the text block.
  const std::string bytes = chunk(R"({"reasoning_content":"Rayleigh"})") +
                            chunk(R"({"content":"Blue"})") + chunk("{}", R"("stop")") + kDone;
  auto blocks = blocks_of(convert(bytes));
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].type == "thinking");
  CHECK(blocks[0].text == "Rayleigh");
  CHECK(blocks[0].signature.empty());
  CHECK(blocks[1].type == "text");
  CHECK(blocks[1].text == "Blue");
}

TEST_CASE("anthropic inbound stream: a signed entry repeating streamed text does not repeat it",
          "[anthropic_inbound]") {
  // Guards against thinking shown twice: keygate's own Claude stream (and LiteLLM-style ones)
  // send the text as reasoning_content and again, whole, in the entry with the signature; an
  // upstream that sends only the entry still gets its text through. Entries that are not objects
  // are skipped, not a crash.
  const std::string both =
      chunk(R"({"reasoning_content":"abc"})") + chunk(R"({"reasoning_content":"def"})") +
      chunk(
          R"({"thinking_blocks":[7,"x",{"type":"thinking","thinking":"abcdef","signature":"s"}]})") +
      chunk(R"({"content":"ok"})") + chunk("{}", R"("stop")") + kDone;
  auto blocks = blocks_of(convert(both));
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].text == "abcdef");
  CHECK(blocks[0].signature == "s");
  const std::string entry_only =
      chunk(R"({"thinking_blocks":[{"type":"thinking","thinking":"xyz","signature":"s"}]})") +
      chunk(R"({"content":"ok"})") + chunk("{}", R"("stop")") + kDone;
  auto only = blocks_of(convert(entry_only));
  REQUIRE(only.size() == 2);
  CHECK(only[0].text == "xyz");
  CHECK(only[0].signature == "s");
}

TEST_CASE("anthropic inbound: thinking_blocks in an answer are written with their fields only",
          "[anthropic_inbound]") {
  // Guards against an upstream's odd entry (null signature, extra keys) reaching the SDK as is,
  // and against an empty thinking_blocks hiding the reasoning_content.
  auto odd = anthropic(
      R"({"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":)"
      R"({"role":"assistant","content":"A","thinking_blocks":[{"type":"thinking","thinking":"t",)"
      R"("signature":null,"extra":1}]},"finish_reason":"stop"}]})");
  CHECK_THAT(at(odd, "/content/0"), IsJson(R"({"type":"thinking","thinking":"t","signature":""})"));
  auto empty = anthropic(
      R"({"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":)"
      R"({"role":"assistant","content":"A","reasoning_content":"r","thinking_blocks":[]},)"
      R"("finish_reason":"stop"}]})");
  CHECK_THAT(at(empty, "/content/0"),
             IsJson(R"({"type":"thinking","thinking":"r","signature":""})"));
}

TEST_CASE("anthropic inbound: cached and cache-written tokens are reported apart from input",
          "[anthropic_inbound]") {
  // Guards against cache reads and writes counted as plain input (Claude Code would show a cache
  // that never hits, and price every token as a miss), in answers and in streams.
  auto m = anthropic(
      R"({"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":)"
      R"({"role":"assistant","content":"A"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,)"
      R"("completion_tokens":7,"prompt_tokens_details":{"cached_tokens":60},)"
      R"("cache_creation_input_tokens":30}})");
  CHECK_THAT(at(m, "/usage"), IsJson(R"({"input_tokens":10,"cache_creation_input_tokens":30,)"
                                     R"("cache_read_input_tokens":60,"output_tokens":7})"));
  const std::string usage =
      R"(data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{)"
      R"("prompt_tokens":100,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":60}}})"
      "\n\n";
  auto events = convert(chunk(R"({"content":"A"})") + chunk("{}", R"("stop")") + usage + kDone);
  CHECK_THAT(at(event_data(events, "message_delta"), "/usage"),
             IsJson(R"({"input_tokens":40,"cache_creation_input_tokens":0,)"
                    R"("cache_read_input_tokens":60,"output_tokens":7})"));
}

TEST_CASE("anthropic inbound: OpenRouter's cache writes are reported apart too",
          "[anthropic_inbound]") {
  // Guards against cache writes counted as input when they come in OpenRouter's field.
  auto m = anthropic(
      R"({"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":)"
      R"({"role":"assistant","content":"A"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,)"
      R"("completion_tokens":5,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":900}}})");
  CHECK_THAT(at(m, "/usage"), IsJson(R"({"input_tokens":100,"cache_creation_input_tokens":900,)"
                                     R"("cache_read_input_tokens":0,"output_tokens":5})"));
}

TEST_CASE("anthropic inbound: a cache mark inside a tool result marks the tool message",
          "[anthropic_inbound]") {
  // Guards against a mark Claude Code put on a tool result's last block being dropped.
  auto d = openai(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[)"
                  R"({"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"x",)"
                  R"("cache_control":{"type":"ephemeral"}}]}]}]})");
  CHECK_THAT(at(d, "/messages/0/cache_control"), IsJson(R"({"type":"ephemeral"})"));
}

TEST_CASE("anthropic inbound: PDF and plain-text documents become file and text parts",
          "[anthropic_inbound]") {
  // Guards against a 400 for the documents every provider keygate routes to can read, and
  // against a PDF's data or title lost on the way.
  auto d = openai(
      R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[)"
      R"({"type":"document","title":"report.pdf","source":{"type":"base64",)"
      R"("media_type":"application/pdf","data":"JVBERi0x"},"cache_control":{"type":"ephemeral"}},)"
      R"({"type":"document","source":{"type":"text","media_type":"text/plain","data":"notes"}},)"
      R"({"type":"text","text":"Summarise."}]}]})");
  CHECK_THAT(at(d, "/messages/0/content"),
             IsJson(R"([{"type":"file","file":{"filename":"report.pdf",)"
                    R"("file_data":"data:application/pdf;base64,JVBERi0x"},)"
                    R"("cache_control":{"type":"ephemeral"}},)"
                    R"({"type":"text","text":"notes"},{"type":"text","text":"Summarise."}])"));
}

TEST_CASE("anthropic inbound: the client's anthropic-beta header travels with the request",
          "[anthropic_inbound]") {
  // Guards against the betas Claude Code asks for being lost before the Anthropic adapter.
  const std::string body =
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})";
  auto with = keygate::providers::to_openai_request(
      body, keygate::providers::MessagesRequest::message, "interleaved-thinking-2025-05-14");
  REQUIRE(with.has_value());
  CHECK(str(at(parse(*with), "/anthropic_beta")) == "interleaved-thinking-2025-05-14");
  auto without = keygate::providers::to_openai_request(body);
  REQUIRE(without.has_value());
  CHECK_FALSE(has(parse(*without), "/anthropic_beta"));
}

TEST_CASE("anthropic inbound: Claude-only settings travel under \"anthropic\"",
          "[anthropic_inbound]") {
  // Guards against output_config (Claude's effort), context_management and service_tier being
  // dropped on the way to the Anthropic adapter.
  auto d = openai(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],)"
                  R"("output_config":{"effort":"low"},"context_management":{"edits":[]}})");
  CHECK_THAT(at(d, "/anthropic"),
             IsJson(R"({"output_config":{"effort":"low"},"context_management":{"edits":[]}})"));
  CHECK_FALSE(has(openai(R"({"model":"m","max_tokens":5,)"
                         R"("messages":[{"role":"user","content":"hi"}]})"),
                  "/anthropic"));
}

TEST_CASE("an OpenAI answer that cannot become a message is the upstream's fault: a 502",
          "[anthropic_inbound]") {
  // Guards against a broken upstream answer reported as keygate's own error (a 500), where the
  // chat and Responses routes say 502.
  for (
      const char* answer : {
          R"({"id":"c","object":"chat.completion","choices":{}})",
          R"({"id":"c","object":"chat.completion","choices":[]})",
          R"({"id":"c","object":"chat.completion","choices":[5]})",
          R"({"choices":[{"message":{"role":"assistant","tool_calls":[{"id":"t","function":{}}]}}]})",
          "not json",
      }) {
    INFO(answer);
    auto r = to_anthropic_message(answer);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 502);
  }
}
