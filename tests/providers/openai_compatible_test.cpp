#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "providers/catalog.hpp"
#include "schema/json.hpp"

using keygate::Error;
using keygate::providers::Adapter;
using keygate::providers::Catalog;
using keygate::providers::ChatOptions;
using keygate::providers::SseEvent;
using keygate::providers::StreamTranslator;
using keygate::providers::Usage;

namespace {

const Catalog& catalog() {
  static const Catalog c = [] {
    auto r = Catalog::builtin();
    REQUIRE(r.has_value());
    return std::move(*r);
  }();
  return c;
}

const Adapter& adapter(std::string_view provider) {
  const auto* p = catalog().find(provider);
  REQUIRE(p);
  return *p->adapter;
}

rapidjson::Document json(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

SseEvent data(std::string d) {
  return SseEvent{{}, std::move(d)};
}

constexpr std::string_view kChunk =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",)"
    R"("choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null})";
constexpr std::string_view kUsageChunk =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",)"
    R"("choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,)"
    R"("prompt_tokens_details":{"cached_tokens":4},)"
    R"("completion_tokens_details":{"reasoning_tokens":2}}})";

}  // namespace

TEST_CASE("openai: request gets the upstream model and stays otherwise intact", "[openai]") {
  auto req = json(R"({"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],)"
                  R"("temperature":0.5,"user":"u1"})");
  auto up = adapter("openai").build_chat_request(req, ChatOptions{}, "gpt-4o-mini");
  REQUIRE(up.has_value());
  CHECK(up->method == "POST");
  CHECK(up->path == "/chat/completions");
  auto body = json(up->body);
  CHECK(std::string(body["model"].GetString()) == "gpt-4o-mini");
  CHECK(body["temperature"].GetDouble() == 0.5);
  CHECK(std::string(body["user"].GetString()) == "u1");
  CHECK_FALSE(body.HasMember("stream_options"));
  for (const auto& [name, value] : up->headers) {
    CHECK(name != "Authorization");  // adapters never see or set the key
  }
}

TEST_CASE("openai: stream requests ask for usage", "[openai]") {
  SECTION("client did not ask") {
    auto req = json(R"({"model":"gpt-4o","messages":[],"stream":true})");
    auto up = adapter("openai").build_chat_request(req, ChatOptions{true, false}, "gpt-4o");
    REQUIRE(up.has_value());
    auto body = json(up->body);
    CHECK(body["stream"].GetBool());
    CHECK(body["stream_options"]["include_usage"].GetBool());
  }
  SECTION("client asked, other stream options kept") {
    auto req = json(R"({"model":"gpt-4o","messages":[],"stream":true,)"
                    R"("stream_options":{"include_usage":true,"include_obfuscation":false}})");
    auto up = adapter("openai").build_chat_request(req, ChatOptions{true, true}, "gpt-4o");
    REQUIRE(up.has_value());
    auto body = json(up->body);
    CHECK(body["stream_options"]["include_usage"].GetBool());
    CHECK_FALSE(body["stream_options"]["include_obfuscation"].GetBool());
  }
  SECTION("stream_options of the wrong type is a 400, not a crash") {
    auto req = json(R"({"model":"gpt-4o","messages":[],"stream":true,"stream_options":"yes"})");
    auto up = adapter("openai").build_chat_request(req, ChatOptions{true, false}, "gpt-4o");
    REQUIRE_FALSE(up.has_value());
    CHECK(up.error().status == 400);
  }
  SECTION("non-stream drops stream_options, which OpenAI refuses without stream") {
    auto req = json(R"({"model":"gpt-4o","messages":[],"stream_options":{"include_usage":true}})");
    auto up = adapter("openai").build_chat_request(req, ChatOptions{}, "gpt-4o");
    REQUIRE(up.has_value());
    CHECK_FALSE(json(up->body).HasMember("stream_options"));
  }
}

TEST_CASE("openai: a non-object request is an error", "[openai]") {
  auto req = json("[1]");
  auto up = adapter("openai").build_chat_request(req, ChatOptions{}, "gpt-4o");
  REQUIRE_FALSE(up.has_value());
  CHECK(up.error().status == 400);
}

TEST_CASE("openai-compatible: provider renames and drops parameters", "[openai]") {
  SECTION("mistral renames") {
    auto req = json(R"({"model":"mistral/mistral-small-latest","messages":[],"seed":7,)"
                    R"("max_completion_tokens":100})");
    auto up = adapter("mistral").build_chat_request(req, ChatOptions{}, "mistral-small-latest");
    REQUIRE(up.has_value());
    auto body = json(up->body);
    CHECK(body["random_seed"].GetInt() == 7);
    CHECK(body["max_tokens"].GetInt() == 100);
    CHECK_FALSE(body.HasMember("seed"));
    CHECK_FALSE(body.HasMember("max_completion_tokens"));
  }
  SECTION("a rename onto a name the client also set keeps the client's target value") {
    auto req = json(R"({"model":"m","messages":[],"max_completion_tokens":100,"max_tokens":50})");
    auto up = adapter("mistral").build_chat_request(req, ChatOptions{}, "mistral-small-latest");
    REQUIRE(up.has_value());
    auto body = json(up->body);
    CHECK(body["max_tokens"].GetInt() == 50);
    CHECK_FALSE(body.HasMember("max_completion_tokens"));
  }
  SECTION("groq drops what it refuses") {
    auto req = json(R"({"model":"m","messages":[],"logprobs":true,"top_logprobs":2,)"
                    R"("logit_bias":{"1":2},"temperature":1})");
    auto up = adapter("groq").build_chat_request(req, ChatOptions{}, "llama-3.1-8b-instant");
    REQUIRE(up.has_value());
    auto body = json(up->body);
    CHECK_FALSE(body.HasMember("logprobs"));
    CHECK_FALSE(body.HasMember("top_logprobs"));
    CHECK_FALSE(body.HasMember("logit_bias"));
    CHECK(body.HasMember("temperature"));
  }
  SECTION("openai itself renames nothing") {
    auto req = json(R"({"model":"m","messages":[],"seed":7,"logprobs":true})");
    auto up = adapter("openai").build_chat_request(req, ChatOptions{}, "gpt-4o");
    REQUIRE(up.has_value());
    auto body = json(up->body);
    CHECK(body.HasMember("seed"));
    CHECK(body.HasMember("logprobs"));
  }
}

TEST_CASE("openai: responses pass through byte for byte, usage read", "[openai]") {
  // Odd spacing and key order must survive: re-serialising would change them.
  const std::string body =
      "{ \"id\": \"chatcmpl-1\", \"object\": \"chat.completion\", \"choices\": [],\n"
      "  \"usage\": {\"prompt_tokens\": 19, \"completion_tokens\": 10, \"total_tokens\": 29,"
      " \"prompt_tokens_details\": {\"cached_tokens\": 3, \"audio_tokens\": 0},"
      " \"completion_tokens_details\": {\"reasoning_tokens\": 5}}, \"n\": 1.0e0 }";
  Usage usage;
  auto out = adapter("openai").translate_response(body, "gpt-4o", usage);
  REQUIRE(out.has_value());
  CHECK(*out == body);
  CHECK(usage.prompt_tokens == 19);
  CHECK(usage.completion_tokens == 10);
  CHECK(usage.cached_tokens == 3);
  CHECK(usage.reasoning_tokens == 5);
}

TEST_CASE("openai: odd or missing usage does not fail the answer", "[openai]") {
  for (std::string_view body :
       {R"({"choices":[]})", R"({"choices":[],"usage":null})", R"({"choices":[],"usage":"x"})",
        R"({"choices":[],"usage":{"prompt_tokens":"9","completion_tokens":-1,)"
        R"("prompt_tokens_details":null}})"}) {
    INFO(body);
    Usage usage;
    auto out = adapter("openai").translate_response(body, "gpt-4o", usage);
    REQUIRE(out.has_value());
    CHECK_FALSE(usage.reported());
    CHECK(usage.cached_tokens == -1);
  }
}

TEST_CASE("openai: a broken or error 200 body is a 502-style error", "[openai]") {
  Usage usage;
  auto bad = adapter("openai").translate_response("<html>oops</html>", "gpt-4o", usage);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().status == 502);
  auto err = adapter("openai").translate_response(
      R"({"error":{"message":"overloaded","type":"server_error","code":503}})", "gpt-4o", usage);
  REQUIRE_FALSE(err.has_value());
  CHECK(err.error().status == 503);
  CHECK(err.error().message == "overloaded");
}

TEST_CASE("openai: stream chunks are forwarded verbatim", "[openai]") {
  auto s = adapter("openai").start_stream(ChatOptions{true, false}, "gpt-4o-mini");
  std::vector<std::string> out;
  REQUIRE(s->on_event(data(std::string(kChunk)), out));
  REQUIRE(s->on_event(data(std::string(kUsageChunk)), out));
  REQUIRE(s->on_event(data("[DONE]"), out));
  REQUIRE(s->on_end(out));
  // The usage-only chunk was ours (we added include_usage): recorded, not sent.
  REQUIRE(out.size() == 2);
  CHECK(out[0] == kChunk);
  CHECK(out[1] == "[DONE]");
  CHECK(s->usage().prompt_tokens == 9);
  CHECK(s->usage().completion_tokens == 12);
  CHECK(s->usage().cached_tokens == 4);
  CHECK(s->usage().reasoning_tokens == 2);
}

TEST_CASE("openai: OpenRouter's cache writes are read from a stream's usage", "[openai]") {
  // Guards against Claude's cache writes through OpenRouter being priced as plain input.
  auto s =
      adapter("openrouter").start_stream(ChatOptions{true, false}, "anthropic/claude-sonnet-4.5");
  std::vector<std::string> out;
  REQUIRE(s->on_event(
      data(R"({"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":)"
           R"(1000,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":600,)"
           R"("cache_write_tokens":300}}})"),
      out));
  CHECK(s->usage().cached_tokens == 600);
  CHECK(s->usage().cache_write_tokens == 300);
}

TEST_CASE("openai: the usage chunk reaches a client that asked for it", "[openai]") {
  auto s = adapter("openai").start_stream(ChatOptions{true, true}, "gpt-4o-mini");
  std::vector<std::string> out;
  REQUIRE(s->on_event(data(std::string(kChunk)), out));
  REQUIRE(s->on_event(data(std::string(kUsageChunk)), out));
  REQUIRE(s->on_event(data("[DONE]"), out));
  REQUIRE(out.size() == 3);
  CHECK(out[1] == kUsageChunk);
  CHECK(s->usage().prompt_tokens == 9);
}

TEST_CASE("openai: usage inside a content chunk is recorded and the chunk kept", "[openai]") {
  // Some compatible servers (e.g. Groq, vLLM) put usage on the last content chunk.
  const std::string chunk = R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],)"
                            R"("usage":{"prompt_tokens":3,"completion_tokens":4}})";
  auto s = adapter("groq").start_stream(ChatOptions{true, false}, "llama-3.1-8b-instant");
  std::vector<std::string> out;
  REQUIRE(s->on_event(data(chunk), out));
  REQUIRE(out.size() == 1);
  CHECK(s->usage().completion_tokens == 4);
}

TEST_CASE("openai: text that merely mentions usage or error is not mistaken", "[openai]") {
  const std::string chunk =
      R"({"choices":[{"index":0,"delta":{"content":"the \"usage\": {x} and \"error\": 1"}}]})";
  auto s = adapter("openai").start_stream(ChatOptions{true, false}, "gpt-4o");
  std::vector<std::string> out;
  REQUIRE(s->on_event(data(chunk), out));
  REQUIRE(out.size() == 1);
  CHECK_FALSE(s->usage().reported());
}

TEST_CASE("openai: an error event mid-stream is an error", "[openai]") {
  SECTION("OpenAI shape, no status: 502") {
    auto s = adapter("openai").start_stream(ChatOptions{true, false}, "gpt-4o");
    std::vector<std::string> out;
    REQUIRE(s->on_event(data(std::string(kChunk)), out));
    auto r =
        s->on_event(data(R"({"error":{"message":"The server had an error","type":"server_error",)"
                         R"("param":null,"code":null}})"),
                    out);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 502);
    CHECK(r.error().message == "The server had an error");
    CHECK(r.error().type == "server_error");
    CHECK(r.error().retryable);
    CHECK(out.size() == 1);
  }
  SECTION("numeric status in the error (OpenRouter style)") {
    auto s = adapter("openrouter").start_stream(ChatOptions{true, false}, "x");
    std::vector<std::string> out;
    auto r = s->on_event(data(R"({"error":{"code":429,"message":"Rate limited"}})"), out);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 429);
    CHECK(r.error().message == "Rate limited");
  }
  SECTION("event: error with non-JSON data") {
    auto s = adapter("openai").start_stream(ChatOptions{true, false}, "gpt-4o");
    std::vector<std::string> out;
    auto r = s->on_event(SseEvent{"error", "upstream exploded"}, out);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 502);
    CHECK_THAT(r.error().message, Catch::Contains("upstream exploded"));
  }
}

TEST_CASE("openai: a stream without [DONE] is truncated", "[openai]") {
  auto s = adapter("openai").start_stream(ChatOptions{true, false}, "gpt-4o");
  std::vector<std::string> out;
  REQUIRE(s->on_event(data(std::string(kChunk)), out));
  auto r = s->on_end(out);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().status == 502);
  CHECK(r.error().code == "upstream_truncated");
}

TEST_CASE("openai: malformed chunks pass through without a crash", "[openai]") {
  // The client gets what the upstream sent; we only refuse to misread it.
  auto s = adapter("openai").start_stream(ChatOptions{true, false}, "gpt-4o");
  std::vector<std::string> out;
  for (std::string d : {R"({"usage":)", R"({"usage":[1,2]})", R"([1,"usage":])", R"("x")",
                        R"({"choices":{"a":1},"usage":{"prompt_tokens":1e300}})"}) {
    INFO(d);
    REQUIRE(s->on_event(data(d), out));
  }
  CHECK(out.size() == 5);
}

TEST_CASE("openai: upstream errors keep status and OpenAI's fields", "[openai]") {
  const Adapter& a = adapter("openai");
  SECTION("OpenAI shape") {
    Error e = a.translate_error(
        401, R"({"error":{"message":"Incorrect API key provided: sk-abc***xyz.",)"
             R"("type":"invalid_request_error","param":null,"code":"invalid_api_key"}})");
    CHECK(e.status == 401);
    CHECK(e.message == "Incorrect API key provided: sk-abc***xyz.");
    CHECK(e.type == "invalid_request_error");
    CHECK(e.code == "invalid_api_key");
    CHECK_FALSE(e.retryable);
  }
  SECTION("429 is retryable") {
    Error e =
        a.translate_error(429, R"({"error":{"message":"Rate limit reached","type":"requests",)"
                               R"("code":"rate_limit_exceeded"}})");
    CHECK(e.status == 429);
    CHECK(e.retryable);
  }
  SECTION("Mistral-style top-level message") {
    Error e = adapter("mistral").translate_error(
        400,
        R"({"object":"error","message":"Invalid model: x","type":"invalid_model","code":"1500"})");
    CHECK(e.message == "Invalid model: x");
    CHECK(e.type == "invalid_model");
  }
  SECTION("not JSON: generic message with a clipped excerpt") {
    std::string html = "<html>" + std::string(5000, 'x') + "</html>";
    Error e = a.translate_error(503, html);
    CHECK(e.status == 503);
    CHECK_THAT(e.message, Catch::Contains("503"));
    CHECK(e.message.size() < 600);
    CHECK(e.retryable);
  }
  SECTION("empty body") {
    Error e = a.translate_error(500, "");
    CHECK(e.status == 500);
    CHECK_THAT(e.message, Catch::Contains("500"));
  }
  SECTION("huge message is clipped on a UTF-8 boundary") {
    std::string msg;
    for (int i = 0; i < 400; ++i) {
      msg += "\xC3\xA9";  // é
    }
    Error e = a.translate_error(400, R"({"error":{"message":")" + msg + R"("}})");
    CHECK(e.message.size() <= 504);
    auto doc = keygate::parse_json_object(e.to_json());
    CHECK(doc.has_value());  // still valid UTF-8 / JSON
  }
  SECTION("wrong types in the error object") {
    Error e = a.translate_error(400, R"({"error":{"message":5,"type":[],"code":{}}})");
    CHECK(e.status == 400);
    CHECK_THAT(e.message, Catch::Contains("400"));
  }
  SECTION("a non-error status becomes 502") {
    CHECK(a.translate_error(302, "").status == 502);
  }
}

TEST_CASE("openai: the key test lists models", "[openai]") {
  auto up = adapter("openai").build_key_test_request();
  CHECK(up.method == "GET");
  CHECK(up.path == "/models");
  CHECK(up.body.empty());
}

TEST_CASE("openai: a request after a huge one carries nothing of it", "[openai]") {
  // Guards against: the per-thread writer buffer, reused across requests, leaking an earlier
  // (longer) request's bytes into the next body, or keeping a stale state after an error.
  const std::string long_text(400 * 1024, 'z');  // past the kept capacity: the buffer is replaced
  auto huge =
      json(R"({"model":"gpt-4o","messages":[{"role":"user","content":")" + long_text + R"("}]})");
  auto big = adapter("openai").build_chat_request(huge, ChatOptions{}, "gpt-4o");
  REQUIRE(big.has_value());
  CHECK(json(big->body)["messages"][0]["content"].GetStringLength() == long_text.size());

  auto not_object = json("[1]");
  CHECK_FALSE(adapter("openai").build_chat_request(not_object, ChatOptions{}, "gpt-4o"));

  auto small = json(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
  for (int i = 0; i < 2; ++i) {
    auto up = adapter("openai").build_chat_request(small, ChatOptions{}, "gpt-4o");
    REQUIRE(up.has_value());
    CHECK(up->body == R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
  }
}

TEST_CASE("openai: translate_response_view is translate_response without the copy", "[openai]") {
  // Guards against: the view path answering other bytes, other usage, or a different error than
  // the copying path for the same upstream body.
  const std::string answer =
      R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";
  // With a NUL after the object: a parse that stops at the NUL must not accept the answer.
  const std::string nul_inside = answer + std::string("\0garbage", 8);
  for (const std::string& body : {answer, std::string(R"({"error":{"message":"nope"}})"),
                                  std::string("not json"), nul_inside}) {
    INFO(body.substr(0, 20));
    Usage copied_usage, viewed_usage;
    std::string storage;
    auto copied = adapter("openai").translate_response(body, "gpt-4o", copied_usage);
    auto viewed = adapter("openai").translate_response_view(body, "gpt-4o", viewed_usage, storage);
    REQUIRE(copied.has_value() == viewed.has_value());
    CHECK(copied_usage.prompt_tokens == viewed_usage.prompt_tokens);
    CHECK(copied_usage.completion_tokens == viewed_usage.completion_tokens);
    CHECK(copied.has_value() == (body == answer));
    if (copied) {
      CHECK(*viewed == *copied);
      CHECK(viewed->data() == body.data());  // the upstream's own bytes, not a copy
    } else {
      CHECK(viewed.error().message == copied.error().message);
      CHECK(viewed.error().status == copied.error().status);
    }
  }
}

TEST_CASE("anthropic: translate_response_view gives the translation from its storage", "[openai]") {
  // Guards against: the default (translating) view dangling or differing from the copy.
  const std::string body =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x",)"
      R"("content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn",)"
      R"("usage":{"input_tokens":3,"output_tokens":1}})";
  Usage a, b;
  std::string storage;
  auto copied = adapter("anthropic").translate_response(body, "claude-x", a);
  auto viewed = adapter("anthropic").translate_response_view(body, "claude-x", b, storage);
  REQUIRE(copied.has_value());
  REQUIRE(viewed.has_value());
  CHECK(viewed->data() == storage.data());
  CHECK(json(*viewed)["choices"][0]["message"]["content"] == "Hi");
  CHECK(json(*viewed)["usage"] == json(*copied)["usage"]);
  CHECK(b.completion_tokens == 1);
}

namespace {

// The request as plan_chat hands it over: parsed, with the text and the model's place in it.
struct ParsedRequest {
  std::string text;
  rapidjson::Document doc;
  keygate::MemberSpan model;
  int model_members = 0;
  ParsedRequest(std::string t) : text(std::move(t)) {
    REQUIRE(keygate::parse_json_object_into(text, doc).has_value());
    for (const auto& m : doc.GetObject()) {
      model_members += keygate::as_view(m.name) == "model" ? 1 : 0;
    }
    model = keygate::find_member_span(text, "model");
  }
  ChatOptions options(bool stream, bool with_text = true) const {
    ChatOptions o;
    o.stream = stream;
    if (with_text && model.found() && model_members == 1) {
      o.text = {text, model.begin, model.end};
    }
    return o;
  }
};

bool same_json(const std::string& a, const std::string& b) {
  rapidjson::Document x, y;
  x.Parse(a.data(), a.size());
  y.Parse(b.data(), b.size());
  return !x.HasParseError() && !y.HasParseError() && x == y;
}

}  // namespace

TEST_CASE("openai: editing the client's text gives what writing the document out gives",
          "[openai][request_text]") {
  // Guards against: the in-place edit of the request text sending the upstream something other
  // than the member-by-member writer would (a model left as the client named it, include_usage
  // missing on a stream, a dropped or renamed parameter passed on as it came).
  const std::vector<std::string> bodies = {
      R"({"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})",
      R"(  { "model" : "openai/gpt-4o-mini" , "messages":[{"role":"user","content":"a\"b\\c\u00e9"}],)"
      R"( "temperature": 1.0e0, "n": 1 }  )",
      R"({"messages":[{"role":"user","content":"model"}],"model":"x","stream":true})",
      R"({"messages":[],"model":"x","stream":false,"metadata":{"model":"inner"}})",
      R"({"model":"x","messages":[],"stream":true,"stream_options":{"include_usage":false}})",
      R"({"model":"x","messages":[],"stream":true,"stream_options":{"include_usage":true}})",
      R"({"model":"x","messages":[],"stream":true,"stream_options":{"include_usage":true,)"
      R"("include_usage":false}})",
      R"({"model":"x","messages":[],"stream":true,"stream_options":{"continuous_usage_stats":)"
      R"(true,"include_usage":true}})",
      R"({"model":"x","messages":[],"stream_options":null})",
      R"({"model":"x","messages":[],"stream":true,"stream":true})",
      R"({"model":"x","messages":[],"logprobs":true,"max_completion_tokens":5,"seed":1})",
      R"({"mod\u0065l":"x","messages":[],"tools":[{"type":"function","function":{"name":"f"}}]})",
      R"({"model":"x","model":"y","messages":[]})",
      R"({"model":"x","messages":[],"thinking":{"type":"enabled","budget_tokens":2000}})",
      R"({"model":"x","messages":[{"role":"assistant","content":"a","thinking_blocks":[]}]})",
      R"({"model":"x","messages":[{"role":"tool","tool_call_id":"c","content":[)"
      R"({"type":"image_url","image_url":{"url":"https://x.example/a.png"}}]}]})",
      R"({"model":"x","messages":[{"role":"user","content":[{"type":"text","text":"a",)"
      R"("cache_control":{"type":"ephemeral"}}]}],"tools":[{"type":"function",)"
      R"("function":{"name":"f"},"cache_control":{"type":"ephemeral"}}]})",
      R"({"model":"x","messages":[{"role":"tool","tool_call_id":"c","content":"no",)"
      R"("is_error":true}]})",
      R"({"model":"x","messages":[],"anthropic_beta":"context-1m-2025-08-07"})",
      R"({"model":"x","messages":[],"anthropic":{"output_config":{"effort":"low"}}})",
  };
  int edited = 0, checked = 0;
  for (const std::string provider : {"openai", "groq", "mistral"}) {
    for (const auto& body : bodies) {
      for (bool stream : {false, true}) {
        INFO(provider << " stream=" << stream << " " << body);
        const ParsedRequest req(body);
        // What the client asked for is what plan_chat derived: "stream" as a boolean.
        auto s = req.doc.FindMember("stream");
        if ((s != req.doc.MemberEnd() && s->value.IsBool() && s->value.GetBool()) != stream) {
          continue;
        }
        auto by_text = adapter(provider).build_chat_request(req.doc, req.options(stream), "m-1");
        auto by_writer =
            adapter(provider).build_chat_request(req.doc, req.options(stream, false), "m-1");
        REQUIRE(by_text.has_value());
        REQUIRE(by_writer.has_value());
        CHECK(same_json(by_text->body, by_writer->body));
        ++checked;
        // The edit keeps the client's spelling of a number; the writer spells it its own way.
        if (body.find("1.0e0") != std::string::npos) {
          CHECK(by_text->body.find("1.0e0") != std::string::npos);
          ++edited;
        }
      }
    }
  }
  CHECK(checked >= 30);
  CHECK(edited == 3);  // one body, three providers none of which drops or renames its members
}

TEST_CASE("openai: the text is edited only where nothing else changes", "[openai][request_text]") {
  auto edited = [](std::string_view provider, const std::string& body, bool stream) {
    const ParsedRequest req(body);
    auto up = adapter(provider).build_chat_request(req.doc, req.options(stream), "m-1");
    REQUIRE(up.has_value());
    // The writer never writes blanks: a blank kept from the client's text tells the edit.
    return up->body.find(", ") != std::string::npos;
  };
  const std::string plain = R"({"model":"openai/x", "messages":[], "temperature":0.2})";
  CHECK(edited("openai", plain, false));
  CHECK(edited("mistral", plain, false));
  const std::string streaming = R"({"model":"openai/x", "messages":[], "stream":true})";
  CHECK(edited("openai", streaming, true));
  const ParsedRequest s(streaming);
  auto up = adapter("openai").build_chat_request(s.doc, s.options(true), "m-1");
  REQUIRE(up.has_value());
  CHECK(up->body ==
        R"({"model":"m-1", "messages":[], "stream":true,"stream_options":{"include_usage":true}})");
  CHECK_FALSE(edited("openai", R"({"model":"x", "messages":[], "stream_options":null})", false));
  CHECK(edited(
      "openai",
      R"({"model":"x", "messages":[], "stream":true, "stream_options":{"include_usage":true}})",
      true));
  CHECK_FALSE(edited(
      "openai",
      R"({"model":"x", "messages":[], "stream":true, "stream_options":{"include_usage":false}})",
      true));
  CHECK_FALSE(edited("groq", R"({"model":"x", "messages":[], "logprobs":true})", false));
  CHECK_FALSE(edited("mistral", R"({"model":"x", "messages":[], "seed":1})", false));
  CHECK_FALSE(edited("openai", R"({"model":"x", "model":"y", "messages":[]})", false));
  // `thinking` to a reasoning model becomes reasoning_effort, on the text path too.
  const ParsedRequest t(
      R"({"model":"openai/gpt-5", "messages":[], "thinking":{"type":"enabled","budget_tokens":2000}})");
  auto thought = adapter("openai").build_chat_request(t.doc, t.options(false), "gpt-5");
  REQUIRE(thought.has_value());
  CHECK(thought->body == R"({"model":"gpt-5","messages":[],"reasoning_effort":"low"})");
  // Claude's betas and own settings never reach the family, by either path.
  const ParsedRequest claude_only(
      R"({"model":"x", "messages":[], "anthropic_beta":"b-1", "anthropic":{"service_tier":"auto"}})");
  for (bool text : {true, false}) {
    auto out = adapter("openai").build_chat_request(claude_only.doc,
                                                    claude_only.options(false, text), "m-1");
    REQUIRE(out.has_value());
    CHECK(out->body == R"({"model":"m-1","messages":[]})");
  }
  // No text at all (agent parameters merged): the writer.
  const ParsedRequest a(plain);
  auto written = adapter("openai").build_chat_request(a.doc, a.options(false, false), "m-1");
  REQUIRE(written.has_value());
  CHECK(written->body == R"({"model":"m-1","messages":[],"temperature":0.2})");
}
