#pragma once
// Checks shared by the client-dialect tests (anthropic_inbound_test.cpp,
// responses_inbound_test.cpp): JSON values read by pointer and compared as values, and streams of
// named server-sent events split into parsed events, and the OpenAI chunks they are made from.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/json.hpp"

namespace Catch {
template <>
struct StringMaker<rapidjson::Value> {
  static std::string convert(const rapidjson::Value& v) { return keygate::to_json(v); }
};
}  // namespace Catch

namespace keygate::json_checks {

// The value at a JSON pointer ("/messages/0/role"), or null when it is absent: a missing member
// fails a check instead of tripping RapidJSON's assert.
inline const rapidjson::Value& at(const rapidjson::Value& root, const char* pointer) {
  static const rapidjson::Value null_value;
  const rapidjson::Value* v = rapidjson::Pointer(pointer).Get(root);
  return v != nullptr ? *v : null_value;
}

inline bool has(const rapidjson::Value& root, const char* pointer) {
  return rapidjson::Pointer(pointer).Get(root) != nullptr;
}

inline std::string str(const rapidjson::Value& v) {
  return v.IsString() ? std::string(keygate::as_view(v))
                      : "<not a string: " + keygate::to_json(v) + ">";
}

// Deep JSON equality with `expected` (object member order ignored).
class JsonEquals : public Catch::MatcherBase<rapidjson::Value> {
 public:
  explicit JsonEquals(std::string expected) : expected_(std::move(expected)) {}
  bool match(const rapidjson::Value& actual) const override {
    rapidjson::Document doc;
    doc.Parse(expected_.data(), expected_.size());
    return !doc.HasParseError() && actual == doc;
  }
  std::string describe() const override { return "equals JSON " + expected_; }

 private:
  std::string expected_;
};

inline JsonEquals IsJson(std::string expected) {
  return JsonEquals(std::move(expected));
}

inline rapidjson::Document parse(const std::string& text) {
  INFO(text);
  auto doc = keygate::parse_json_object(text);
  REQUIRE(doc.has_value());
  return std::move(*doc);
}

// Absent, or present as null.
inline bool null_or_absent(const rapidjson::Value& root, const char* pointer) {
  return !has(root, pointer) || at(root, pointer).IsNull();
}

// The text of an OpenAI message content: the string itself, or the texts of an array of content
// parts joined with "\n" (a part that is not text fails the check).
inline std::string content_text(const rapidjson::Value& content) {
  if (content.IsString()) {
    return std::string(keygate::as_view(content));
  }
  INFO("content: " << keygate::to_json(content));
  REQUIRE(content.IsArray());
  std::string text;
  for (const auto& part : content.GetArray()) {
    CHECK(str(at(part, "/type")) == "text");
    if (!text.empty()) {
      text += "\n";
    }
    text += str(at(part, "/text"));
  }
  return text;
}

struct Event {
  std::string name;
  rapidjson::Document data;
};

// Splits a stream of named events (Anthropic's, the Responses API's) into events: each
// "event: NAME\ndata: {json}" separated by a blank line; every event's data must carry "type"
// equal to its name. "ping" events, which Anthropic may send at any time, are skipped.
inline std::vector<Event> events_of(const std::string& out) {
  INFO("stream output:\n" << out);
  CHECK((out.empty() || out.ends_with("\n\n")));
  std::vector<Event> events;
  std::size_t pos = 0;
  while (pos < out.size()) {
    std::size_t end = out.find("\n\n", pos);
    if (end == std::string::npos) {
      end = out.size();
    }
    std::string_view block(out.data() + pos, end - pos);
    pos = end + 2;
    if (block.empty()) {
      continue;
    }
    std::string name;
    std::string data;
    bool has_event = false;
    bool has_data = false;
    std::size_t line_start = 0;
    while (line_start <= block.size()) {
      std::size_t line_end = block.find('\n', line_start);
      if (line_end == std::string_view::npos) {
        line_end = block.size();
      }
      std::string_view line = block.substr(line_start, line_end - line_start);
      if (line.starts_with("event: ")) {
        name = line.substr(7);
        has_event = true;
      } else if (line.starts_with("data: ")) {
        data = line.substr(6);
        has_data = true;
      }
      line_start = line_end + 1;
    }
    INFO("event block: " << block);
    REQUIRE(has_event);
    REQUIRE(has_data);
    Event e{name, parse(data)};
    CHECK(str(at(e.data, "/type")) == name);
    if (name != "ping") {
      events.push_back(std::move(e));
    }
  }
  return events;
}

inline std::vector<std::string> names_of(const std::vector<Event>& events) {
  std::vector<std::string> names;
  for (const auto& e : events) {
    names.push_back(e.name);
  }
  return names;
}

// The OpenAI stream keygate's pipeline writes: "data: {chunk}" frames, and [DONE].
inline std::string frame(const std::string& json) {
  return "data: " + json + "\n\n";
}

// An OpenAI chat.completion.chunk with one choice.
inline std::string chunk(const std::string& delta, const std::string& finish_reason = "null") {
  return frame(R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
               R"("model":"gpt-4o-mini","choices":[{"index":0,"delta":)" +
               delta + R"(,"finish_reason":)" + finish_reason + "}]}");
}

inline std::string usage_chunk(int prompt, int completion) {
  return frame(R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
               R"("model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":)" +
               std::to_string(prompt) + R"(,"completion_tokens":)" + std::to_string(completion) +
               R"(,"total_tokens":)" + std::to_string(prompt + completion) + "}}");
}

inline const std::string kDone = "data: [DONE]\n\n";

}  // namespace keygate::json_checks
