// Anthropic Messages API adapter: OpenAI chat completions <-> POST /v1/messages.
// Reference: https://docs.anthropic.com/en/api/messages (request and response),
// https://docs.anthropic.com/en/docs/build-with-claude/streaming (stream events),
// https://docs.anthropic.com/en/api/errors (error bodies).
//
// Read top to bottom: constants, wire helpers, request transform, response transform, stream
// state machine, errors, the adapter class.

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "providers/adapters.hpp"
#include "providers/anthropic_inbound.hpp"
#include "providers/catalog.hpp"
#include "providers/claude_native.hpp"
#include "providers/reasoning.hpp"
#include "providers/wire.hpp"
#include "schema/json.hpp"
#include "schema/try.hpp"

namespace keygate::providers {
namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// ---------------------------------------------------------------------------------------------
// Constants

constexpr std::string_view kMessagesPath = "/v1/messages";
constexpr std::string_view kCountTokensPath = "/v1/messages/count_tokens";
constexpr std::string_view kModelsPath = "/v1/models";
// Every request names the API version it was written against.
// https://docs.anthropic.com/en/api/versioning
constexpr std::string_view kVersionHeader = "anthropic-version";
constexpr std::string_view kVersion = "2023-06-01";
// Features in beta are asked for by name in this header, comma-separated.
// https://docs.anthropic.com/en/api/beta-headers
constexpr std::string_view kBetaHeader = "anthropic-beta";
// max_tokens is required by Anthropic (OpenAI makes it optional); used when neither the request
// nor the catalog gives one. https://docs.anthropic.com/en/api/messages#body-max-tokens
constexpr int64_t kDefaultMaxTokens = 4096;

// ---------------------------------------------------------------------------------------------
// Checked JSON reads (providers/wire.hpp), with this provider's name in upstream errors.
constexpr std::string_view kProviderName = "Anthropic";
using wire::bad_request;
using wire::client_string;
using wire::find;
using wire::generated_id;
using wire::str_value;
Error bad_upstream(std::string message) {
  return wire::bad_upstream(kProviderName, std::move(message));
}
Result<std::string_view> up_string(const Value& obj, const char* name) {
  return wire::up_string(kProviderName, obj, name);
}
Result<int64_t> up_int(const Value& obj, const char* name) {
  return wire::up_int(kProviderName, obj, name);
}

// ---------------------------------------------------------------------------------------------
// Request: OpenAI chat request -> Anthropic Messages request.

// One Anthropic turn under construction. Consecutive messages of the same role are merged into
// one turn: the API rejects two user (or two assistant) turns in a row.
// https://docs.anthropic.com/en/api/messages#body-messages
struct Turn {
  std::string role;
  Value blocks{rapidjson::kArrayType};
};

void push_turn(std::vector<Turn>& turns, std::string_view role, Value blocks, Allocator& a) {
  if (blocks.Empty()) {
    return;  // e.g. an assistant message with content "" and no tool calls
  }
  if (turns.empty() || turns.back().role != role) {
    turns.push_back(Turn{std::string(role), Value(rapidjson::kArrayType)});
  }
  Value& merged = turns.back().blocks;
  const bool had_blocks = !merged.Empty();
  for (auto& block : blocks.GetArray()) {
    merged.PushBack(block.Move(), a);
  }
  if (had_blocks && role == "assistant") {
    // Thinking blocks lead an assistant turn, also when two messages merged into it.
    Value ordered(rapidjson::kArrayType);
    for (bool thinking : {true, false}) {
      for (auto& block : merged.GetArray()) {
        const std::string_view type = as_view(block["type"]);
        if ((type == "thinking" || type == "redacted_thinking") == thinking) {
          ordered.PushBack(Value(block, a), a);
        }
      }
    }
    merged = std::move(ordered);
  }
}

Value text_block(std::string_view text, Allocator& a) {
  Value block(rapidjson::kObjectType);
  block.AddMember("type", "text", a);
  block.AddMember("text", str_value(text, a), a);
  return block;
}

// image_url part -> image block. https URLs become a URL source, data: URLs a base64 source.
// https://docs.anthropic.com/en/docs/build-with-claude/vision
Result<Value> image_block(const Value& part, const std::string& param, Allocator& a) {
  const Value* image = find(part, "image_url");
  std::string_view url;
  if (image != nullptr && image->IsString()) {
    url = as_view(*image);
  } else if (image != nullptr && image->IsObject()) {
    auto u = client_string(*image, "url", param + ".image_url.url");
    if (!u) {
      return fail(u.error());
    }
    url = *u;
  }
  if (url.empty()) {
    return fail(bad_request("'" + param + ".image_url.url' is required.", param));
  }
  Value source(rapidjson::kObjectType);
  if (url.starts_with("data:")) {
    // Anthropic takes only base64 data.
    const auto data_url = wire::parse_base64_data_url(url);
    if (!data_url) {
      return fail(bad_request("'" + param +
                                  ".image_url.url' must be an https URL or a base64 data "
                                  "URL (data:image/png;base64,...).",
                              param));
    }
    source.AddMember("type", "base64", a);
    source.AddMember("media_type", str_value(data_url->media_type, a), a);
    source.AddMember("data", str_value(data_url->data, a), a);
  } else if (url.starts_with("https://") || url.starts_with("http://")) {
    source.AddMember("type", "url", a);
    source.AddMember("url", str_value(url, a), a);
  } else {
    return fail(bad_request("'" + param +
                                ".image_url.url' must be an https URL or a base64 data "
                                "URL.",
                            param));
  }
  Value block(rapidjson::kObjectType);
  block.AddMember("type", "image", a);
  block.AddMember("source", source, a);
  return block;
}

// A file part (OpenAI's PDF input: {"type":"file","file":{"filename","file_data":"data:
// application/pdf;base64,..."}}) -> a document block. An OpenAI file_id names a file stored at
// OpenAI, which Claude cannot read.
// https://docs.anthropic.com/en/docs/build-with-claude/pdf-support
Result<Value> document_block(const Value& part, const std::string& param, Allocator& a) {
  const Value* file = find(part, "file");
  if (file == nullptr || !file->IsObject()) {
    return fail(bad_request("'" + param + ".file' must be an object.", param + ".file"));
  }
  auto data = client_string(*file, "file_data", param + ".file.file_data");
  auto filename = client_string(*file, "filename", param + ".file.filename");
  if (!data || !filename) {
    return fail(!data ? data.error() : filename.error());
  }
  const auto data_url = wire::parse_base64_data_url(*data);
  if (!data_url || data_url->media_type != "application/pdf") {
    return fail(bad_request("'" + param +
                                ".file.file_data' must be a PDF as a base64 data URL "
                                "(data:application/pdf;base64,...); file ids are OpenAI's own.",
                            param + ".file.file_data"));
  }
  Value source(rapidjson::kObjectType);
  source.AddMember("type", "base64", a);
  source.AddMember("media_type", "application/pdf", a);
  source.AddMember("data", str_value(data_url->data, a), a);
  Value block(rapidjson::kObjectType);
  block.AddMember("type", "document", a);
  block.AddMember("source", source, a);
  if (!filename->empty()) {
    block.AddMember("title", str_value(*filename, a), a);
  }
  return block;
}

// Prompt caching: a cache_control on an OpenAI content part, message or tool marks the block up
// to which Claude caches the prompt (wire::copy_cache_control).
// https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
using wire::copy_cache_control;

// A message's cache_control onto the last block made from it that can take one (Claude refuses
// it on thinking blocks).
Result<void> mark_last_block(const Value& message, Value& blocks, const std::string& param,
                             Allocator& a) {
  for (rapidjson::SizeType i = blocks.Size(); i-- > 0;) {
    const std::string_view type = as_view(blocks[i]["type"]);
    if (type != "thinking" && type != "redacted_thinking") {
      return copy_cache_control(message, blocks[i], param, a);
    }
  }
  return {};
}

// A block that must stay an object: its cache_control would be lost as plain string content.
// A text block with nothing but its text (no cache mark, no citations): a turn or system prompt
// of that block alone goes as a plain string.
bool is_plain_text(const Value& block) {
  const Value* text = find(block, "text");
  return block.MemberCount() == 2 && as_view(block["type"]) == "text" && text != nullptr &&
         text->IsString();
}

// OpenAI message content (a string, or an array of text / image_url parts) -> content blocks.
Result<Value> content_blocks(const Value* content, bool allow_images, const std::string& param,
                             Allocator& a) {
  Value blocks(rapidjson::kArrayType);
  if (content == nullptr) {
    return blocks;
  }
  if (content->IsString()) {
    // Anthropic rejects empty text blocks, so an empty string adds nothing.
    if (content->GetStringLength() > 0) {
      blocks.PushBack(text_block(as_view(*content), a), a);
    }
    return blocks;
  }
  if (!content->IsArray()) {
    return fail(bad_request("'" + param + "' must be a string or an array of parts.", param));
  }
  for (rapidjson::SizeType i = 0; i < content->Size(); ++i) {
    const Value& part = (*content)[i];
    std::string part_param = param + "[" + std::to_string(i) + "]";
    auto type = client_string(part, "type", part_param + ".type");
    if (!type) {
      return fail(type.error());
    }
    if (*type == "text" || *type == "refusal") {
      auto text = client_string(part, *type == "text" ? "text" : "refusal", part_param + ".text");
      if (!text) {
        return fail(text.error());
      }
      if (!text->empty()) {
        blocks.PushBack(text_block(*text, a), a);
        KG_CHECK(copy_cache_control(part, blocks[blocks.Size() - 1], part_param, a));
      }
    } else if (*type == "image_url" && allow_images) {
      auto block = image_block(part, part_param, a);
      if (!block) {
        return fail(block.error());
      }
      blocks.PushBack(*block, a);
      KG_CHECK(copy_cache_control(part, blocks[blocks.Size() - 1], part_param, a));
    } else if (*type == "file" && allow_images) {
      KG_TRY(block_or, document_block(part, part_param, a));
      blocks.PushBack(*block_or, a);
      KG_CHECK(copy_cache_control(part, blocks[blocks.Size() - 1], part_param, a));
    } else {
      return fail(bad_request(
          "Content part type '" + std::string(*type) + "' is not supported by Anthropic here.",
          part_param + ".type"));
    }
  }
  return blocks;
}

// An assistant message's "thinking_blocks" (keygate's answers carry them; see
// providers/anthropic.cpp's translate_message) -> thinking and redacted_thinking blocks, which
// must come first in the turn. Claude checks each one's signature: a thinking block without one
// (another provider's reasoning) cannot go back and is left out.
// https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks
Result<Value> thinking_blocks(const Value& message, const std::string& param, Allocator& a) {
  Value blocks(rapidjson::kArrayType);
  const Value* list = find(message, "thinking_blocks");
  if (list == nullptr) {
    return blocks;
  }
  const std::string list_param = param + ".thinking_blocks";
  if (!list->IsArray()) {
    return fail(bad_request("'" + list_param + "' must be an array.", list_param));
  }
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const Value& item = (*list)[i];
    const std::string item_param = list_param + "[" + std::to_string(i) + "]";
    auto type = client_string(item, "type", item_param + ".type");
    if (!type) {
      return fail(type.error());
    }
    Value block(rapidjson::kObjectType);
    if (*type == "thinking") {
      auto text = client_string(item, "thinking", item_param + ".thinking");
      auto signature = client_string(item, "signature", item_param + ".signature");
      if (!text || !signature) {
        return fail(!text ? text.error() : signature.error());
      }
      if (signature->empty()) {
        continue;
      }
      block.AddMember("type", "thinking", a);
      block.AddMember("thinking", str_value(*text, a), a);
      block.AddMember("signature", str_value(*signature, a), a);
    } else if (*type == "redacted_thinking") {
      auto data = client_string(item, "data", item_param + ".data");
      if (!data || data->empty()) {
        return fail(
            !data ? data.error()
                  : bad_request("'" + item_param + ".data' is required.", item_param + ".data"));
      }
      block.AddMember("type", "redacted_thinking", a);
      block.AddMember("data", str_value(*data, a), a);
    } else {
      return fail(bad_request("'" + item_param + ".type' must be thinking or redacted_thinking.",
                              item_param + ".type"));
    }
    blocks.PushBack(block, a);
  }
  return blocks;
}

// An assistant turn as Claude wrote it (anthropic_content, which /v1/messages keeps for a turn
// with blocks OpenAI's shape has no place for: a server tool's call and result, cited text).
// It goes back as it came, cache marks included, but for thinking blocks without a signature
// (another provider's reasoning), which Claude would refuse.
Result<Value> claude_content(const Value& content, const std::string& param, Allocator& a) {
  if (!content.IsArray()) {
    return fail(bad_request("'" + param + "' must be an array of content blocks.", param));
  }
  Value blocks(rapidjson::kArrayType);
  for (rapidjson::SizeType i = 0; i < content.Size(); ++i) {
    const Value& block = content[i];
    const std::string block_param = param + "[" + std::to_string(i) + "]";
    auto type = client_string(block, "type", block_param + ".type");
    if (!type) {
      return fail(type.error());
    }
    if (type->empty()) {
      return fail(bad_request("'" + block_param + ".type' is required.", block_param + ".type"));
    }
    if (*type == "thinking") {
      const Value* signature = find(block, "signature");
      if (signature == nullptr || !signature->IsString() || signature->GetStringLength() == 0) {
        continue;
      }
    }
    if (*type == "text") {
      const Value* text = find(block, "text");
      if (text == nullptr || !text->IsString()) {
        return fail(
            bad_request("'" + block_param + ".text' must be a string.", block_param + ".text"));
      }
    }
    blocks.PushBack(Value(block, a), a);
  }
  return blocks;
}

// Assistant tool_calls -> tool_use blocks; the OpenAI arguments string must be a JSON object.
// https://docs.anthropic.com/en/docs/build-with-claude/tool-use
Result<void> append_tool_uses(const Value& tool_calls, const std::string& param, Value& blocks,
                              Allocator& a) {
  if (!tool_calls.IsArray()) {
    return fail(bad_request("'" + param + "' must be an array.", param));
  }
  for (rapidjson::SizeType i = 0; i < tool_calls.Size(); ++i) {
    const Value& call = tool_calls[i];
    std::string call_param = param + "[" + std::to_string(i) + "]";
    const Value* function = find(call, "function");
    if (function == nullptr || !function->IsObject()) {
      return fail(bad_request("'" + call_param + ".function' must be an object.", call_param));
    }
    auto id = client_string(call, "id", call_param + ".id");
    auto name = client_string(*function, "name", call_param + ".function.name");
    auto args = client_string(*function, "arguments", call_param + ".function.arguments");
    if (!id || !name || !args) {
      return fail(!id ? id.error() : !name ? name.error() : args.error());
    }
    rapidjson::Document input;
    if (args->empty()) {
      input.SetObject();
    } else {
      parse_bounded(input, *args);
    }
    if (input.HasParseError() || !input.IsObject()) {
      return fail(
          Error::invalid_request("'" + call_param + ".function.arguments' must be a JSON object.",
                                 call_param + ".function.arguments", "invalid_tool_arguments"));
    }
    Value block(rapidjson::kObjectType);
    block.AddMember("type", "tool_use", a);
    block.AddMember("id", str_value(*id, a), a);
    block.AddMember("name", str_value(*name, a), a);
    block.AddMember("input", Value(input, a), a);
    blocks.PushBack(block, a);
  }
  return {};
}

// OpenAI tools -> Anthropic tools. input_schema is required there, parameters optional here.
// https://docs.anthropic.com/en/docs/build-with-claude/tool-use#specifying-client-tools
Result<Value> convert_tools(const Value& tools, Allocator& a) {
  if (!tools.IsArray()) {
    return fail(bad_request("'tools' must be an array.", "tools"));
  }
  Value out(rapidjson::kArrayType);
  for (rapidjson::SizeType i = 0; i < tools.Size(); ++i) {
    std::string param = "tools[" + std::to_string(i) + "]";
    if (const Value* type = find(tools[i], "type");
        type != nullptr && type->IsString() && as_view(*type) != "function") {
      // One of Claude's own tools (web search, web fetch, code execution, bash, ...), which
      // Claude defines by its type: it goes as the client wrote it.
      // https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool
      out.PushBack(Value(tools[i], a), a);
      continue;
    }
    const Value* function = find(tools[i], "function");
    if (function == nullptr || !function->IsObject()) {
      return fail(bad_request("'" + param + ".function' must be an object.", param));
    }
    auto name = client_string(*function, "name", param + ".function.name");
    auto description = client_string(*function, "description", param + ".function.description");
    if (!name || !description) {
      return fail(!name ? name.error() : description.error());
    }
    Value tool(rapidjson::kObjectType);
    tool.AddMember("name", str_value(*name, a), a);
    if (!description->empty()) {
      tool.AddMember("description", str_value(*description, a), a);
    }
    const Value* parameters = find(*function, "parameters");
    if (parameters != nullptr && parameters->IsObject()) {
      tool.AddMember("input_schema", Value(*parameters, a), a);
    } else {
      Value schema(rapidjson::kObjectType);
      schema.AddMember("type", "object", a);
      schema.AddMember("properties", Value(rapidjson::kObjectType), a);
      tool.AddMember("input_schema", schema, a);
    }
    KG_CHECK(copy_cache_control(tools[i], tool, param, a));
    out.PushBack(tool, a);
  }
  return out;
}

// tool_choice: "auto" -> auto, "required" -> any, "none" -> none, {"function":{"name"}} -> tool.
// parallel_tool_calls=false becomes disable_parallel_tool_use on the choice.
// https://docs.anthropic.com/en/docs/build-with-claude/tool-use#forcing-tool-use
Result<std::optional<Value>> convert_tool_choice(const Value& request, Allocator& a) {
  const Value* choice = find(request, "tool_choice");
  const Value* parallel = find(request, "parallel_tool_calls");
  bool no_parallel = parallel != nullptr && parallel->IsBool() && !parallel->GetBool();
  if (choice == nullptr && !no_parallel) {
    return std::optional<Value>{};
  }
  Value out(rapidjson::kObjectType);
  if (choice == nullptr || (choice->IsString() && as_view(*choice) == "auto")) {
    out.AddMember("type", "auto", a);
  } else if (choice->IsString() && as_view(*choice) == "required") {
    out.AddMember("type", "any", a);
  } else if (choice->IsString() && as_view(*choice) == "none") {
    out.AddMember("type", "none", a);
  } else if (choice->IsObject()) {
    const Value* function = find(*choice, "function");
    const Value* name = function != nullptr ? find(*function, "name") : nullptr;
    if (name == nullptr || !name->IsString()) {
      return fail(bad_request("'tool_choice.function.name' must be a string.", "tool_choice"));
    }
    out.AddMember("type", "tool", a);
    out.AddMember("name", str_value(as_view(*name), a), a);
  } else {
    return fail(bad_request("'tool_choice' must be auto, none, required or a named function.",
                            "tool_choice"));
  }
  if (no_parallel && as_view(out["type"]) != "none") {
    out.AddMember("disable_parallel_tool_use", true, a);
  }
  return std::optional<Value>(std::move(out));
}

Result<int64_t> max_tokens_for(const Value& request, const Provider& provider,
                               std::string_view model) {
  for (const char* name : {"max_completion_tokens", "max_tokens"}) {
    auto v = get_int(request, name);
    if (!v) {
      return fail(v.error());
    }
    if (*v) {
      if (**v <= 0) {
        return fail(bad_request(std::string("'") + name + "' must be positive.", name));
      }
      return **v;
    }
  }
  const ModelInfo* info = provider.find_model(model);
  if (info != nullptr && info->max_output_tokens > 0) {
    return info->max_output_tokens;
  }
  return kDefaultMaxTokens;
}

// Extended thinking. https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
// A client's own `thinking` object goes as it came (Claude validates it, and newer fields pass);
// without a max_tokens of the client's, max_tokens grows to hold its budget and an answer.
// A reasoning_effort becomes a budget only where Claude would take it: a model that thinks, no
// forced tool, no temperature or top_k, top_p at least 0.95 (Claude refuses thinking with those,
// and the client did not ask for Claude's thinking as such). Under the client's max_tokens the
// budget takes at most half, and thinking stays off below the minimum of 1,024.
constexpr int64_t kMinThinkingBudget = 1024;

bool allows_derived_thinking(const Value& request) {
  if (find(request, "temperature") != nullptr || find(request, "top_k") != nullptr) {
    return false;
  }
  if (const Value* top_p = find(request, "top_p");
      top_p != nullptr && top_p->IsNumber() && top_p->GetDouble() < 0.95) {
    return false;
  }
  const Value* choice = find(request, "tool_choice");
  return choice == nullptr ||
         (choice->IsString() && (as_view(*choice) == "auto" || as_view(*choice) == "none"));
}

Result<std::optional<Value>> thinking_param(const Value& request, const Provider& provider,
                                            std::string_view model, bool client_max_tokens,
                                            int64_t& max_tokens, Allocator& a) {
  auto ask = read_reasoning(request);
  if (!ask) {
    return fail(ask.error());
  }
  auto make_room = [&](int64_t budget) {
    if (!client_max_tokens && budget >= max_tokens) {
      max_tokens = budget + kDefaultMaxTokens;
    }
  };
  if (const Value* thinking = find(request, "thinking")) {
    if (ask->mode == ReasoningAsk::Mode::budget) {
      make_room(ask->budget_tokens);
    }
    return std::optional<Value>(Value(*thinking, a));
  }
  if (ask->mode != ReasoningAsk::Mode::budget || !provider.is_reasoning_model(model) ||
      !allows_derived_thinking(request)) {
    return std::optional<Value>();  // "none": thinking is off unless asked for
  }
  const int64_t budget =
      client_max_tokens ? std::min(ask->budget_tokens, max_tokens / 2) : ask->budget_tokens;
  if (budget < kMinThinkingBudget) {
    return std::optional<Value>();
  }
  make_room(budget);
  Value thinking(rapidjson::kObjectType);
  thinking.AddMember("type", "enabled", a);
  thinking.AddMember("budget_tokens", budget, a);
  return std::optional<Value>(std::move(thinking));
}

// The request's "anthropic_beta" (from a /v1/messages client's anthropic-beta header, or a
// keygate extension an OpenAI client may set): the header's value, each name checked to be a
// plain token so that nothing else can reach the upstream's head.
Result<std::string> beta_header(const Value& request) {
  const Value* beta = find(request, "anthropic_beta");
  if (beta == nullptr) {
    return std::string();
  }
  const auto bad = [] {
    return bad_request(
        "'anthropic_beta' must be beta names (letters, digits, '-', '.', '_') "
        "separated by commas.",
        "anthropic_beta");
  };
  if (!beta->IsString()) {
    return fail(bad());
  }
  // Comma-separated names, blanks around them allowed; each a plain token.
  std::string out;
  std::string_view rest = as_view(*beta);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!name.empty() && name.front() == ' ') {
      name.remove_prefix(1);
    }
    while (!name.empty() && name.back() == ' ') {
      name.remove_suffix(1);
    }
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
        return fail(bad());
      }
    }
    if (!name.empty()) {
      out.append(out.empty() ? "" : ",").append(name);
    }
  }
  return out;
}

Result<std::string> build_body(const Value& request, const ChatOptions& options,
                               std::string_view model, const Provider& provider) {
  rapidjson::Document out(rapidjson::kObjectType);
  Allocator& a = out.GetAllocator();
  const Value* messages = find(request, "messages");
  if (messages == nullptr || !messages->IsArray()) {
    return fail(bad_request("'messages' must be an array.", "messages"));
  }

  // System and developer messages go to the top-level `system`; there is no system role in
  // `messages`.
  // https://docs.anthropic.com/en/docs/build-with-claude/prompt-engineering/system-prompts
  Value system(rapidjson::kArrayType);
  std::vector<Turn> turns;
  for (rapidjson::SizeType i = 0; i < messages->Size(); ++i) {
    const Value& message = (*messages)[i];
    std::string param = "messages[" + std::to_string(i) + "]";
    if (!message.IsObject()) {
      return fail(bad_request("'" + param + "' must be an object.", param));
    }
    auto role = client_string(message, "role", param + ".role");
    if (!role) {
      return fail(role.error());
    }
    const Value* content = find(message, "content");
    if (*role == "system" || *role == "developer") {
      auto blocks = content_blocks(content, false, param + ".content", a);
      if (!blocks) {
        return fail(blocks.error());
      }
      KG_CHECK(mark_last_block(message, *blocks, param, a));
      for (auto& block : blocks->GetArray()) {
        system.PushBack(Value(block, a), a);
      }
    } else if (*role == "user") {
      auto blocks = content_blocks(content, true, param + ".content", a);
      if (!blocks) {
        return fail(blocks.error());
      }
      KG_CHECK(mark_last_block(message, *blocks, param, a));
      push_turn(turns, "user", std::move(*blocks), a);
    } else if (*role == "assistant") {
      if (const Value* own = find(message, "anthropic_content")) {
        auto blocks = claude_content(*own, param + ".anthropic_content", a);
        if (!blocks) {
          return fail(blocks.error());
        }
        push_turn(turns, "assistant", std::move(*blocks), a);
        continue;
      }
      auto blocks = thinking_blocks(message, param, a);
      auto text = content_blocks(content, false, param + ".content", a);
      if (!blocks || !text) {
        return fail(!blocks ? blocks.error() : text.error());
      }
      for (auto& block : text->GetArray()) {
        blocks->PushBack(block, a);
      }
      if (const Value* calls = find(message, "tool_calls")) {
        auto ok = append_tool_uses(*calls, param + ".tool_calls", *blocks, a);
        if (!ok) {
          return fail(ok.error());
        }
      }
      KG_CHECK(mark_last_block(message, *blocks, param, a));
      push_turn(turns, "assistant", std::move(*blocks), a);
    } else if (*role == "tool") {
      // Tool results travel in a user turn as tool_result blocks; consecutive tool messages
      // (parallel calls) merge into that one turn.
      // https://docs.anthropic.com/en/docs/build-with-claude/tool-use#handling-tool-use-and-tool-result-content-blocks
      auto id = client_string(message, "tool_call_id", param + ".tool_call_id");
      if (!id) {
        return fail(id.error());
      }
      if (id->empty()) {
        return fail(bad_request("'" + param + ".tool_call_id' is required.", param));
      }
      Value result(rapidjson::kObjectType);
      result.AddMember("type", "tool_result", a);
      result.AddMember("tool_use_id", str_value(*id, a), a);
      if (content != nullptr && content->IsString()) {
        result.AddMember("content", str_value(as_view(*content), a), a);
      } else {
        auto blocks = content_blocks(content, true, param + ".content", a);
        if (!blocks) {
          return fail(blocks.error());
        }
        result.AddMember("content", *blocks, a);
      }
      if (const Value* failed = find(message, "is_error")) {
        if (!failed->IsBool()) {
          return fail(
              bad_request("'" + param + ".is_error' must be a boolean.", param + ".is_error"));
        }
        if (failed->GetBool()) {
          result.AddMember("is_error", true, a);
        }
      }
      KG_CHECK(copy_cache_control(message, result, param, a));
      Value blocks(rapidjson::kArrayType);
      blocks.PushBack(result, a);
      push_turn(turns, "user", std::move(blocks), a);
    } else {
      return fail(
          bad_request("Unsupported message role '" + std::string(*role) + "'.", param + ".role"));
    }
  }
  if (turns.empty()) {
    return fail(bad_request("At least one user or assistant message is required.", "messages"));
  }

  out.AddMember("model", str_value(model, a), a);
  if (system.Size() == 1 && is_plain_text(system[0])) {
    out.AddMember("system", Value(system[0]["text"], a), a);
  } else if (!system.Empty()) {
    out.AddMember("system", system, a);
  }
  Value wire_messages(rapidjson::kArrayType);
  for (Turn& turn : turns) {
    Value m(rapidjson::kObjectType);
    m.AddMember("role", str_value(turn.role, a), a);
    // A lone text block reads best as plain string content, as in the API's examples.
    if (turn.blocks.Size() == 1 && is_plain_text(turn.blocks[0])) {
      m.AddMember("content", Value(turn.blocks[0]["text"], a), a);
    } else {
      m.AddMember("content", Value(turn.blocks, a), a);
    }
    wire_messages.PushBack(m, a);
  }
  out.AddMember("messages", wire_messages, a);

  auto max_tokens = max_tokens_for(request, provider, model);
  if (!max_tokens) {
    return fail(max_tokens.error());
  }
  const bool client_max_tokens =
      find(request, "max_completion_tokens") != nullptr || find(request, "max_tokens") != nullptr;
  auto thinking = thinking_param(request, provider, model, client_max_tokens, *max_tokens, a);
  if (!thinking) {
    return fail(thinking.error());
  }
  out.AddMember("max_tokens", *max_tokens, a);
  if (*thinking) {
    out.AddMember("thinking", std::move(**thinking), a);
  }

  for (auto [from, to] : {std::pair{"temperature", "temperature"}, std::pair{"top_p", "top_p"}}) {
    auto v = get_number(request, from);
    if (!v) {
      return fail(v.error());
    }
    if (*v) {
      out.AddMember(rapidjson::StringRef(to), **v, a);
    }
  }
  if (auto top_k = get_int(request, "top_k"); !top_k) {
    return fail(top_k.error());
  } else if (*top_k) {
    if (**top_k < 0) {
      return fail(bad_request("'top_k' must not be negative.", "top_k"));
    }
    out.AddMember("top_k", **top_k, a);
  }
  if (const Value* stop = find(request, "stop")) {
    Value sequences(rapidjson::kArrayType);
    if (stop->IsString()) {
      sequences.PushBack(Value(*stop, a), a);
    } else if (stop->IsArray()) {
      for (const auto& s : stop->GetArray()) {
        if (!s.IsString()) {
          return fail(bad_request("'stop' must be a string or an array of strings.", "stop"));
        }
        sequences.PushBack(Value(s, a), a);
      }
    } else {
      return fail(bad_request("'stop' must be a string or an array of strings.", "stop"));
    }
    if (!sequences.Empty()) {
      out.AddMember("stop_sequences", sequences, a);
    }
  }
  if (auto n = get_int(request, "n"); n && *n && **n != 1) {
    return fail(bad_request("Anthropic returns one choice per request; 'n' must be 1.", "n"));
  }
  if (const Value* tools = find(request, "tools")) {
    auto converted = convert_tools(*tools, a);
    if (!converted) {
      return fail(converted.error());
    }
    if (!converted->Empty()) {
      out.AddMember("tools", *converted, a);
    }
  }
  auto choice = convert_tool_choice(request, a);
  if (!choice) {
    return fail(choice.error());
  }
  if (*choice && out.HasMember("tools")) {
    out.AddMember("tool_choice", **choice, a);
  }
  // The OpenAI end-user id maps to metadata.user_id (abuse detection on Anthropic's side).
  // https://docs.anthropic.com/en/api/messages#body-metadata
  if (auto user = get_string(request, "user"); user && *user && !(*user)->empty()) {
    Value metadata(rapidjson::kObjectType);
    metadata.AddMember("user_id", str_value(**user, a), a);
    out.AddMember("metadata", metadata, a);
  }
  // Claude's own settings, carried under "anthropic" (from /v1/messages, or set by an OpenAI
  // client): each known one goes into the request as it is.
  if (const Value* own = find(request, "anthropic")) {
    if (!own->IsObject()) {
      return fail(bad_request("'anthropic' must be an object.", "anthropic"));
    }
    for (const auto& m : own->GetObject()) {
      const std::string_view name = as_view(m.name);
      if (std::none_of(std::begin(kClaudeOnlyFields), std::end(kClaudeOnlyFields),
                       [&](const char* known) { return name == known; })) {
        return fail(bad_request("'anthropic." + std::string(name) +
                                    "' is not a setting keygate passes to Claude "
                                    "(output_config, context_management, service_tier).",
                                "anthropic." + std::string(name)));
      }
      if (!out.HasMember(m.name)) {  // a name given twice: the first, as find() reads it
        out.AddMember(Value(m.name, a), Value(m.value, a), a);
      }
    }
  }
  if (options.stream) {
    out.AddMember("stream", true, a);
  }
  return to_json(out);
}

// ---------------------------------------------------------------------------------------------
// Response: Anthropic Message -> OpenAI chat.completion.

// https://docs.anthropic.com/en/api/messages#response-stop-reason
std::string_view finish_reason_for(std::string_view stop_reason) {
  if (stop_reason == "max_tokens") {
    return "length";
  }
  if (stop_reason == "tool_use") {
    return "tool_calls";
  }
  if (stop_reason == "refusal") {
    return "content_filter";
  }
  return "stop";  // end_turn, stop_sequence, pause_turn
}

// Input tokens are split three ways; OpenAI's prompt_tokens is their sum.
// https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#tracking-cache-performance
Result<void> read_usage(const Value& usage, Usage& out) {
  auto input = up_int(usage, "input_tokens");
  auto cache_read = up_int(usage, "cache_read_input_tokens");
  auto cache_write = up_int(usage, "cache_creation_input_tokens");
  auto output = up_int(usage, "output_tokens");
  if (!input || !cache_read || !cache_write || !output) {
    return fail(bad_upstream("usage counts are not integers"));
  }
  if (*input >= 0) {
    out.prompt_tokens =
        *input + std::max<int64_t>(*cache_read, 0) + std::max<int64_t>(*cache_write, 0);
    out.cached_tokens = std::max<int64_t>(*cache_read, 0);
    out.cache_write_tokens = std::max<int64_t>(*cache_write, 0);
  }
  if (*output >= 0) {
    out.completion_tokens = *output;
  }
  // The cache writes split by lifetime (a 1-hour entry is billed higher), and the web searches
  // Claude's server tools ran (billed per search). Both only price the call: absent, nothing
  // changes.
  for (auto [object, name, count] :
       {std::tuple{"cache_creation", "ephemeral_1h_input_tokens", &out.cache_write_1h_tokens},
        std::tuple{"server_tool_use", "web_search_requests", &out.web_search_requests}}) {
    const Value* parts = find(usage, object);
    if (parts == nullptr || !parts->IsObject()) {
      continue;
    }
    auto value = up_int(*parts, name);
    if (!value) {
      return fail(value.error());
    }
    if (*value >= 0) {
      *count = *value;
    }
  }
  return {};
}

void write_usage(JsonWriter& w, const Usage& usage) {
  int64_t prompt = std::max<int64_t>(usage.prompt_tokens, 0);
  int64_t completion = std::max<int64_t>(usage.completion_tokens, 0);
  w.key("usage");
  w.start_object();
  w.field("prompt_tokens", prompt);
  w.field("completion_tokens", completion);
  w.field("total_tokens", prompt + completion);
  w.key("prompt_tokens_details");
  w.start_object();
  w.field("cached_tokens", std::max<int64_t>(usage.cached_tokens, 0));
  w.end_object();
  // Claude's cache writes, where LiteLLM reports them: /v1/messages gives them back as they came.
  if (usage.cache_write_tokens > 0) {
    w.field("cache_creation_input_tokens", usage.cache_write_tokens);
  }
  w.end_object();
}

// `native`: the client speaks Claude's API; it gets `body` itself, wrapped (claude_native.hpp),
// once its shape and usage are read. Otherwise the OpenAI chat.completion it stands for.
Result<std::string> translate_message(std::string_view body, std::string_view model, Usage& usage,
                                      bool native = false) {
  const StackJson<> parsed(body);
  const Value& doc = parsed.value();
  if (parsed.has_parse_error() || !doc.IsObject()) {
    return fail(bad_upstream("the body is not a JSON object"));
  }
  auto id = up_string(doc, "id");
  auto upstream_model = up_string(doc, "model");
  auto stop_reason = up_string(doc, "stop_reason");
  if (!id || !upstream_model || !stop_reason) {
    return fail(!id ? id.error() : !upstream_model ? upstream_model.error() : stop_reason.error());
  }
  const Value* content = find(doc, "content");
  if (content == nullptr || !content->IsArray()) {
    return fail(bad_upstream("'content' is not an array"));
  }
  std::string text;
  std::string thinking;
  // Each thinking block with its signature, which Claude needs back with a tool result.
  JsonWriter thinking_blocks;
  thinking_blocks.start_array();
  int thinking_count = 0;
  JsonWriter calls;
  calls.start_array();
  int tool_count = 0;
  for (const Value& block : content->GetArray()) {
    auto type = up_string(block, "type");
    if (!type) {
      return fail(type.error());
    }
    if (*type == "text") {
      auto t = up_string(block, "text");
      if (!t) {
        return fail(t.error());
      }
      text += *t;
    } else if (*type == "thinking") {
      auto t = up_string(block, "thinking");
      auto signature = up_string(block, "signature");
      if (!t || !signature) {
        return fail(!t ? t.error() : signature.error());
      }
      thinking += *t;
      thinking_blocks.start_object();
      thinking_blocks.field("type", "thinking");
      thinking_blocks.field("thinking", *t);
      thinking_blocks.field("signature", *signature);
      thinking_blocks.end_object();
      ++thinking_count;
    } else if (*type == "redacted_thinking") {
      auto data = up_string(block, "data");
      if (!data) {
        return fail(data.error());
      }
      thinking_blocks.start_object();
      thinking_blocks.field("type", "redacted_thinking");
      thinking_blocks.field("data", *data);
      thinking_blocks.end_object();
      ++thinking_count;
    } else if (*type == "tool_use") {
      auto call_id = up_string(block, "id");
      auto name = up_string(block, "name");
      const Value* input = find(block, "input");
      if (!call_id || !name || (input != nullptr && !input->IsObject())) {
        return fail(bad_upstream("a tool_use block is malformed"));
      }
      calls.start_object();
      calls.field("id", *call_id);
      calls.field("type", "function");
      calls.key("function");
      calls.start_object();
      calls.field("name", *name);
      calls.field("arguments", input != nullptr ? to_json(*input) : std::string("{}"));
      calls.end_object();
      calls.end_object();
      ++tool_count;
    }
    // Other blocks (server tool results) have no OpenAI equivalent.
  }
  calls.end_array();
  thinking_blocks.end_array();
  if (const Value* u = find(doc, "usage")) {
    auto ok = read_usage(*u, usage);
    if (!ok) {
      return fail(ok.error());
    }
  }
  if (native) {
    return wrap_claude(claude_message_key(), body);
  }

  JsonWriter w;
  w.start_object();
  w.field("id", id->empty() ? generated_id() : std::string(*id));
  w.field("object", "chat.completion");
  w.field("created", static_cast<int64_t>(std::time(nullptr)));
  w.field("model", upstream_model->empty() ? model : *upstream_model);
  w.key("choices");
  w.start_array();
  w.start_object();
  w.field("index", 0);
  w.key("message");
  w.start_object();
  w.field("role", "assistant");
  w.key("content");
  if (text.empty() && tool_count > 0) {
    w.null();
  } else {
    w.string(text);
  }
  if (!thinking.empty()) {
    w.field("reasoning_content", thinking);
  }
  if (thinking_count > 0) {
    w.key("thinking_blocks");
    w.raw(thinking_blocks.take());
  }
  if (tool_count > 0) {
    w.key("tool_calls");
    w.raw(calls.take());
  }
  w.end_object();
  w.field("finish_reason", finish_reason_for(*stop_reason));
  w.end_object();
  w.end_array();
  write_usage(w, usage);
  w.end_object();
  return w.take();
}

// ---------------------------------------------------------------------------------------------
// Errors. Body: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}.
// https://docs.anthropic.com/en/api/errors

// The HTTP status an error type comes with; used for errors sent inside a stream, which
// arrives after a 200. overloaded_error is Anthropic's own 529.
int status_for_error_type(std::string_view type) {
  static const std::map<std::string_view, int> kStatus = {
      {"invalid_request_error", 400}, {"authentication_error", 401},
      {"billing_error", 402},         {"permission_error", 403},
      {"not_found_error", 404},       {"request_too_large", 413},
      {"rate_limit_error", 429},      {"api_error", 500},
      {"timeout_error", 504},         {"overloaded_error", 529}};
  auto it = kStatus.find(type);
  return it == kStatus.end() ? 502 : it->second;
}

// Reads {"error":{"type","message"}}; nullopt when the body is not in that shape.
std::optional<std::pair<std::string, std::string>> read_error_body(std::string_view body) {
  rapidjson::Document doc;
  parse_bounded(doc, body);
  const Value* error = doc.HasParseError() ? nullptr : find(doc, "error");
  if (error == nullptr || !error->IsObject()) {
    return std::nullopt;
  }
  auto type = up_string(*error, "type");
  auto message = up_string(*error, "message");
  if (!type || !message) {
    return std::nullopt;
  }
  return std::pair{std::string(*type), std::string(*message)};
}

Error make_error(int status, std::string_view body) {
  auto parsed = read_error_body(body);
  if (!parsed) {
    if (status <= 0) {
      return bad_upstream("an error event is not in Anthropic's error shape");
    }
    return Error::upstream_status(status,
                                  "Anthropic returned HTTP " + std::to_string(status) + ".");
  }
  auto& [type, message] = *parsed;
  if (status <= 0) {
    status = status_for_error_type(type);
  }
  // Most of Anthropic's error types are also OpenAI's type names and pass through; the others
  // (overloaded_error, api_error, ...) take the default type for the status.
  static const std::set<std::string_view> kOpenAiTypes = {
      "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
      "rate_limit_error"};
  std::string code = type == "overloaded_error" ? "upstream_overloaded" : "";
  return Error::upstream_status(status, "Anthropic: " + message,
                                kOpenAiTypes.contains(type) ? type : std::string(), code);
}

// ---------------------------------------------------------------------------------------------
// Stream: Anthropic events -> OpenAI chunks. A state machine keyed by content-block index.
// Event order: message_start, then per block content_block_start / _delta... / _stop, then
// message_delta (stop_reason, output usage), then message_stop; ping and unknown events may
// appear anywhere. https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types

class AnthropicStream final : public StreamTranslator {
 public:
  AnthropicStream(const ChatOptions& options, std::string_view model)
      : wants_usage_(options.client_wants_usage),
        native_(options.anthropic_client),
        id_(generated_id()),
        model_(model),
        created_(std::time(nullptr)) {}

  Result<void> on_event(SseEvent event, std::vector<std::string>& out) override {
    if (!native_ || done_) {
      return translate(event, out);
    }
    // A client of Claude's API gets each event as it came (claude_native.hpp); the translation
    // still runs, for the usage, the checks and the end ("[DONE]" after message_stop).
    translated_.clear();
    KG_CHECK(translate(event, translated_));
    if (event.data.find_first_of("\r\n") == std::string::npos) {
      out.push_back(wrap_claude(claude_event_key(), event.data));
    } else {
      // A chunk is one line of the relayed stream (translate() parsed this event already).
      const StackJson<4096> parsed(event.data);
      out.push_back(wrap_claude(claude_event_key(), to_json(parsed.value())));
    }
    if (!translated_.empty() && translated_.back() == "[DONE]") {
      out.emplace_back("[DONE]");
    }
    return {};
  }

  Result<void> on_end(std::vector<std::string>&) override {
    if (!done_) {
      return fail(Error{502,
                        "upstream_error",
                        "upstream_truncated",
                        "Anthropic closed the stream before message_stop.",
                        {},
                        true});
    }
    return {};
  }

  const Usage& usage() const override { return usage_; }

 private:
  Result<void> translate(const SseEvent& event, std::vector<std::string>& out) {
    if (done_) {
      return {};  // nothing may follow message_stop
    }
    const StackJson<4096> parsed(event.data);
    const Value& doc = parsed.value();
    if (parsed.has_parse_error() || !doc.IsObject()) {
      return fail(bad_upstream("a stream event is not a JSON object"));
    }
    auto type = up_string(doc, "type");
    if (!type) {
      return fail(type.error());
    }
    if (*type == "message_start") {
      return on_message_start(doc, out);
    }
    if (*type == "content_block_start") {
      return on_block_start(doc, out);
    }
    if (*type == "content_block_delta") {
      return on_block_delta(doc, out);
    }
    if (*type == "message_delta") {
      return on_message_delta(doc, out);
    }
    if (*type == "message_stop") {
      return on_message_stop(out);
    }
    if (*type == "error") {
      // An error after the 200 (e.g. overloaded mid-stream).
      // https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events
      return fail(make_error(0, event.data));
    }
    // ping, content_block_stop and event types added later carry nothing for the client.
    // https://docs.anthropic.com/en/api/versioning ("new event types may be added")
    return {};
  }

  Result<void> on_message_start(const Value& doc, std::vector<std::string>& out) {
    const Value* message = find(doc, "message");
    if (message == nullptr || !message->IsObject()) {
      return fail(bad_upstream("message_start without a message"));
    }
    auto id = up_string(*message, "id");
    auto model = up_string(*message, "model");
    if (!id || !model) {
      return fail(!id ? id.error() : model.error());
    }
    if (!id->empty()) {
      id_ = *id;
    }
    if (!model->empty()) {
      model_ = *model;
    }
    if (const Value* u = find(*message, "usage")) {
      auto ok = read_usage(*u, usage_);
      if (!ok) {
        return fail(ok.error());
      }
      // message_start's output_tokens is a placeholder; message_delta has the real count.
      usage_.completion_tokens = -1;
    }
    out.push_back(chunk([](JsonWriter& w) {
      w.field("role", "assistant");
      w.field("content", "");
    }));
    return {};
  }

  Result<void> on_block_start(const Value& doc, std::vector<std::string>& out) {
    auto index = up_int(doc, "index");
    const Value* block = find(doc, "content_block");
    if (!index || *index < 0 || block == nullptr) {
      return fail(bad_upstream("content_block_start without index or content_block"));
    }
    auto type = up_string(*block, "type");
    if (!type) {
      return fail(type.error());
    }
    if (*type == "tool_use") {
      auto id = up_string(*block, "id");
      auto name = up_string(*block, "name");
      if (!id || !name) {
        return fail(bad_upstream("tool_use block without id or name"));
      }
      // OpenAI numbers tool calls 0, 1, ...; Anthropic numbers all blocks, text included.
      int tool_index = next_tool_index_++;
      tool_index_by_block_[*index] = tool_index;
      std::string call_id(*id);
      std::string call_name(*name);
      out.push_back(chunk([&](JsonWriter& w) {
        w.key("tool_calls");
        w.start_array();
        w.start_object();
        w.field("index", tool_index);
        w.field("id", call_id);
        w.field("type", "function");
        w.key("function");
        w.start_object();
        w.field("name", call_name);
        w.field("arguments", "");
        w.end_object();
        w.end_object();
        w.end_array();
      }));
    } else if (*type == "text") {
      auto text = up_string(*block, "text");
      if (!text) {
        return fail(text.error());
      }
      if (!text->empty()) {
        out.push_back(content_chunk("content", *text));
      }
    } else if (*type == "redacted_thinking") {
      // Comes whole in its start event; it goes back to Claude as it came.
      auto data = up_string(*block, "data");
      if (!data) {
        return fail(data.error());
      }
      out.push_back(thinking_entry_chunk("redacted_thinking",
                                         [&](JsonWriter& w) { w.field("data", *data); }));
    } else if (*type == "thinking") {
      thinking_.clear();
    } else {
      // Blocks Claude's servers made (a server tool's call and result, ...): nothing in
      // OpenAI's shape; their deltas are skipped too.
      opaque_blocks_.insert(*index);
    }
    return {};
  }

  Result<void> on_block_delta(const Value& doc, std::vector<std::string>& out) {
    auto index = up_int(doc, "index");
    const Value* delta = find(doc, "delta");
    if (!index || delta == nullptr) {
      return fail(bad_upstream("content_block_delta without index or delta"));
    }
    auto type = up_string(*delta, "type");
    if (!type) {
      return fail(type.error());
    }
    if (*type == "text_delta" || *type == "thinking_delta") {
      bool is_text = *type == "text_delta";
      auto text = up_string(*delta, is_text ? "text" : "thinking");
      if (!text) {
        return fail(text.error());
      }
      if (!is_text) {
        thinking_ += *text;
      }
      if (!text->empty()) {
        out.push_back(content_chunk(is_text ? "content" : "reasoning_content", *text));
      }
    } else if (*type == "input_json_delta") {
      auto it = tool_index_by_block_.find(*index);
      if (it == tool_index_by_block_.end() && opaque_blocks_.contains(*index)) {
        return {};  // a server tool's input: Claude runs that tool itself
      }
      if (it == tool_index_by_block_.end()) {
        return fail(bad_upstream("input_json_delta for a block that is not a tool_use"));
      }
      auto fragment = up_string(*delta, "partial_json");
      if (!fragment) {
        return fail(fragment.error());
      }
      if (fragment->empty()) {
        return {};  // the API often opens with an empty fragment
      }
      int tool_index = it->second;
      std::string args(*fragment);
      out.push_back(chunk([&](JsonWriter& w) {
        w.key("tool_calls");
        w.start_array();
        w.start_object();
        w.field("index", tool_index);
        w.key("function");
        w.start_object();
        w.field("arguments", args);
        w.end_object();
        w.end_object();
        w.end_array();
      }));
    } else if (*type == "signature_delta") {
      // Ends a thinking block. The entry holds the block whole (its text was streamed as
      // reasoning_content too): Claude checks the signature against the text sent back.
      auto signature = up_string(*delta, "signature");
      if (!signature) {
        return fail(signature.error());
      }
      out.push_back(thinking_entry_chunk("thinking", [&](JsonWriter& w) {
        w.field("thinking", thinking_);
        w.field("signature", *signature);
      }));
      thinking_.clear();
    }
    // citations_delta: nothing OpenAI-shaped to send.
    return {};
  }

  Result<void> on_message_delta(const Value& doc, std::vector<std::string>& out) {
    if (const Value* u = find(doc, "usage")) {
      // Counts here are cumulative; newer API versions repeat the input counts too.
      Usage update = usage_;
      auto ok = read_usage(*u, update);
      if (!ok) {
        return fail(ok.error());
      }
      usage_ = update;
    }
    const Value* delta = find(doc, "delta");
    if (delta == nullptr) {
      return {};
    }
    auto stop_reason = up_string(*delta, "stop_reason");
    if (!stop_reason) {
      return fail(stop_reason.error());
    }
    if (!stop_reason->empty() && !finished_) {
      finished_ = true;
      out.push_back(finish_chunk(finish_reason_for(*stop_reason)));
    }
    return {};
  }

  Result<void> on_message_stop(std::vector<std::string>& out) {
    done_ = true;
    if (!finished_) {
      finished_ = true;
      out.push_back(finish_chunk("stop"));
    }
    if (wants_usage_) {
      // The usage chunk has empty choices, as OpenAI sends with include_usage.
      // https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options
      JsonWriter w;
      start_chunk(w);
      w.key("choices");
      w.start_array();
      w.end_array();
      write_usage(w, usage_);
      w.end_object();
      out.push_back(w.take());
    }
    out.emplace_back("[DONE]");
    return {};
  }

  void start_chunk(JsonWriter& w) const {
    w.start_object();
    w.field("id", id_);
    w.field("object", "chat.completion.chunk");
    w.field("created", created_);
    w.field("model", model_);
  }

  template <class WriteDelta>
  std::string chunk(WriteDelta&& write_delta, std::string_view finish_reason = {}) const {
    JsonWriter w;
    start_chunk(w);
    w.key("choices");
    w.start_array();
    w.start_object();
    w.field("index", 0);
    w.key("delta");
    w.start_object();
    write_delta(w);
    w.end_object();
    w.key("finish_reason");
    if (finish_reason.empty()) {
      w.null();
    } else {
      w.string(finish_reason);
    }
    w.end_object();
    w.end_array();
    w.end_object();
    return w.take();
  }

  // A chunk whose delta holds one thinking_blocks entry (providers/reasoning.hpp).
  template <class WriteFields>
  std::string thinking_entry_chunk(std::string_view type, WriteFields&& write_fields) const {
    return chunk([&](JsonWriter& w) {
      w.key("thinking_blocks");
      w.start_array();
      w.start_object();
      w.field("type", type);
      write_fields(w);
      w.end_object();
      w.end_array();
    });
  }

  std::string content_chunk(std::string_view field, std::string_view text) const {
    return chunk([&](JsonWriter& w) { w.field(field, text); });
  }

  std::string finish_chunk(std::string_view reason) const {
    return chunk([](JsonWriter&) {}, reason);
  }

  bool wants_usage_;
  bool native_;  // ChatOptions::anthropic_client: Claude's own events go out, wrapped
  std::vector<std::string> translated_;  // native: the translation's output, looked at and dropped
  std::string id_;
  std::string model_;
  int64_t created_;
  Usage usage_;
  std::map<int64_t, int> tool_index_by_block_;  // content-block index -> OpenAI tool index
  std::set<int64_t> opaque_blocks_;  // blocks with no OpenAI shape (server tools' calls, ...)
  std::string thinking_;  // the open thinking block's text, for the entry its signature ends
  int next_tool_index_ = 0;
  bool finished_ = false;  // finish_reason chunk sent
  bool done_ = false;      // message_stop seen
};

// ---------------------------------------------------------------------------------------------
// The adapter.

class AnthropicAdapter final : public Adapter {
 public:
  explicit AnthropicAdapter(const Provider& provider) : provider_(provider) {
    provider_.adapter.reset();  // only the catalog data is needed; no ownership cycle
  }

  Result<UpstreamRequest> build_chat_request(const rapidjson::Document& request,
                                             const ChatOptions& options,
                                             std::string_view model) const override {
    if (!request.IsObject()) {
      return fail(bad_request("The request body must be an object.", {}));
    }
    auto body = build_body(request, options, model, provider_);
    if (!body) {
      return fail(body.error());
    }
    UpstreamRequest out;
    out.path = kMessagesPath;
    out.headers.emplace_back(kVersionHeader, kVersion);
    auto beta = beta_header(request);
    if (!beta) {
      return fail(beta.error());
    }
    if (!beta->empty()) {
      out.headers.emplace_back(kBetaHeader, std::move(*beta));
    }
    out.body = std::move(*body);
    return out;
  }

  Result<std::string> translate_response(std::string_view upstream_body, std::string_view model,
                                         Usage& usage) const override {
    return translate_message(upstream_body, model, usage);
  }

  Result<std::string_view> translate_answer(const std::string& upstream_body,
                                            const ChatOptions& options, std::string_view model,
                                            Usage& usage, std::string& storage) const override {
    auto answer = translate_message(upstream_body, model, usage, options.anthropic_client);
    if (!answer) {
      return fail(std::move(answer.error()));
    }
    storage = std::move(*answer);
    return std::string_view(storage);
  }

  std::unique_ptr<StreamTranslator> start_stream(const ChatOptions& options,
                                                 std::string_view model) const override {
    return std::make_unique<AnthropicStream>(options, model);
  }

  Error translate_error(int status, std::string_view upstream_body) const override {
    return make_error(status, upstream_body);
  }

  // The Messages request, trimmed to what the counting endpoint takes (it refuses max_tokens,
  // stream and the sampling parameters). https://docs.anthropic.com/en/api/messages-count-tokens
  Result<UpstreamRequest> build_count_tokens_request(const rapidjson::Document& request,
                                                     std::string_view model) const override {
    auto built = build_chat_request(request, {}, model);
    if (!built) {
      return fail(built.error());
    }
    const StackJson<> message(built->body);
    rapidjson::Document counted(rapidjson::kObjectType);
    for (const char* name : {"model", "system", "messages", "tools", "tool_choice", "thinking"}) {
      if (const Value* v = find(message.value(), name)) {
        counted.AddMember(rapidjson::StringRef(name), Value(*v, counted.GetAllocator()),
                          counted.GetAllocator());
      }
    }
    built->path = kCountTokensPath;
    built->body = to_json(counted);
    return built;
  }

  bool counts_tokens() const override { return true; }

  Result<int64_t> read_token_count(std::string_view upstream_body) const override {
    const StackJson<> parsed(upstream_body);
    auto count = up_int(parsed.value(), "input_tokens");
    if (parsed.has_parse_error() || !count || *count < 0) {
      return fail(bad_upstream("the token count has no input_tokens"));
    }
    return *count;
  }

  // Listing models is free and needs a valid key. https://docs.anthropic.com/en/api/models-list
  UpstreamRequest build_key_test_request() const override {
    UpstreamRequest out;
    out.method = "GET";
    out.path = kModelsPath;
    out.headers.emplace_back(kVersionHeader, kVersion);
    return out;
  }

 private:
  Provider provider_;
};

}  // namespace

std::unique_ptr<Adapter> make_anthropic_adapter(const Provider& provider) {
  return std::make_unique<AnthropicAdapter>(provider);
}

}  // namespace keygate::providers
