// Claude's own tools and blocks through /v1/messages (providers/claude_native.hpp): a server
// tool (web search) reaches Claude as the client wrote it, an assistant turn with Claude's own
// blocks goes back to Claude as it came, and Claude's answer, whole or streamed, reaches the
// client of Claude's API byte for byte. Other providers refuse Claude's tools and get the text.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "builtin_adapters.hpp"
#include "providers/anthropic_inbound.hpp"
#include "providers/claude_native.hpp"
#include "providers/sse.hpp"
#include "providers/wire.hpp"
#include "schema/json.hpp"

namespace {

using keygate::providers::AnthropicStreamWriter;
using keygate::providers::ChatOptions;
using keygate::providers::SseEvent;
using keygate::providers::Usage;
using keygate::testing::builtin_adapter;
using keygate::testing::parse_object;

// A web search turn as Claude answers it: its call, its result (encrypted, which Claude needs
// back as it was) and text that cites the result.
// https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool
const std::string kSearchTurn =
    R"([{"type":"text","text":"Let me search."},)"
    R"({"type":"server_tool_use","id":"srvtoolu_1","name":"web_search",)"
    R"("input":{"query":"keygate"}},)"
    R"({"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[)"
    R"({"type":"web_search_result","url":"https://example.com/k","title":"Keygate",)"
    R"("encrypted_content":"EqgfCioIARgBIiQ3","page_age":null}]},)"
    R"({"type":"text","text":"Keygate is a gateway.","citations":[)"
    R"({"type":"web_search_result_location","url":"https://example.com/k","title":"Keygate",)"
    R"("encrypted_index":"Eo8BCioIAhgB","cited_text":"a gateway"}]}])";

const std::string kWebSearchTool =
    R"({"type":"web_search_20250305","name":"web_search","max_uses":3,)"
    R"("allowed_domains":["example.com"]})";

// A follow-up question after a web search turn, as @anthropic-ai/sdk sends it.
std::string follow_up() {
  return R"({"model":"claude-sonnet-4-5","max_tokens":500,"messages":[)"
         R"({"role":"user","content":"What is keygate?"},)"
         R"({"role":"assistant","content":)" +
         kSearchTurn +
         R"(},{"role":"user","content":"And who makes it?"}],)"
         R"("tools":[{"name":"lookup","input_schema":{"type":"object"}},)" +
         kWebSearchTool + "]}";
}

rapidjson::Document routed(const std::string& messages_request) {
  auto openai = keygate::providers::to_openai_request(messages_request);
  REQUIRE(openai.has_value());
  return parse_object(*openai);
}

const std::string kClaudeAnswer =
    R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",)"
    R"("content":)" +
    kSearchTurn +
    R"(,"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":120,)"
    R"("cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":40,)"
    R"("server_tool_use":{"web_search_requests":1}}})";

// Claude's stream of the same turn: a server tool's input arrives as input_json_delta, its
// result whole in its start event, citations as citations_delta.
// https://docs.anthropic.com/en/docs/build-with-claude/streaming#web-search-tool
std::vector<std::string> claude_events() {
  return {
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
      R"("model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,)"
      R"("stop_sequence":null,"usage":{"input_tokens":120,"output_tokens":1}}})",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me search."}})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use",)"
      R"("id":"srvtoolu_1","name":"web_search","input":{}}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",)"
      R"("partial_json":"{\"query\": \"keygate\"}"}})",
      R"({"type":"content_block_stop","index":1})",
      R"({"type":"content_block_start","index":2,"content_block":{"type":"web_search_tool_result",)"
      R"("tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result",)"
      R"("url":"https://example.com/k","title":"Keygate","encrypted_content":"EqgfCioIARgBIiQ3"}]}})",
      R"({"type":"content_block_stop","index":2})",
      R"({"type":"ping"})",
      R"({"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}})",
      R"({"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":)"
      R"({"type":"web_search_result_location","url":"https://example.com/k","title":"Keygate",)"
      R"("encrypted_index":"Eo8BCioIAhgB","cited_text":"a gateway"}}})",
      R"({"type":"content_block_delta","index":3,"delta":{"type":"text_delta",)"
      R"("text":"Keygate is a gateway."}})",
      R"({"type":"content_block_stop","index":3})",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
      R"("usage":{"output_tokens":40,"server_tool_use":{"web_search_requests":1}}})",
      R"({"type":"message_stop"})",
  };
}

std::string type_of(const std::string& event) {
  auto doc = parse_object(event);
  return doc["type"].GetString();
}

// What keygate's pipeline makes of Claude's stream: the adapter's chunks, framed as the relay
// frames them ("data: <chunk>" and a blank line).
std::string relayed(const ChatOptions& options, Usage& usage) {
  auto stream = builtin_adapter("anthropic").start_stream(options, "claude-sonnet-4-5");
  std::string frames;
  std::vector<std::string> out;
  for (const auto& event : claude_events()) {
    out.clear();
    auto ok = stream->on_event(SseEvent{type_of(event), event}, out);
    REQUIRE(ok.has_value());
    for (const auto& chunk : out) {
      frames += "data: " + chunk + "\n\n";
    }
  }
  out.clear();
  REQUIRE(stream->on_end(out).has_value());
  REQUIRE(out.empty());
  usage = stream->usage();
  return frames;
}

}  // namespace

TEST_CASE("claude native: Claude's server tools travel in tools as the client wrote them",
          "[claude_native]") {
  // Guards against a web search request being refused (Claude Code's WebSearch), or reaching
  // Claude changed: Claude reads max_uses, allowed_domains, ... from the tool itself.
  auto request = routed(follow_up());
  const auto& tools = request["tools"];
  REQUIRE(tools.Size() == 2);
  CHECK(std::string(tools[0]["type"].GetString()) == "function");
  CHECK(keygate::to_json(tools[1]) == keygate::to_json(parse_object(kWebSearchTool)));

  auto built = builtin_adapter("anthropic").build_chat_request(request, {}, "claude-sonnet-4-5");
  REQUIRE(built.has_value());
  auto sent = parse_object(built->body);
  REQUIRE(sent["tools"].Size() == 2);
  CHECK(std::string(sent["tools"][0]["name"].GetString()) == "lookup");
  CHECK(keygate::to_json(sent["tools"][1]) == keygate::to_json(parse_object(kWebSearchTool)));
}

TEST_CASE("claude native: a turn with Claude's own blocks goes back to Claude as it came",
          "[claude_native]") {
  // Guards against the search result (whose encrypted content Claude checks) or the citations
  // being dropped or rebuilt: Claude refuses a cited turn that does not match what it sent.
  auto request = routed(follow_up());
  const auto& assistant = request["messages"][1];
  REQUIRE(assistant.HasMember("anthropic_content"));
  CHECK(keygate::to_json(assistant["anthropic_content"]) ==
        keygate::to_json(parse_object(R"({"c":)" + kSearchTurn + "}")["c"]));
  // The other providers read the turn's text; a server tool's call is not the client's call.
  CHECK(std::string(assistant["content"].GetString()) == "Let me search.Keygate is a gateway.");
  CHECK_FALSE(assistant.HasMember("tool_calls"));

  auto built = builtin_adapter("anthropic").build_chat_request(request, {}, "claude-sonnet-4-5");
  REQUIRE(built.has_value());
  auto sent = parse_object(built->body);
  CHECK(keygate::to_json(sent["messages"][1]["content"]) ==
        keygate::to_json(parse_object(R"({"c":)" + kSearchTurn + "}")["c"]));
}

TEST_CASE("claude native: a plain turn is translated as before, with no copy of its blocks",
          "[claude_native]") {
  // Guards against every assistant turn doubling in size on the way through keygate.
  auto request = routed(
      R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"},)"
      R"({"role":"assistant","content":[{"type":"text","text":"Hello"},)"
      R"({"type":"tool_use","id":"t1","name":"lookup","input":{}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]})");
  CHECK_FALSE(request["messages"][1].HasMember("anthropic_content"));
  CHECK(request["messages"][1]["tool_calls"].Size() == 1);
}

TEST_CASE("claude native: unsigned thinking in a turn of Claude's blocks is left out",
          "[claude_native]") {
  // Guards against Claude refusing a conversation that another provider's reasoning joined.
  auto request = parse_object(
      R"({"model":"m","messages":[{"role":"user","content":"hi"},)"
      R"({"role":"assistant","anthropic_content":[{"type":"thinking","thinking":"hm","signature":""},)"
      R"({"type":"thinking","thinking":"ok","signature":"sig"},)"
      R"({"type":"server_tool_use","id":"s1","name":"web_search","input":{}}]},)"
      R"({"role":"user","content":"go on"}]})");
  auto built = builtin_adapter("anthropic").build_chat_request(request, {}, "claude-sonnet-4-5");
  REQUIRE(built.has_value());
  const auto& content = parse_object(built->body)["messages"][1]["content"];
  REQUIRE(content.Size() == 2);
  CHECK(std::string(content[0]["signature"].GetString()) == "sig");
  CHECK(std::string(content[1]["type"].GetString()) == "server_tool_use");

  auto bad = parse_object(R"({"model":"m","messages":[{"role":"user","content":"hi"},)"
                          R"({"role":"assistant","anthropic_content":[{"text":"no type"}]}]})");
  auto refused = builtin_adapter("anthropic").build_chat_request(bad, {}, "claude-sonnet-4-5");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().status == 400);
  CHECK(refused.error().param == "messages[1].anthropic_content[0].type");
}

TEST_CASE("claude native: other providers refuse Claude's tools and read the turn's text",
          "[claude_native]") {
  // Guards against a model answering without the search it was given (the tool silently
  // dropped), and against Claude's blocks reaching a provider that refuses unknown fields.
  auto request = routed(follow_up());
  for (const char* provider : {"openai", "google", "groq"}) {
    INFO(provider);
    auto refused = builtin_adapter(provider).build_chat_request(request, {}, "some-model");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().status == 400);
    CHECK(refused.error().code == "unsupported_tool");
    CHECK(refused.error().param == "tools[1].type");
  }
  request["tools"].Erase(request["tools"].Begin() + 1);
  auto built = builtin_adapter("openai").build_chat_request(request, {}, "gpt-4o");
  REQUIRE(built.has_value());
  auto sent = parse_object(built->body);
  CHECK_FALSE(sent["messages"][1].HasMember("anthropic_content"));
  CHECK(std::string(sent["messages"][1]["content"].GetString()) ==
        "Let me search.Keygate is a gateway.");
  auto gemini = builtin_adapter("google").build_chat_request(request, {}, "gemini-2.5-flash");
  REQUIRE(gemini.has_value());
  CHECK(gemini->body.find("anthropic_content") == std::string::npos);
  CHECK(gemini->body.find("Keygate is a gateway.") != std::string::npos);
}

TEST_CASE("claude native: Claude's tool types are told from OpenAI's", "[claude_native]") {
  using keygate::providers::wire::is_claude_tool_type;
  CHECK(is_claude_tool_type("web_search_20250305"));
  CHECK(is_claude_tool_type("code_execution_20250825"));
  CHECK_FALSE(is_claude_tool_type("function"));
  CHECK_FALSE(is_claude_tool_type("custom"));
  CHECK_FALSE(is_claude_tool_type("_20250305"));
  CHECK_FALSE(is_claude_tool_type("web_search_2025030"));
  CHECK_FALSE(is_claude_tool_type("web_search-20250305"));
}

TEST_CASE("claude native: a client of Claude's API gets Claude's message byte for byte",
          "[claude_native]") {
  // Guards against the search result, citations and server-tool usage being lost in a
  // translation through OpenAI's shape, and against the usage going unrecorded.
  const auto& claude = builtin_adapter("anthropic");
  ChatOptions options;
  options.anthropic_client = true;
  Usage usage;
  std::string storage;
  auto answer =
      claude.translate_answer(kClaudeAnswer, options, "claude-sonnet-4-5", usage, storage);
  REQUIRE(answer.has_value());
  auto message = keygate::providers::to_anthropic_message(*answer);
  REQUIRE(message.has_value());
  CHECK(*message == kClaudeAnswer);
  CHECK(usage.prompt_tokens == 130);
  CHECK(usage.cached_tokens == 10);
  CHECK(usage.completion_tokens == 40);

  // An OpenAI client gets the translation: the text, no server tool call among its tool calls.
  Usage openai_usage;
  auto translated = claude.translate_answer(kClaudeAnswer, ChatOptions{}, "claude-sonnet-4-5",
                                            openai_usage, storage);
  REQUIRE(translated.has_value());
  auto completion = parse_object(*translated);
  const auto& msg = completion["choices"][0]["message"];
  CHECK(std::string(msg["content"].GetString()) == "Let me search.Keygate is a gateway.");
  CHECK_FALSE(msg.HasMember("tool_calls"));
  CHECK_FALSE(completion.HasMember(keygate::providers::claude_message_key().c_str()));
  CHECK(openai_usage.completion_tokens == 40);

  // A malformed answer is still the upstream's error, not a message passed on.
  Usage ignored;
  auto bad =
      claude.translate_answer(R"({"id":"m","content":"no"})", options, "m", ignored, storage);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().status == 502);
}

TEST_CASE("claude native: a client of Claude's API gets Claude's stream event for event",
          "[claude_native]") {
  // Guards against a streamed web search losing its blocks (the translation has no place for
  // them) and against events changing on the way: the client sees what Claude sent.
  ChatOptions options;
  options.stream = true;
  options.anthropic_client = true;
  Usage usage;
  const std::string frames = relayed(options, usage);
  CHECK(usage.prompt_tokens == 120);
  CHECK(usage.completion_tokens == 40);

  std::string expected;
  for (const auto& event : claude_events()) {
    expected += "event: " + type_of(event) + "\ndata: " + event + "\n\n";
  }
  // Split anywhere, the writer gives the same events.
  for (std::size_t piece : {frames.size(), std::size_t{1}, std::size_t{7}, std::size_t{100}}) {
    INFO(piece);
    AnthropicStreamWriter writer;
    std::string events;
    for (std::size_t at = 0; at < frames.size(); at += piece) {
      REQUIRE(writer.feed(std::string_view(frames).substr(at, piece), events).has_value());
    }
    CHECK(events == expected);
    CHECK(writer.finished());
  }
}

TEST_CASE("claude native: an OpenAI client's stream skips Claude's server blocks",
          "[claude_native]") {
  // Guards against a server tool's input_json_delta ending an OpenAI client's stream with an
  // error (it is not one of the client's tool calls).
  ChatOptions options;
  options.stream = true;
  Usage usage;
  const std::string frames = relayed(options, usage);
  CHECK(frames.find("keygate_claude_event") == std::string::npos);
  CHECK(frames.find("tool_calls") == std::string::npos);
  CHECK(frames.find(R"("content":"Keygate is a gateway.")") != std::string::npos);
  CHECK(frames.find("[DONE]") != std::string::npos);
}

TEST_CASE("claude native: a wrapped event that is not Claude's ends the stream with an error",
          "[claude_native]") {
  // Guards against an event name with a line break adding lines to the client's stream, and
  // against a stream that stops after [DONE] without message_stop being taken for complete.
  using keygate::providers::claude_event_key;
  using keygate::providers::wrap_claude;
  for (const std::string& event :
       {std::string(R"({"type":"ping\nevent: x"})"), std::string(R"({"type":""})"),
        std::string(R"({"no":"type"})"), std::string("[1,2]")}) {
    INFO(event);
    AnthropicStreamWriter writer;
    std::string out;
    REQUIRE(
        writer.feed("data: " + wrap_claude(claude_event_key(), event) + "\n\n", out).has_value());
    CHECK(out.starts_with("event: error\n"));
    CHECK(writer.finished());
  }
  AnthropicStreamWriter writer;
  std::string out;
  const std::string start = claude_events().front();
  REQUIRE(
      writer.feed("data: " + wrap_claude(claude_event_key(), start) + "\n\ndata: [DONE]\n\n", out)
          .has_value());
  CHECK(out.find("event: message_start\n") == 0);
  CHECK(out.find("event: error\n") != std::string::npos);
  CHECK(writer.finished());
}

TEST_CASE("claude native: only this process's wrapper passes an answer on as it came",
          "[claude_native]") {
  // Guards against an OpenAI-format upstream (whose answers pass keygate verbatim) writing a
  // wrapper itself, to send its client events or a message keygate would not check.
  using keygate::providers::claude_event_key;
  using keygate::providers::claude_message_key;
  using keygate::providers::to_anthropic_message;
  using keygate::providers::wrap_claude;
  CHECK(claude_message_key().starts_with("keygate_claude_message_"));
  CHECK(claude_message_key().size() == std::string("keygate_claude_message_").size() + 16);
  CHECK(claude_event_key() != claude_message_key());

  const std::string message = R"({"id":"msg_x","type":"message","content":[]})";
  auto own = to_anthropic_message(wrap_claude(claude_message_key(), message));
  REQUIRE(own.has_value());
  CHECK(*own == message);
  // A guessed name is read as an OpenAI answer (it has no choices: an error).
  auto guessed = to_anthropic_message(wrap_claude("keygate_claude_message", message));
  REQUIRE_FALSE(guessed.has_value());
  CHECK(guessed.error().message.find("no choices") != std::string::npos);
  // The real name around more than one JSON object is refused, not passed on.
  auto more = to_anthropic_message(wrap_claude(claude_message_key(), message + R"(,"more":1)"));
  REQUIRE_FALSE(more.has_value());
  CHECK(more.error().message.find("not a JSON object") != std::string::npos);

  // A stream event with the guessed name is an OpenAI chunk (no choices: nothing to write).
  AnthropicStreamWriter writer;
  std::string out;
  const std::string guessed_event =
      wrap_claude("keygate_claude_event", R"({"type":"message_stop"})");
  REQUIRE(writer.feed("data: " + guessed_event + "\n\n", out).has_value());
  CHECK(out.find("event: message_stop") == std::string::npos);
}

TEST_CASE("claude native: an event spread over lines reaches the client on one line",
          "[claude_native]") {
  // Guards against a line break inside an event's JSON ending the event early in the client's
  // stream (SSE ends an event at a blank line).
  ChatOptions options;
  options.stream = true;
  options.anthropic_client = true;
  auto stream = builtin_adapter("anthropic").start_stream(options, "claude-sonnet-4-5");
  std::vector<std::string> out;
  REQUIRE(stream->on_event(SseEvent{"message_start", claude_events().front()}, out).has_value());
  REQUIRE(stream->on_event(SseEvent{"ping", "{\"type\":\n\n\"ping\"}"}, out).has_value());
  REQUIRE(out.size() == 2);
  CHECK(out[1].find('\n') == std::string::npos);
  AnthropicStreamWriter writer;
  std::string events;
  REQUIRE(writer.feed("data: " + out[0] + "\n\ndata: " + out[1] + "\n\n", events).has_value());
  CHECK(events.find("event: ping\ndata: {\"type\":\"ping\"}\n\n") != std::string::npos);
}

TEST_CASE("claude native: a turn of one cited text block keeps its citations", "[claude_native]") {
  // Guards against a lone cited block being sent as plain string content (its citations lost).
  auto request =
      routed(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"},)"
             R"({"role":"assistant","content":[{"type":"text","text":"A gateway.","citations":[)"
             R"({"type":"web_search_result_location","url":"https://e.com","title":"E",)"
             R"("encrypted_index":"Eo8B","cited_text":"gateway"}]}]},)"
             R"({"role":"user","content":"more"}]})");
  auto built = builtin_adapter("anthropic").build_chat_request(request, {}, "claude-sonnet-4-5");
  REQUIRE(built.has_value());
  const auto& content = parse_object(built->body)["messages"][1]["content"];
  REQUIRE(content.IsArray());
  CHECK(content[0]["citations"].Size() == 1);

  auto textless = parse_object(R"({"model":"m","messages":[{"role":"user","content":"hi"},)"
                               R"({"role":"assistant","anthropic_content":[{"type":"text"}]}]})");
  auto refused = builtin_adapter("anthropic").build_chat_request(textless, {}, "claude-sonnet-4-5");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().param == "messages[1].anthropic_content[0].text");
}
