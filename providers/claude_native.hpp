#pragma once
// Claude's own answer, for a client that speaks Claude's API. A request that came to
// POST /v1/messages and is routed to Claude gets Claude's message, or its stream events, as
// Claude sent them: every block (server tools' calls and results, citations, thinking),
// stop_reason (pause_turn included) and usage, which a translation through OpenAI's shape
// would lose. The Anthropic adapter wraps what Claude sent in a one-member object that the
// OpenAI-shaped pipeline carries like any answer or chunk; the /v1/messages writer takes it out
// again, byte for byte. Another provider's answer is never wrapped: it is translated as before.
//
//   {"<claude_message_key()>":<Claude's message>}        a whole answer
//   {"<claude_event_key()>":<one stream event's data>}    a stream chunk
//
// The keys end with a random suffix this process draws when it starts and never shows: an
// OpenAI-format upstream, whose answers pass keygate verbatim, cannot write a wrapper itself.

#include <optional>
#include <string>
#include <string_view>

namespace keygate::providers {

const std::string& claude_message_key();
const std::string& claude_event_key();

inline std::string wrap_claude(std::string_view key, std::string_view claude_json) {
  std::string out;
  out.reserve(key.size() + claude_json.size() + 6);
  out.append("{\"").append(key).append("\":").append(claude_json).append("}");
  return out;
}

// What wrap_claude(key, ...) wrapped, or nullopt when `json` is not such a wrapper.
inline std::optional<std::string_view> unwrap_claude(std::string_view key, std::string_view json) {
  const std::size_t head = key.size() + 4;  // {"key":
  if (json.size() <= head || !json.starts_with("{\"") || json.substr(2, key.size()) != key ||
      json.substr(2 + key.size(), 2) != "\":" || !json.ends_with('}')) {
    return std::nullopt;
  }
  return json.substr(head, json.size() - head - 1);
}

}  // namespace keygate::providers
