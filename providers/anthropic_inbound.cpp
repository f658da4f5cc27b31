#include "providers/anthropic_inbound.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "providers/claude_native.hpp"
#include "providers/sse.hpp"
#include "providers/wire.hpp"
#include "schema/json.hpp"
#include "schema/try.hpp"

namespace keygate::providers {

namespace {

using wire::Allocator;
using wire::bad_request;
using wire::copy_cache_control;
using wire::find;
using wire::str_value;
using wire::Value;

// --- Request: Messages API -> OpenAI chat ----------------------------------------------------

std::string at(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

Result<std::string_view> required_string(const Value& obj, const char* name,
                                         const std::string& param) {
  const Value* v = find(obj, name);
  if (v == nullptr || !v->IsString()) {
    return fail(bad_request("'" + param + "' must be a string.", param));
  }
  return as_view(*v);
}

// "text" blocks joined, for the places OpenAI takes one string (system, tool results).
Result<std::string> joined_text(const Value& content, const std::string& param) {
  if (content.IsString()) {
    return std::string(as_view(content));
  }
  if (!content.IsArray()) {
    return fail(bad_request("'" + param + "' must be a string or an array of text blocks.", param));
  }
  std::string text;
  std::size_t i = 0;
  for (const auto& block : content.GetArray()) {
    const std::string block_param = at(param, i++);
    KG_TRY(type_or, required_string(block, "type", block_param + ".type"));
    const auto& type = *type_or;
    if (type != "text") {
      return fail(bad_request("'" + block_param + "' is a " + std::string(type) +
                                  " block; only text blocks are accepted here.",
                              block_param));
    }
    KG_TRY(piece_or, required_string(block, "text", block_param + ".text"));
    const auto& piece = *piece_or;
    if (!text.empty()) {
      text += "\n\n";
    }
    text += piece;
  }
  return text;
}

// The system prompt: its text blocks joined, or, when some are marked for prompt caching (Claude
// Code marks its long system prompt), text parts that keep each block and its mark.
Result<Value> system_content(const Value& system, Allocator& a) {
  bool marked = false;
  if (system.IsArray()) {
    for (const auto& block : system.GetArray()) {
      marked = marked || find(block, "cache_control") != nullptr;
    }
  }
  KG_TRY(text_or, joined_text(system, "system"));  // validates the blocks either way
  if (!marked) {
    return str_value(*text_or, a);
  }
  Value parts(rapidjson::kArrayType);
  std::size_t i = 0;
  for (const auto& block : system.GetArray()) {
    const std::string param = at("system", i++);
    Value part(rapidjson::kObjectType);
    part.AddMember("type", "text", a);
    part.AddMember("text", Value(block["text"], a), a);
    KG_CHECK(copy_cache_control(block, part, param, a));
    parts.PushBack(part, a);
  }
  return parts;
}

Error unsupported_block(const std::string& param, std::string_view type) {
  return bad_request("'" + param + "' is a " + std::string(type) +
                         " block, which keygate cannot carry to other providers.",
                     param + ".type");
}

// An image block's source -> an OpenAI image_url content part.
Result<Value> image_part(const Value& block, const std::string& param, Allocator& a) {
  const Value* source = find(block, "source");
  if (source == nullptr || !source->IsObject()) {
    return fail(bad_request("'" + param + ".source' must be an object.", param + ".source"));
  }
  KG_TRY(kind_or, required_string(*source, "type", param + ".source.type"));
  const auto& kind = *kind_or;
  std::string url;
  if (kind == "base64") {
    KG_TRY(media_type_or, required_string(*source, "media_type", param + ".source.media_type"));
    const auto& media_type = *media_type_or;
    KG_TRY(data_or, required_string(*source, "data", param + ".source.data"));
    const auto& data = *data_or;
    url.append("data:").append(media_type).append(";base64,").append(data);
  } else if (kind == "url") {
    KG_TRY(u_or, required_string(*source, "url", param + ".source.url"));
    const auto& u = *u_or;
    url = u;
  } else {
    return fail(
        bad_request("'" + param + ".source.type' must be base64 or url.", param + ".source.type"));
  }
  Value image(rapidjson::kObjectType);
  image.AddMember("url", str_value(url, a), a);
  Value part(rapidjson::kObjectType);
  part.AddMember("type", "image_url", a);
  part.AddMember("image_url", image, a);
  return part;
}

Value text_part(std::string_view text, Allocator& a) {
  Value part(rapidjson::kObjectType);
  part.AddMember("type", "text", a);
  part.AddMember("text", str_value(text, a), a);
  return part;
}

// A document block -> what the OpenAI format has for it: a PDF (base64) as a file part, which
// the adapters give back to Claude as a document and to Gemini as inline data (OpenAI reads it
// too); a plain-text document as a text part. Documents by URL, by file id or made of content
// blocks have no OpenAI form. https://docs.anthropic.com/en/docs/build-with-claude/pdf-support
Result<Value> document_part(const Value& block, const std::string& param, Allocator& a) {
  const Value* source = find(block, "source");
  if (source == nullptr || !source->IsObject()) {
    return fail(bad_request("'" + param + ".source' must be an object.", param + ".source"));
  }
  KG_TRY(kind_or, required_string(*source, "type", param + ".source.type"));
  const Value* media = find(*source, "media_type");
  const bool pdf = *kind_or == "base64" && media != nullptr && media->IsString() &&
                   as_view(*media) == "application/pdf";
  if (*kind_or != "text" && !pdf) {
    return fail(bad_request("'" + param +
                                "' is a document keygate cannot carry: only PDFs (base64) and "
                                "plain text travel to every provider.",
                            param + ".source"));
  }
  KG_TRY(data_or, required_string(*source, "data", param + ".source.data"));
  if (*kind_or == "text") {
    return text_part(*data_or, a);
  }
  std::string title = "document.pdf";
  if (const Value* t = find(block, "title");
      t != nullptr && t->IsString() && t->GetStringLength() > 0) {
    title = as_view(*t);
  }
  Value file(rapidjson::kObjectType);
  file.AddMember("filename", str_value(title, a), a);
  file.AddMember("file_data",
                 str_value(std::string("data:application/pdf;base64,").append(*data_or), a), a);
  Value part(rapidjson::kObjectType);
  part.AddMember("type", "file", a);
  part.AddMember("file", file, a);
  return part;
}

Value message(std::string_view role, Value content, Allocator& a) {
  Value m(rapidjson::kObjectType);
  m.AddMember("role", str_value(role, a), a);
  m.AddMember("content", content, a);
  return m;
}

// A tool_result's content -> the tool message's: its text joined, or, when it holds images (a
// screenshot a tool took), text and image_url parts in order. Claude and Gemini take those back;
// for the OpenAI family, which takes text only in a tool message, its adapter moves the images
// to a user message after the tool results.
Result<Value> tool_result_content(const Value* content, const std::string& param, Allocator& a) {
  if (content == nullptr) {
    return str_value("", a);
  }
  bool images = false;
  if (content->IsArray()) {
    for (const auto& block : content->GetArray()) {
      const Value* type = find(block, "type");
      images = images || (type != nullptr && type->IsString() && as_view(*type) == "image");
    }
  }
  if (!images) {
    KG_TRY(text_or, joined_text(*content, param));
    return str_value(*text_or, a);
  }
  Value parts(rapidjson::kArrayType);
  std::size_t i = 0;
  for (const auto& block : content->GetArray()) {
    const std::string block_param = at(param, i++);
    KG_TRY(type_or, required_string(block, "type", block_param + ".type"));
    if (*type_or == "text") {
      KG_TRY(text_or, required_string(block, "text", block_param + ".text"));
      parts.PushBack(text_part(*text_or, a), a);
    } else if (*type_or == "image") {
      KG_TRY(part_or, image_part(block, block_param, a));
      parts.PushBack(*part_or, a);
    } else {
      return fail(bad_request("'" + block_param + "' is a " + std::string(*type_or) +
                                  " block; a tool_result holds text and image blocks.",
                              block_param));
    }
  }
  return parts;
}

// One user turn: tool_result blocks become "tool" messages, first (OpenAI wants them right after
// the assistant's tool calls); the rest stays one user message after them.
Result<void> add_user_turn(const Value& content, const std::string& param, Value& out,
                           Allocator& a) {
  if (content.IsString()) {
    out.PushBack(message("user", str_value(as_view(content), a), a), a);
    return {};
  }
  Value parts(rapidjson::kArrayType);
  std::size_t i = 0;
  for (const auto& block : content.GetArray()) {
    const std::string block_param = at(param, i++);
    KG_TRY(type_or, required_string(block, "type", block_param + ".type"));
    const auto& type = *type_or;
    if (type == "text") {
      KG_TRY(text_or, required_string(block, "text", block_param + ".text"));
      const auto& text = *text_or;
      parts.PushBack(text_part(text, a), a);
      KG_CHECK(copy_cache_control(block, parts[parts.Size() - 1], block_param, a));
    } else if (type == "image") {
      KG_TRY(part_or, image_part(block, block_param, a));
      auto& part = *part_or;
      parts.PushBack(part, a);
      KG_CHECK(copy_cache_control(block, parts[parts.Size() - 1], block_param, a));
    } else if (type == "document") {
      KG_TRY(part_or, document_part(block, block_param, a));
      parts.PushBack(*part_or, a);
      KG_CHECK(copy_cache_control(block, parts[parts.Size() - 1], block_param, a));
    } else if (type == "tool_result") {
      KG_TRY(id_or, required_string(block, "tool_use_id", block_param + ".tool_use_id"));
      const auto& id = *id_or;
      KG_TRY(result_or, tool_result_content(find(block, "content"), block_param + ".content", a));
      Value tool = message("tool", std::move(*result_or), a);
      tool.AddMember("tool_call_id", str_value(id, a), a);
      // The tool failed: Claude reads it from is_error, Gemini from an "error" response (the
      // adapters put it there); the OpenAI family has no such field and gets the text alone.
      if (const Value* failed = find(block, "is_error")) {
        if (!failed->IsBool()) {
          return fail(bad_request("'" + block_param + ".is_error' must be a boolean.",
                                  block_param + ".is_error"));
        }
        if (failed->GetBool()) {
          tool.AddMember("is_error", true, a);
        }
      }
      // A mark inside the result, or on it, marks the tool message (the result's last block).
      if (const Value* inner = find(block, "content"); inner != nullptr && inner->IsArray()) {
        for (const auto& part : inner->GetArray()) {
          KG_CHECK(copy_cache_control(part, tool, block_param + ".content", a));
        }
      }
      KG_CHECK(copy_cache_control(block, tool, block_param, a));
      out.PushBack(tool, a);
    } else {
      return fail(unsupported_block(block_param, type));
    }
  }
  if (!parts.Empty()) {
    out.PushBack(message("user", std::move(parts), a), a);
  }
  return {};
}

// A thinking or redacted_thinking block sent back -> one entry of the message's thinking_blocks
// (providers/reasoning.hpp), which the Anthropic adapter turns back into the block.
Result<Value> thinking_entry(const Value& block, std::string_view type, const std::string& param,
                             Allocator& a) {
  Value entry(rapidjson::kObjectType);
  entry.AddMember("type", str_value(type, a), a);
  if (type == "thinking") {
    KG_TRY(text_or, required_string(block, "thinking", param + ".thinking"));
    KG_TRY(signature_or, required_string(block, "signature", param + ".signature"));
    entry.AddMember("thinking", str_value(*text_or, a), a);
    entry.AddMember("signature", str_value(*signature_or, a), a);
  } else {
    KG_TRY(data_or, required_string(block, "data", param + ".data"));
    entry.AddMember("data", str_value(*data_or, a), a);
  }
  return entry;
}

// A tool_use block -> an OpenAI tool call, appended to `calls`.
Result<void> add_tool_call(const Value& block, const std::string& block_param, Value& calls,
                           Allocator& a) {
  KG_TRY(id_or, required_string(block, "id", block_param + ".id"));
  const auto& id = *id_or;
  KG_TRY(name_or, required_string(block, "name", block_param + ".name"));
  const auto& name = *name_or;
  const Value* input = find(block, "input");
  Value function(rapidjson::kObjectType);
  function.AddMember("name", str_value(name, a), a);
  function.AddMember("arguments", str_value(input ? to_json(*input) : "{}", a), a);
  Value call(rapidjson::kObjectType);
  call.AddMember("id", str_value(id, a), a);
  call.AddMember("type", "function", a);
  call.AddMember("function", function, a);
  calls.PushBack(call, a);
  return {};
}

// One assistant turn: text blocks joined into its content, tool_use blocks as tool_calls,
// thinking blocks (with their signatures) as thinking_blocks. A turn with blocks only Claude
// takes (server tools' calls and results, cited text) also keeps its blocks as they came, as
// the message's anthropic_content, which Claude's adapter sends back instead.
Result<void> add_assistant_turn(const Value& content, const std::string& param, Value& out,
                                Allocator& a) {
  if (content.IsString()) {
    out.PushBack(message("assistant", str_value(as_view(content), a), a), a);
    return {};
  }
  std::string text;
  Value calls(rapidjson::kArrayType);
  Value thinking(rapidjson::kArrayType);
  // Blocks become one content string and tool calls: a cache mark on any of them marks the
  // message (which the Anthropic adapter puts on its last block).
  Value marked(rapidjson::kObjectType);
  bool claude_only = false;
  std::size_t i = 0;
  for (const auto& block : content.GetArray()) {
    const std::string block_param = at(param, i++);
    KG_CHECK(copy_cache_control(block, marked, block_param, a));
    KG_TRY(type_or, required_string(block, "type", block_param + ".type"));
    const auto& type = *type_or;
    if (type == "text") {
      KG_TRY(piece_or, required_string(block, "text", block_param + ".text"));
      const auto& piece = *piece_or;
      text += piece;
      if (find(block, "citations") != nullptr) {
        claude_only = true;  // cited text: the citations go back to Claude as they came
      }
    } else if (type == "tool_use") {
      KG_CHECK(add_tool_call(block, block_param, calls, a));
    } else if (type == "thinking" || type == "redacted_thinking") {
      KG_TRY(entry_or, thinking_entry(block, type, block_param, a));
      thinking.PushBack(*entry_or, a);
    } else {
      // A block Claude's servers made (a server tool's call or result, ...): OpenAI's shape has
      // no place for it, and only Claude can take it back.
      claude_only = true;
    }
  }
  Value m = message("assistant", text.empty() && !calls.Empty() ? Value() : str_value(text, a), a);
  if (claude_only) {
    // The turn as it came, for Claude's adapter; the others read the text and tool calls.
    m.AddMember("anthropic_content", Value(content, a), a);
  }
  if (!calls.Empty()) {
    m.AddMember("tool_calls", calls, a);
  }
  if (!thinking.Empty()) {
    m.AddMember("thinking_blocks", thinking, a);
  }
  KG_CHECK(copy_cache_control(marked, m, param, a));
  out.PushBack(m, a);
  return {};
}

Result<Value> openai_tools(const Value& tools, Allocator& a) {
  if (!tools.IsArray()) {
    return fail(bad_request("'tools' must be an array.", "tools"));
  }
  Value out(rapidjson::kArrayType);
  std::size_t i = 0;
  for (const auto& tool : tools.GetArray()) {
    const std::string param = at("tools", i++);
    if (const Value* type = find(tool, "type");
        type != nullptr && !(type->IsString() && as_view(*type) == "custom")) {
      // One of Claude's own tools (web search, web fetch, code execution, bash, text editor,
      // ...), defined by its type: it travels as it came, for Claude's adapter to send on; the
      // other providers' adapters refuse it (they cannot run it).
      if (!type->IsString() || type->GetStringLength() == 0) {
        return fail(
            bad_request("'" + param + ".type' must be a non-empty string.", param + ".type"));
      }
      KG_CHECK(required_string(tool, "name", param + ".name"));
      out.PushBack(Value(tool, a), a);
      continue;
    }
    KG_TRY(name_or, required_string(tool, "name", param + ".name"));
    const auto& name = *name_or;
    Value function(rapidjson::kObjectType);
    function.AddMember("name", str_value(name, a), a);
    if (const Value* d = find(tool, "description"); d != nullptr && d->IsString()) {
      function.AddMember("description", Value(*d, a), a);
    }
    const Value* schema = find(tool, "input_schema");
    if (schema == nullptr || !schema->IsObject()) {
      return fail(
          bad_request("'" + param + ".input_schema' must be an object.", param + ".input_schema"));
    }
    function.AddMember("parameters", Value(*schema, a), a);
    Value t(rapidjson::kObjectType);
    t.AddMember("type", "function", a);
    t.AddMember("function", function, a);
    KG_CHECK(copy_cache_control(tool, t, param, a));
    out.PushBack(t, a);
  }
  return out;
}

Result<void> add_tool_choice(const Value& choice, rapidjson::Document& out) {
  Allocator& a = out.GetAllocator();
  KG_TRY(type_or, required_string(choice, "type", "tool_choice.type"));
  const auto& type = *type_or;
  if (type == "auto" || type == "none") {
    out.AddMember("tool_choice", str_value(type, a), a);
  } else if (type == "any") {
    out.AddMember("tool_choice", "required", a);
  } else if (type == "tool") {
    KG_TRY(name_or, required_string(choice, "name", "tool_choice.name"));
    const auto& name = *name_or;
    Value function(rapidjson::kObjectType);
    function.AddMember("name", str_value(name, a), a);
    Value c(rapidjson::kObjectType);
    c.AddMember("type", "function", a);
    c.AddMember("function", function, a);
    out.AddMember("tool_choice", c, a);
  } else {
    return fail(
        bad_request("'tool_choice.type' must be auto, any, tool or none.", "tool_choice.type"));
  }
  if (const Value* d = find(choice, "disable_parallel_tool_use"); d != nullptr && d->IsTrue()) {
    out.AddMember("parallel_tool_calls", false, a);
  }
  return {};
}

// --- Response: chat.completion -> message ----------------------------------------------------

std::string_view anthropic_stop_reason(std::string_view finish_reason) {
  if (finish_reason == "length") {
    return "max_tokens";
  }
  if (finish_reason == "tool_calls" || finish_reason == "function_call") {
    return "tool_use";
  }
  return "end_turn";  // "stop", "content_filter", or none given
}

// The upstream's answer, not the client's request, is at fault: a 502, as on the other routes.
Error bad_answer(std::string message) {
  return wire::bad_upstream(
      "The provider",
      "the answer could not be turned into a Messages API response: " + std::move(message));
}

// OpenAI's usage -> Anthropic's: prompt_tokens counts cached and cache-written tokens too, which
// Anthropic reports apart (Claude Code prices and shows them apart).
struct AnthropicUsage {
  int64_t input = 0;
  int64_t cache_read = 0;
  int64_t cache_write = 0;
  int64_t output = 0;

  static int64_t count(const Value* obj, const char* name) {
    const Value* v = obj != nullptr ? find(*obj, name) : nullptr;
    return v != nullptr && v->IsInt64() && v->GetInt64() > 0 ? v->GetInt64() : 0;
  }

  static AnthropicUsage from_openai(const Value* usage) {
    AnthropicUsage u;
    const Value* details = usage != nullptr ? find(*usage, "prompt_tokens_details") : nullptr;
    u.cache_read = count(details, "cached_tokens");
    // Claude's writes as keygate's Anthropic adapter (and LiteLLM) report them, or OpenRouter's.
    u.cache_write =
        std::max(count(usage, "cache_creation_input_tokens"), count(details, "cache_write_tokens"));
    u.input = std::max<int64_t>(count(usage, "prompt_tokens") - u.cache_read - u.cache_write, 0);
    u.output = count(usage, "completion_tokens");
    return u;
  }

  void write(JsonWriter& w) const {
    w.key("usage");
    w.start_object();
    w.field("input_tokens", input);
    w.field("cache_creation_input_tokens", cache_write);
    w.field("cache_read_input_tokens", cache_read);
    w.field("output_tokens", output);
    w.end_object();
  }
};

// A tool call's "arguments" (a JSON text) as the tool_use block's "input" object. Models do
// sometimes emit broken JSON; the client then gets the text under "_raw" rather than a failure.
void write_input(JsonWriter& w, std::string_view arguments) {
  w.key("input");
  auto parsed = parse_json_object(arguments.empty() ? "{}" : arguments);
  if (parsed) {
    w.value(*parsed);
  } else {
    w.start_object();
    w.field("_raw", arguments);
    w.end_object();
  }
}

// The answer's reasoning as thinking blocks, first in the content as Claude puts them: each of
// Claude's with its signature, or else the reasoning text of another provider as one block
// with an empty signature (shown to the user; Claude would not take it back, and keygate leaves
// it out when it goes to Claude).
std::string_view string_or_empty(const Value& obj, const char* name) {
  const Value* v = find(obj, name);
  return v != nullptr && v->IsString() ? as_view(*v) : std::string_view();
}

void write_thinking_blocks(JsonWriter& w, const Value& msg) {
  const Value* blocks = find(msg, "thinking_blocks");
  if (blocks != nullptr && blocks->IsArray() && !blocks->Empty()) {
    // Only the fields the SDK's block types have, each a string, whatever else an upstream put.
    for (const auto& block : blocks->GetArray()) {
      const std::string_view type = string_or_empty(block, "type");
      if (type == "thinking") {
        w.start_object();
        w.field("type", "thinking");
        w.field("thinking", string_or_empty(block, "thinking"));
        w.field("signature", string_or_empty(block, "signature"));
        w.end_object();
      } else if (type == "redacted_thinking") {
        w.start_object();
        w.field("type", "redacted_thinking");
        w.field("data", string_or_empty(block, "data"));
        w.end_object();
      }
    }
    return;
  }
  if (const Value* text = find(msg, "reasoning_content");
      text != nullptr && text->IsString() && text->GetStringLength() > 0) {
    w.start_object();
    w.field("type", "thinking");
    w.field("thinking", as_view(*text));
    w.field("signature", "");
    w.end_object();
  }
}

// --- Errors ----------------------------------------------------------------------------------

std::string_view error_type_for(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

std::string error_json(std::string_view type, std::string_view message) {
  JsonWriter w;
  w.start_object();
  w.field("type", "error");
  w.key("error");
  w.start_object();
  w.field("type", type);
  w.field("message", message);
  w.end_object();
  w.end_object();
  return w.take();
}

// An OpenAI error type, as keygate's stream error frames carry it, -> Anthropic's.
std::string_view error_type_from_openai(std::string_view type) {
  if (type == "invalid_request_error" || type == "authentication_error" ||
      type == "permission_error" || type == "rate_limit_error" || type == "overloaded_error") {
    return type;
  }
  return "api_error";
}

void append_event(std::string& out, std::string_view name, std::string_view data) {
  out.append("event: ").append(name).append("\ndata: ").append(data).append("\n\n");
}

}  // namespace

Result<std::string> to_openai_request(std::string_view messages_request, MessagesRequest kind,
                                      std::string_view anthropic_beta) {
  const bool counting = kind == MessagesRequest::count_tokens;
  auto parsed = parse_json_object(messages_request);
  if (!parsed) {
    return fail(parsed.error());
  }
  const rapidjson::Document& in = *parsed;
  rapidjson::Document out(rapidjson::kObjectType);
  Allocator& a = out.GetAllocator();

  const Value* model = find(in, "model");
  if (model == nullptr || !model->IsString() || model->GetStringLength() == 0) {
    return fail(bad_request("'model' must be a non-empty string.", "model"));
  }
  out.AddMember("model", Value(*model, a), a);

  const Value* max_tokens = find(in, "max_tokens");
  if (max_tokens == nullptr && counting) {
    // not part of a count request
  } else if (max_tokens == nullptr || !max_tokens->IsInt64() || max_tokens->GetInt64() < 1) {
    return fail(bad_request("'max_tokens' must be a positive integer.", "max_tokens"));
  } else {
    out.AddMember("max_tokens", max_tokens->GetInt64(), a);
  }

  Value messages(rapidjson::kArrayType);
  if (const Value* system = find(in, "system")) {
    KG_TRY(content_or, system_content(*system, a));
    messages.PushBack(message("system", std::move(*content_or), a), a);
  }
  const Value* turns = find(in, "messages");
  if (turns == nullptr || !turns->IsArray() || turns->Empty()) {
    return fail(bad_request("'messages' must be a non-empty array.", "messages"));
  }
  std::size_t i = 0;
  for (const auto& turn : turns->GetArray()) {
    const std::string param = at("messages", i++);
    KG_TRY(role_or, required_string(turn, "role", param + ".role"));
    const auto& role = *role_or;
    const Value* content = find(turn, "content");
    if (content == nullptr || !(content->IsString() || content->IsArray())) {
      return fail(bad_request("'" + param + ".content' must be a string or an array of blocks.",
                              param + ".content"));
    }
    if (role == "user") {
      KG_CHECK(add_user_turn(*content, param + ".content", messages, a));
    } else if (role == "assistant") {
      KG_CHECK(add_assistant_turn(*content, param + ".content", messages, a));
    } else {
      return fail(bad_request("'" + param + ".role' must be user or assistant.", param + ".role"));
    }
  }
  out.AddMember("messages", messages, a);

  for (const char* name : {"temperature", "top_p"}) {
    if (const Value* v = find(in, name)) {
      if (!v->IsNumber()) {
        return fail(bad_request(std::string("'") + name + "' must be a number.", name));
      }
      out.AddMember(rapidjson::StringRef(name), Value(*v, a), a);
    }
  }
  // Carried for the providers that take it (Claude, Gemini, most of the OpenAI family); the
  // catalog drops it for OpenAI, which refuses it.
  if (const Value* top_k = find(in, "top_k")) {
    if (!top_k->IsInt64() || top_k->GetInt64() < 0) {
      return fail(bad_request("'top_k' must be a non-negative integer.", "top_k"));
    }
    out.AddMember("top_k", top_k->GetInt64(), a);
  }
  // As it came: Claude takes it as is, other providers' adapters read it (reasoning.hpp).
  if (const Value* thinking = find(in, "thinking")) {
    const Value* type = find(*thinking, "type");
    if (type == nullptr || !type->IsString()) {
      return fail(bad_request("'thinking' must be an object with a string 'type'.", "thinking"));
    }
    out.AddMember("thinking", Value(*thinking, a), a);
  }
  if (const Value* stop = find(in, "stop_sequences")) {
    if (!stop->IsArray()) {
      return fail(bad_request("'stop_sequences' must be an array of strings.", "stop_sequences"));
    }
    out.AddMember("stop", Value(*stop, a), a);
  }
  if (const Value* stream = counting ? nullptr : find(in, "stream")) {
    if (!stream->IsBool()) {
      return fail(bad_request("'stream' must be a boolean.", "stream"));
    }
    out.AddMember("stream", stream->GetBool(), a);
    if (stream->GetBool()) {
      Value options(rapidjson::kObjectType);
      options.AddMember("include_usage", true, a);  // message_delta reports output tokens
      out.AddMember("stream_options", options, a);
    }
  }
  if (const Value* tools = find(in, "tools")) {
    KG_TRY(converted_or, openai_tools(*tools, a));
    auto& converted = *converted_or;
    out.AddMember("tools", converted, a);
  }
  if (const Value* choice = find(in, "tool_choice")) {
    KG_CHECK(add_tool_choice(*choice, out));
  }
  if (!anthropic_beta.empty()) {
    out.AddMember("anthropic_beta", str_value(anthropic_beta, a), a);
  }
  // Claude's own settings with no OpenAI counterpart travel as they came, under "anthropic", for
  // the Anthropic adapter to send on (other providers' adapters leave the object out).
  Value own(rapidjson::kObjectType);
  for (const char* name : kClaudeOnlyFields) {
    if (const Value* v = find(in, name)) {
      own.AddMember(rapidjson::StringRef(name), Value(*v, a), a);
    }
  }
  if (!own.ObjectEmpty()) {
    out.AddMember("anthropic", own, a);
  }
  if (const Value* metadata = find(in, "metadata")) {
    if (const Value* user = find(*metadata, "user_id"); user != nullptr && user->IsString()) {
      out.AddMember("user", Value(*user, a), a);
    }
  }
  return to_json(out);
}

Result<std::string> to_anthropic_message(std::string_view chat_completion) {
  if (auto own = unwrap_claude(claude_message_key(), chat_completion)) {
    // Claude's own message (providers/claude_native.hpp): it goes out as Claude wrote it, once
    // it is known to be one JSON object (an upstream could write the wrapper itself).
    if (!parse_json_object(*own)) {
      return fail(bad_answer("it is not a JSON object"));
    }
    return std::string(*own);
  }
  auto parsed = parse_json_object(chat_completion);
  if (!parsed) {
    return fail(bad_answer("it is not a JSON object"));
  }
  const rapidjson::Document& in = *parsed;
  const auto first = wire::first_choice(in);
  if (!first) {
    return fail(bad_answer(first.error()));
  }
  const Value& choice = *first->choice;
  const Value* msg = first->message;
  const Value* id = find(in, "id");
  const Value* model = find(in, "model");
  const Value* finish = find(choice, "finish_reason");
  const Value* usage = find(in, "usage");

  JsonWriter w;
  w.start_object();
  w.field("id", id != nullptr && id->IsString() ? as_view(*id) : std::string_view("msg_keygate"));
  w.field("type", "message");
  w.field("role", "assistant");
  w.field("model", model != nullptr && model->IsString() ? as_view(*model) : std::string_view());
  w.key("content");
  w.start_array();
  write_thinking_blocks(w, *msg);
  if (const Value* text = find(*msg, "content");
      text != nullptr && text->IsString() && text->GetStringLength() > 0) {
    w.start_object();
    w.field("type", "text");
    w.field("text", as_view(*text));
    w.end_object();
  }
  bool any_tool_call = false;
  if (const Value* calls = find(*msg, "tool_calls"); calls != nullptr && calls->IsArray()) {
    std::size_t n = 0;
    for (const auto& call : calls->GetArray()) {
      any_tool_call = true;
      const Value* function = find(call, "function");
      const Value* call_id = find(call, "id");
      const Value* name = function != nullptr ? find(*function, "name") : nullptr;
      const Value* arguments = function != nullptr ? find(*function, "arguments") : nullptr;
      if (name == nullptr || !name->IsString()) {
        return fail(bad_answer("a tool call has no function name"));
      }
      w.start_object();
      w.field("type", "tool_use");
      // An id the client can answer with a tool_result: the upstream's, or one of ours.
      const std::string fallback_id = "toolu_keygate_" + std::to_string(n++);
      w.field("id", call_id != nullptr && call_id->IsString() && call_id->GetStringLength() > 0
                        ? as_view(*call_id)
                        : std::string_view(fallback_id));
      w.field("name", as_view(*name));
      write_input(w, arguments != nullptr && arguments->IsString() ? as_view(*arguments)
                                                                   : std::string_view());
      w.end_object();
    }
  }
  w.end_array();
  // Some OpenAI-compatible servers end a tool call with "stop": the client must still run it.
  const std::string_view reason = anthropic_stop_reason(
      finish != nullptr && finish->IsString() ? as_view(*finish) : std::string_view());
  w.field("stop_reason", any_tool_call && reason == "end_turn" ? "tool_use" : reason);
  w.key("stop_sequence");
  w.null();
  AnthropicUsage::from_openai(usage).write(w);
  w.end_object();
  return w.take();
}

std::string anthropic_error_body(const Error& error) {
  return error_json(error_type_for(error.status), error.message);
}

// --- Stream ------------------------------------------------------------------------------------

struct AnthropicStreamWriter::State {
  SseParser parser;
  std::vector<SseEvent> events;
  bool started = false;   // message_start went out
  bool finished = false;  // message_stop or an error event went out
  bool native = false;    // Claude's own events go out (claude_event), not translated chunks
  enum class Block { none, text, tool, thinking } block = Block::none;
  bool thinking_streamed = false;  // the open thinking block got its text as deltas already
  int block_index = -1;            // the open (or last) content block's index
  int64_t tool_call = -1;          // the OpenAI tool call index the open tool_use block is for
  std::string tool_id;             // and its id
  int tool_blocks = 0;             // tool_use blocks opened: names ids the upstream left out
  bool any_tool_call = false;
  std::string stop_reason = "end_turn";
  AnthropicUsage usage;

  void start(const Value& chunk, std::string& out) {
    started = true;
    const Value* id = find(chunk, "id");
    const Value* model = find(chunk, "model");
    JsonWriter w;
    w.start_object();
    w.field("type", "message_start");
    w.key("message");
    w.start_object();
    w.field("id", id != nullptr && id->IsString() ? as_view(*id) : std::string_view("msg_keygate"));
    w.field("type", "message");
    w.field("role", "assistant");
    w.field("model", model != nullptr && model->IsString() ? as_view(*model) : std::string_view());
    w.key("content");
    w.start_array();
    w.end_array();
    w.key("stop_reason");
    w.null();
    w.key("stop_sequence");
    w.null();
    w.key("usage");
    w.start_object();
    w.field("input_tokens", int64_t{0});  // known only at the end: message_delta has it
    w.field("output_tokens", int64_t{0});
    w.end_object();
    w.end_object();
    w.end_object();
    append_event(out, "message_start", w.take());
  }

  void stop_block(std::string& out) {
    if (block == Block::none) {
      return;
    }
    JsonWriter w;
    w.start_object();
    w.field("type", "content_block_stop");
    w.field("index", int64_t{block_index});
    w.end_object();
    append_event(out, "content_block_stop", w.take());
    block = Block::none;
  }

  // Closes the open block and opens the next: content_block_start with the block's type and
  // the fields `write_fields` writes (a block starts empty; its deltas fill it).
  template <class WriteFields>
  void start_block(Block kind, std::string_view type, WriteFields&& write_fields,
                   std::string& out) {
    stop_block(out);
    block = kind;
    ++block_index;
    JsonWriter w;
    w.start_object();
    w.field("type", "content_block_start");
    w.field("index", int64_t{block_index});
    w.key("content_block");
    w.start_object();
    w.field("type", type);
    write_fields(w);
    w.end_object();
    w.end_object();
    append_event(out, "content_block_start", w.take());
  }

  void open_text(std::string& out) {
    start_block(
        Block::text, "text", [](JsonWriter& w) { w.field("text", ""); }, out);
  }

  // A thinking block opens with an empty signature; Claude's comes as a signature_delta at its
  // end. Another provider's reasoning has none, and its block keeps the empty one.
  void open_thinking(std::string& out) {
    thinking_streamed = false;
    start_block(
        Block::thinking, "thinking",
        [](JsonWriter& w) {
          w.field("thinking", "");
          w.field("signature", "");
        },
        out);
  }

  // A redacted thinking block comes whole: start (with its data) and stop.
  void redacted_thinking(std::string_view data, std::string& out) {
    start_block(
        Block::thinking, "redacted_thinking", [&](JsonWriter& w) { w.field("data", data); }, out);
    stop_block(out);
  }

  void thinking_text(std::string_view text, std::string& out) {
    if (block != Block::thinking) {
      open_thinking(out);
    }
    thinking_streamed = true;
    delta("thinking_delta", "thinking", text, out);
  }

  // delta.thinking_blocks: Claude's signature ends its thinking block; a redacted block is whole.
  void thinking_blocks(const Value& entries, std::string& out) {
    for (const auto& entry : entries.GetArray()) {
      const Value* type = find(entry, "type");
      if (type == nullptr || !type->IsString()) {
        continue;
      }
      if (as_view(*type) == "redacted_thinking") {
        if (const Value* data = find(entry, "data"); data != nullptr && data->IsString()) {
          redacted_thinking(as_view(*data), out);
        }
        continue;
      }
      if (as_view(*type) != "thinking") {
        continue;
      }
      // The entry repeats the block's text; it is new only if no reasoning_content brought it.
      const bool streamed = block == Block::thinking && thinking_streamed;
      if (const Value* text = find(entry, "thinking");
          !streamed && text != nullptr && text->IsString() && text->GetStringLength() > 0) {
        thinking_text(as_view(*text), out);
      }
      if (const Value* signature = find(entry, "signature");
          signature != nullptr && signature->IsString() && signature->GetStringLength() > 0) {
        if (block != Block::thinking) {
          open_thinking(out);
        }
        delta("signature_delta", "signature", as_view(*signature), out);
        stop_block(out);
      }
    }
  }

  void open_tool(int64_t index, std::string_view id, std::string_view name, std::string& out) {
    tool_call = index;
    any_tool_call = true;
    tool_id = id.empty() ? "toolu_keygate_" + std::to_string(tool_blocks) : std::string(id);
    ++tool_blocks;
    start_block(
        Block::tool, "tool_use",
        [&](JsonWriter& w) {
          w.field("id", tool_id);
          w.field("name", name);
          w.key("input");
          w.start_object();
          w.end_object();
        },
        out);
  }

  void delta(std::string_view kind, std::string_view field, std::string_view text,
             std::string& out) {
    JsonWriter w;
    w.start_object();
    w.field("type", "content_block_delta");
    w.field("index", int64_t{block_index});
    w.key("delta");
    w.start_object();
    w.field("type", kind);
    w.field(field, text);
    w.end_object();
    w.end_object();
    append_event(out, "content_block_delta", w.take());
  }

  void tool_calls(const Value& calls, std::string& out) {
    for (const auto& call : calls.GetArray()) {
      const Value* index = find(call, "index");
      const int64_t i = index != nullptr && index->IsInt64() ? index->GetInt64() : 0;
      const Value* function = find(call, "function");
      const Value* name = function != nullptr ? find(*function, "name") : nullptr;
      const Value* id = find(call, "id");
      // A new block for another call: another index, or another id (some servers send no
      // index). Calls are expected one after the other, as OpenAI streams them; a piece for a
      // call whose block was closed cannot go back into it (Anthropic's blocks do not interleave).
      const bool new_id =
          id != nullptr && id->IsString() && id->GetStringLength() > 0 && as_view(*id) != tool_id;
      if (block != Block::tool || i != tool_call || new_id) {
        open_tool(i, id != nullptr && id->IsString() ? as_view(*id) : std::string_view(),
                  name != nullptr && name->IsString() ? as_view(*name) : std::string_view(), out);
      }
      const Value* args = function != nullptr ? find(*function, "arguments") : nullptr;
      if (args != nullptr && args->IsString() && args->GetStringLength() > 0) {
        delta("input_json_delta", "partial_json", as_view(*args), out);
      }
    }
  }

  void finish(std::string& out) {
    stop_block(out);
    if (any_tool_call && stop_reason == "end_turn") {
      stop_reason = "tool_use";  // a server that ends tool calls with "stop"
    }
    JsonWriter w;
    w.start_object();
    w.field("type", "message_delta");
    w.key("delta");
    w.start_object();
    w.field("stop_reason", stop_reason);
    w.key("stop_sequence");
    w.null();
    w.end_object();
    usage.write(w);
    w.end_object();
    append_event(out, "message_delta", w.take());
    append_event(out, "message_stop", R"({"type":"message_stop"})");
    finished = true;
  }

  // An error event, and nothing after it: what the client gets when the stream fails.
  void fail_with(std::string_view type, std::string_view message, std::string& out) {
    append_event(out, "error", error_json(type, message));
    finished = true;
  }

  // Claude's own event (providers/claude_native.hpp) for this client of Claude's API: it goes
  // out as it came. Its type names the event; a type that is not a plain name could add lines to
  // the stream, and ends it instead.
  void claude_event(std::string_view event, std::string& out) {
    const StackJson<4096> parsed(event);
    const Value* type = parsed.has_parse_error() ? nullptr : find(parsed.value(), "type");
    if (type == nullptr || !type->IsString() || !is_event_name(as_view(*type))) {
      fail_with("api_error", "The upstream sent a stream event that is not one of Claude's.", out);
      return;
    }
    started = true;
    native = true;
    append_event(out, as_view(*type), event);  // one line: the adapter wrapped it so
    finished = as_view(*type) == "message_stop";
  }

  static bool is_event_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '_' || c == '-' || c == '.';
    });
  }

  Result<void> on_frame(const std::string& data, std::string& out) {
    if (!started || native) {
      if (auto event = unwrap_claude(claude_event_key(), data)) {
        claude_event(*event, out);
        return {};
      }
    }
    if (native) {
      // Only the pipeline's own frames follow Claude's events: its error frame, or [DONE]
      // right after message_stop (which ended the stream already).
      if (data == "[DONE]") {
        fail_with("api_error", "The stream ended before it was complete.", out);
        return {};
      }
    }
    if (data == "[DONE]") {
      if (!started) {
        start(Value(rapidjson::kObjectType), out);
      }
      finish(out);
      return {};
    }
    const StackJson<4096> parsed(data);
    if (parsed.has_parse_error() || !parsed.value().IsObject()) {
      // An OpenAI-format upstream's own events pass keygate unparsed; one that is not a JSON
      // chunk cannot be turned into Anthropic's: the stream ends here, saying so.
      fail_with("api_error", "The upstream sent a stream event that is not a JSON chunk.", out);
      return {};
    }
    const Value& chunk = parsed.value();
    if (const Value* error = find(chunk, "error")) {
      const Value* type = find(*error, "type");
      const Value* message = find(*error, "message");
      append_event(
          out, "error",
          error_json(
              error_type_from_openai(type != nullptr && type->IsString() ? as_view(*type)
                                                                         : std::string_view()),
              message != nullptr && message->IsString() ? as_view(*message) : std::string_view()));
      finished = true;
      return {};
    }
    if (!started) {
      start(chunk, out);
    }
    if (const Value* usage = find(chunk, "usage")) {
      this->usage = AnthropicUsage::from_openai(usage);
    }
    const Value* choices = find(chunk, "choices");
    if (choices == nullptr || !choices->IsArray() || choices->Empty()) {
      return {};
    }
    const Value& choice = (*choices)[0];
    if (const Value* d = find(choice, "delta")) {
      if (const Value* text = find(*d, "reasoning_content");
          text != nullptr && text->IsString() && text->GetStringLength() > 0) {
        thinking_text(as_view(*text), out);
      }
      if (const Value* entries = find(*d, "thinking_blocks");
          entries != nullptr && entries->IsArray()) {
        thinking_blocks(*entries, out);
      }
      if (const Value* text = find(*d, "content");
          text != nullptr && text->IsString() && text->GetStringLength() > 0) {
        if (block != Block::text) {
          open_text(out);
        }
        delta("text_delta", "text", as_view(*text), out);
      }
      if (const Value* calls = find(*d, "tool_calls"); calls != nullptr && calls->IsArray()) {
        tool_calls(*calls, out);
      }
    }
    if (const Value* reason = find(choice, "finish_reason");
        reason != nullptr && reason->IsString()) {
      stop_reason = std::string(anthropic_stop_reason(as_view(*reason)));
    }
    return {};
  }
};

AnthropicStreamWriter::AnthropicStreamWriter() : state_(std::make_unique<State>()) {}
AnthropicStreamWriter::~AnthropicStreamWriter() = default;

Result<void> AnthropicStreamWriter::feed(std::string_view openai_bytes, std::string& out) {
  State& s = *state_;
  s.events.clear();
  KG_CHECK(s.parser.feed(openai_bytes, s.events));
  for (const auto& event : s.events) {
    if (s.finished) {
      break;  // nothing may follow message_stop or an error
    }
    KG_CHECK(s.on_frame(event.data, out));
  }
  return {};
}

bool AnthropicStreamWriter::finished() const {
  return state_->finished;
}

}  // namespace keygate::providers
