#include "testing/mock_providers.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include <cstring>

namespace keygate::testing {
namespace {

// A JSON string literal (quotes included) for `s`.
std::string quoted(const std::string& s) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return {b.GetString(), b.GetSize()};
}

// Anthropic names every SSE event twice: the `event:` line and the payload's "type".
std::string anthropic_event(const std::string& type, const std::string& data) {
  return "event: " + type + "\ndata: " + data + "\n\n";
}

std::string anthropic_message_start(int input_tokens) {
  return anthropic_event(
      "message_start",
      R"({"type":"message_start","message":{"id":"msg_mock01","type":"message","role":"assistant",)"
      R"("content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,)"
      R"("usage":{"input_tokens":)" +
          std::to_string(input_tokens) + R"(,"output_tokens":1}}})");
}

std::string anthropic_finish(const std::string& stop_reason, int output_tokens) {
  return anthropic_event("message_delta",
                         R"({"type":"message_delta","delta":{"stop_reason":")" + stop_reason +
                             R"(","stop_sequence":null},"usage":{"output_tokens":)" +
                             std::to_string(output_tokens) + "}}") +
         anthropic_event("message_stop", R"({"type":"message_stop"})");
}

// Gemini's alt=sse frames end with CRLF CRLF.
std::string gemini_event(const std::string& data) {
  return "data: " + data + "\r\n\r\n";
}

std::string gemini_candidate(const std::string& parts_json, bool last, int prompt_tokens,
                             int candidates_tokens) {
  std::string s =
      R"({"candidates":[{"content":{"parts":)" + parts_json + R"(,"role":"model"},"index":0)";
  if (last) {
    s += R"(,"finishReason":"STOP")";
  }
  s += "}]";
  if (last) {
    s += R"(,"usageMetadata":{"promptTokenCount":)" + std::to_string(prompt_tokens) +
         R"(,"candidatesTokenCount":)" + std::to_string(candidates_tokens) +
         R"(,"totalTokenCount":)" + std::to_string(prompt_tokens + candidates_tokens) + "}";
  }
  s += R"(,"modelVersion":"gemini-2.5-flash","responseId":"mock-r1"})";
  return s;
}

}  // namespace

std::string anthropic_message_json(const std::string& text, int input_tokens, int output_tokens) {
  return R"({"id":"msg_mock01","type":"message","role":"assistant",)"
         R"("model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":)" +
         quoted(text) +
         R"(}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":)" +
         std::to_string(input_tokens) + R"(,"output_tokens":)" + std::to_string(output_tokens) +
         "}}";
}

std::string anthropic_tool_use_json(const std::string& id, const std::string& name,
                                    const std::string& input_json) {
  return R"({"id":"msg_mock02","type":"message","role":"assistant",)"
         R"("model":"claude-sonnet-4-5-20250929","content":[)"
         R"({"type":"text","text":"Let me check."},)"
         R"({"type":"tool_use","id":)" +
         quoted(id) + R"(,"name":)" + quoted(name) + R"(,"input":)" + input_json +
         R"(}],"stop_reason":"tool_use","stop_sequence":null,)"
         R"("usage":{"input_tokens":50,"output_tokens":30}})";
}

std::string anthropic_error_json(const std::string& type, const std::string& message) {
  return R"({"type":"error","error":{"type":)" + quoted(type) + R"(,"message":)" + quoted(message) +
         "}}";
}

MockHandler anthropic_json_handler(std::string text) {
  return [text](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = anthropic_message_json(text);
    co_await ex.respond(200, body);
  };
}

MockHandler anthropic_tool_use_handler(std::string id, std::string name, std::string input_json) {
  return [id, name, input_json](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = anthropic_tool_use_json(id, name, input_json);
    co_await ex.respond(200, body);
  };
}

MockHandler anthropic_stream_handler(std::vector<std::string> pieces) {
  return [pieces](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.start_chunked();
    std::string head = anthropic_message_start(10);
    head += anthropic_event(
        "content_block_start",
        R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
    co_await ex.send_chunk(head);
    for (const auto& piece : pieces) {
      const std::string delta = anthropic_event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)" +
              quoted(piece) + "}}");
      if (!co_await ex.send_chunk(delta)) {
        co_return;
      }
    }
    std::string tail =
        anthropic_event("content_block_stop", R"({"type":"content_block_stop","index":0})");
    tail += anthropic_finish("end_turn", static_cast<int>(pieces.size()));
    co_await ex.send_chunk(tail);
    co_await ex.end_chunked();
  };
}

MockHandler anthropic_tool_stream_handler(std::string id, std::string name,
                                          std::vector<std::string> partial_json) {
  return [id, name, partial_json](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.start_chunked();
    std::string head = anthropic_message_start(40);
    head += anthropic_event("content_block_start",
                            R"({"type":"content_block_start","index":0,"content_block":)"
                            R"({"type":"tool_use","id":)" +
                                quoted(id) + R"(,"name":)" + quoted(name) + R"(,"input":{}}})");
    co_await ex.send_chunk(head);
    for (const auto& piece : partial_json) {
      const std::string delta = anthropic_event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta",)"
          R"("partial_json":)" +
              quoted(piece) + "}}");
      co_await ex.send_chunk(delta);
    }
    std::string tail =
        anthropic_event("content_block_stop", R"({"type":"content_block_stop","index":0})");
    tail += anthropic_finish("tool_use", 20);
    co_await ex.send_chunk(tail);
    co_await ex.end_chunked();
  };
}

MockHandler anthropic_error_handler(int status, std::string type, std::string message) {
  return [status, type, message](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = anthropic_error_json(type, message);
    co_await ex.respond(status, body);
  };
}

std::string gemini_text_json(const std::string& text, int prompt_tokens, int candidates_tokens) {
  return gemini_candidate(R"([{"text":)" + quoted(text) + "}]", true, prompt_tokens,
                          candidates_tokens);
}

std::string gemini_function_call_json(const std::string& name, const std::string& args_json) {
  return gemini_candidate(
      R"([{"functionCall":{"name":)" + quoted(name) + R"(,"args":)" + args_json + "}}]", true, 30,
      10);
}

MockHandler gemini_json_handler(std::string text) {
  return [text](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = gemini_text_json(text);
    co_await ex.respond(200, body);
  };
}

MockHandler gemini_function_call_handler(std::string name, std::string args_json) {
  return [name, args_json](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = gemini_function_call_json(name, args_json);
    co_await ex.respond(200, body);
  };
}

MockHandler gemini_stream_handler(std::vector<std::string> pieces) {
  return [pieces](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.start_chunked();
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const bool last = i + 1 == pieces.size();
      const std::string event = gemini_event(gemini_candidate(
          R"([{"text":)" + quoted(pieces[i]) + "}]", last, 8, static_cast<int>(pieces.size())));
      if (!co_await ex.send_chunk(event)) {
        co_return;
      }
    }
    co_await ex.end_chunked();
  };
}

MockHandler gemini_function_call_stream_handler(std::string name, std::string args_json) {
  return [name, args_json](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.start_chunked();
    const std::string event = gemini_event(gemini_function_call_json(name, args_json));
    co_await ex.send_chunk(event);
    co_await ex.end_chunked();
  };
}

MockHandler openai_paced_stream_handler(std::vector<std::string> pieces,
                                        std::chrono::milliseconds gap) {
  return [pieces, gap](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.start_chunked();
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const std::string event = "data: " + openai_chunk_json(pieces[i], i == 0) + "\n\n";
      co_await ex.send_chunk(event);
      co_await ex.sleep(gap);
    }
    const std::string rest =
        "data: " + openai_chunk_json("", false, "stop") + "\n\ndata: [DONE]\n\n";
    co_await ex.send_chunk(rest);
    co_await ex.end_chunked();
  };
}

std::vector<float> openai_embedding(int i) {
  return {0.5f + static_cast<float>(i), -0.25f, 0.125f};
}

MockHandler openai_embeddings_handler() {
  return [](MockExchange& ex) -> net::awaitable<void> {
    rapidjson::Document request;
    request.Parse(ex.request.body.c_str());
    int inputs = 0;
    bool base64 = false;
    if (!request.HasParseError() && request.IsObject() && request.HasMember("input")) {
      const auto& input = request["input"];
      inputs = input.IsArray() ? static_cast<int>(input.Size()) : 1;
      base64 = request.HasMember("encoding_format") && request["encoding_format"].IsString() &&
               std::string(request["encoding_format"].GetString()) == "base64";
    }
    std::string body = R"({"object":"list","data":[)";
    for (int i = 0; i < inputs; ++i) {
      const std::vector<float> v = openai_embedding(i);
      body += (i > 0 ? "," : "") + std::string(R"({"object":"embedding","index":)") +
              std::to_string(i) + R"(,"embedding":)";
      if (base64) {
        std::string encoded(sodium_base64_ENCODED_LEN(v.size() * 4, sodium_base64_VARIANT_ORIGINAL),
                            '\0');
        sodium_bin2base64(encoded.data(), encoded.size(),
                          reinterpret_cast<const unsigned char*>(v.data()), v.size() * 4,
                          sodium_base64_VARIANT_ORIGINAL);
        encoded.resize(std::strlen(encoded.c_str()));
        body += "\"" + encoded + "\"";
      } else {
        rapidjson::StringBuffer b;
        rapidjson::Writer<rapidjson::StringBuffer> w(b);
        w.StartArray();
        for (float f : v) {
          w.Double(f);
        }
        w.EndArray();
        body.append(b.GetString(), b.GetSize());
      }
      body += "}";
    }
    body += R"(],"model":"text-embedding-3-small","usage":{"prompt_tokens":)" +
            std::to_string(3 * inputs) + R"(,"total_tokens":)" + std::to_string(3 * inputs) + "}}";
    co_await ex.respond(200, body);
  };
}

std::vector<std::string> gemini_embedding_text(int i) {
  return {std::to_string(i) + ".1234567", "-2.5e-3", "1", "-0.333333333333"};
}

MockHandler gemini_embeddings_handler() {
  return [](MockExchange& ex) -> net::awaitable<void> {
    rapidjson::Document request;
    request.Parse(ex.request.body.c_str());
    int entries = 0;
    if (!request.HasParseError() && request.IsObject() && request.HasMember("requests") &&
        request["requests"].IsArray()) {
      entries = static_cast<int>(request["requests"].Size());
    }
    std::string body = R"({"embeddings":[)";
    for (int i = 0; i < entries; ++i) {
      body += i > 0 ? "," : "";
      body += R"({"values":[)";
      const std::vector<std::string> values = gemini_embedding_text(i);
      for (std::size_t j = 0; j < values.size(); ++j) {
        body += (j > 0 ? "," : "") + values[j];
      }
      body += "]}";
    }
    body += "]}";
    co_await ex.respond(200, body);
  };
}

std::vector<float> decode_base64_floats(const std::string& base64) {
  std::vector<unsigned char> bytes(base64.size());
  std::size_t length = 0;
  if (sodium_base642bin(bytes.data(), bytes.size(), base64.data(), base64.size(), nullptr, &length,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      length % 4 != 0) {
    return {};
  }
  std::vector<float> floats(length / 4);
  std::memcpy(floats.data(), bytes.data(), length);
  return floats;
}

MockHandler status_handler(int status, std::string body) {
  return [status, body](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.respond(status, body);
  };
}

}  // namespace keygate::testing
