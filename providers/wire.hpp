#pragma once
// Checked reads of provider JSON, shared by the translating adapters (Anthropic, Gemini).
// Client JSON was validated by the gateway, upstream JSON was not: every read is type-checked,
// and a wrong type is an Error — 400 for the client's, 502 for the upstream's — never an assert.

#include <rapidjson/document.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "schema/error.hpp"

namespace keygate::providers::wire {

using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

Error bad_request(std::string message, std::string param);
// 502: `provider` ("Anthropic") sent something its API reference does not allow.
Error bad_upstream(std::string_view provider, std::string message);

Value str_value(std::string_view s, Allocator& a);

// The member `name` of `obj`, or null when obj is not an object or the member is absent/null.
const Value* find(const Value& obj, const char* name);

// Upstream string member: absent -> "", wrong type -> 502.
Result<std::string_view> up_string(std::string_view provider, const Value& obj, const char* name);
// Upstream integer member: absent -> -1, wrong type -> 502.
Result<int64_t> up_int(std::string_view provider, const Value& obj, const char* name);
// Client string member: absent -> "", wrong type -> 400 naming `param`.
Result<std::string_view> client_string(const Value& obj, const char* name,
                                       const std::string& param);

// Claude's own tools (web search, web fetch, code execution, bash, text editor, ...) are named
// by a versioned type, "<name>_<YYYYMMDD>", where a client tool says "function"; /v1/messages
// carries them in `tools` as they came (providers/anthropic_inbound.hpp). A provider that cannot
// run them refuses the request: 400 naming the tool, rather than a model without its tool.
bool is_claude_tool_type(std::string_view type);
Result<void> refuse_claude_tools(const Value& request, std::string_view provider);

// Prompt caching marks. The OpenAI format has no field for Claude's cache_control; keygate
// carries it where LiteLLM does: on a content part, a message (its last block) or a tool. Copies
// `from`'s cache_control onto `to`, replacing one there; 400 naming `param` if it is not an object.
Result<void> copy_cache_control(const Value& from, Value& to, const std::string& param,
                                Allocator& a);

// A base64 data URL (RFC 2397: data:<media type>;base64,<data>) split into its media type and
// data; nullopt for anything else (another URL, no ";base64", no media type).
struct DataUrl {
  std::string_view media_type;
  std::string_view data;
};
std::optional<DataUrl> parse_base64_data_url(std::string_view url);

// A chat.completion's first choice and that choice's message (an object), both inside `answer`;
// or why it has none, for the caller's 502. The client dialects (anthropic_inbound,
// responses_answer) read answers through it.
struct FirstChoice {
  const Value* choice = nullptr;
  const Value* message = nullptr;
};
std::expected<FirstChoice, std::string> first_choice(const Value& answer);

// "chatcmpl-<time>-<n>" for translated responses (the upstream's own ids have other shapes).
std::string generated_id();

}  // namespace keygate::providers::wire
