// Google Gemini API adapter: OpenAI chat completions <-> models.generateContent.
// Reference: https://ai.google.dev/api/generate-content (request, response, streaming),
// https://ai.google.dev/gemini-api/docs/function-calling (tools),
// https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes (errors).
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
#include <utility>
#include <vector>

#include "providers/adapters.hpp"
#include "providers/catalog.hpp"
#include "providers/gemini_embeddings.hpp"
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

// The model is part of the path; the key goes in the x-goog-api-key header (set by the
// transport), never in a `key=` query parameter where it would end up in logs.
// https://ai.google.dev/api/generate-content#method:-models.generatecontent
constexpr std::string_view kModelsPath = "/v1beta/models";
constexpr std::string_view kGenerateSuffix = ":generateContent";
// alt=sse makes the stream server-sent events; without it the answer is one JSON array.
// https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
constexpr std::string_view kStreamSuffix = ":streamGenerateContent?alt=sse";

// ---------------------------------------------------------------------------------------------
// Checked JSON reads (providers/wire.hpp), with this provider's name in upstream errors.
constexpr std::string_view kProviderName = "Gemini";
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

// Gemini has no ids for function calls, OpenAI needs them; the nth call of a response is
// call_<n>. Tool results are matched back to names by these ids (see tool_response_part).
std::string tool_call_id(int n) {
  return "call_" + std::to_string(n);
}

// ---------------------------------------------------------------------------------------------
// Request: OpenAI chat request -> GenerateContentRequest.

// One Gemini Content under construction. Consecutive messages of the same role merge into one
// Content: parallel function responses must come back together in a single turn.
// https://ai.google.dev/gemini-api/docs/function-calling#parallel_function_calling
struct Turn {
  std::string role;  // "user" or "model"
  Value parts{rapidjson::kArrayType};
};

void push_turn(std::vector<Turn>& turns, std::string_view role, Value parts, Allocator& a) {
  if (parts.Empty()) {
    return;
  }
  if (turns.empty() || turns.back().role != role) {
    turns.push_back(Turn{std::string(role), Value(rapidjson::kArrayType)});
  }
  for (auto& part : parts.GetArray()) {
    turns.back().parts.PushBack(part.Move(), a);
  }
}

Value text_part(std::string_view text, Allocator& a) {
  Value part(rapidjson::kObjectType);
  part.AddMember("text", str_value(text, a), a);
  return part;
}

// fileData needs a MIME type; an https image URL rarely says, so guess from its extension.
std::string_view guess_mime_type(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  auto dot = url.rfind('.');
  std::string ext;
  if (dot != std::string_view::npos) {
    for (char c : url.substr(dot + 1)) {
      ext += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  static const std::map<std::string, std::string_view, std::less<>> kTypes = {
      {"png", "image/png"},   {"jpg", "image/jpeg"},     {"jpeg", "image/jpeg"},
      {"webp", "image/webp"}, {"gif", "image/gif"},      {"heic", "image/heic"},
      {"heif", "image/heif"}, {"pdf", "application/pdf"}};
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "image/jpeg" : it->second;
}

// image_url part -> inlineData (data: URL) or fileData (https URL).
// https://ai.google.dev/api/caching#Part
Value inline_data(const wire::DataUrl& data_url, Allocator& a) {
  Value inline_data(rapidjson::kObjectType);
  inline_data.AddMember("mimeType", str_value(data_url.media_type, a), a);
  inline_data.AddMember("data", str_value(data_url.data, a), a);
  return inline_data;
}

// A file part (OpenAI's PDF input, {"type":"file","file":{"file_data":"data:...;base64,..."}})
// -> inlineData, which Gemini reads PDFs from.
// https://ai.google.dev/gemini-api/docs/document-processing
Result<Value> file_part(const Value& part, const std::string& param, Allocator& a) {
  const Value* file = find(part, "file");
  const Value* data = file != nullptr ? find(*file, "file_data") : nullptr;
  const auto data_url = data != nullptr && data->IsString()
                            ? wire::parse_base64_data_url(as_view(*data))
                            : std::nullopt;
  if (!data_url) {
    return fail(bad_request("'" + param +
                                ".file.file_data' must be a base64 data URL "
                                "(data:application/pdf;base64,...); file ids are OpenAI's own.",
                            param + ".file.file_data"));
  }
  Value out(rapidjson::kObjectType);
  out.AddMember("inlineData", inline_data(*data_url, a), a);
  return out;
}

Result<Value> image_part(const Value& part, const std::string& param, Allocator& a) {
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
  Value out(rapidjson::kObjectType);
  if (url.starts_with("data:")) {
    // inlineData takes only base64.
    const auto data_url = wire::parse_base64_data_url(url);
    if (!data_url) {
      return fail(bad_request("'" + param +
                                  ".image_url.url' must be an https URL or a base64 data "
                                  "URL (data:image/png;base64,...).",
                              param));
    }
    out.AddMember("inlineData", inline_data(*data_url, a), a);
  } else if (url.starts_with("https://") || url.starts_with("http://")) {
    Value file_data(rapidjson::kObjectType);
    file_data.AddMember("mimeType", str_value(guess_mime_type(url), a), a);
    file_data.AddMember("fileUri", str_value(url, a), a);
    out.AddMember("fileData", file_data, a);
  } else {
    return fail(bad_request("'" + param +
                                ".image_url.url' must be an https URL or a base64 data "
                                "URL.",
                            param));
  }
  return out;
}

// OpenAI message content (a string, or an array of text / image_url parts) -> Gemini parts.
Result<Value> content_parts(const Value* content, bool allow_images, const std::string& param,
                            Allocator& a) {
  Value parts(rapidjson::kArrayType);
  if (content == nullptr) {
    return parts;
  }
  if (content->IsString()) {
    if (content->GetStringLength() > 0) {
      parts.PushBack(text_part(as_view(*content), a), a);
    }
    return parts;
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
        parts.PushBack(text_part(*text, a), a);
      }
    } else if (*type == "image_url" && allow_images) {
      auto converted = image_part(part, part_param, a);
      if (!converted) {
        return fail(converted.error());
      }
      parts.PushBack(*converted, a);
    } else if (*type == "file" && allow_images) {
      KG_TRY(converted_or, file_part(part, part_param, a));
      parts.PushBack(*converted_or, a);
    } else {
      return fail(bad_request(
          "Content part type '" + std::string(*type) + "' is not supported by Gemini here.",
          part_param + ".type"));
    }
  }
  return parts;
}

// Thought signatures (https://ai.google.dev/gemini-api/docs/thought-signatures): Gemini returns
// one on a model turn's (first) functionCall part, and Gemini 3 refuses the next request (400)
// unless it comes back on that part. An OpenAI client carries it as the tool call's
// extra_content.google.thought_signature, the field Google's own OpenAI-compatible endpoint uses,
// which keygate writes into its answers and reads back here. A call without one (made by another
// model, or before a fallback) gets the documented stand-in on its turn's first call, for models
// after the 2.x series, which validate.
constexpr std::string_view kSignatureStandIn = "skip_thought_signature_validator";

bool validates_signatures(std::string_view model) {
  return !(model.starts_with("gemini-1.") || model.starts_with("gemini-2."));
}

// The signature an OpenAI tool call carries back, or empty.
std::string_view carried_signature(const Value& call) {
  const Value* extra = find(call, "extra_content");
  const Value* google = extra != nullptr ? find(*extra, "google") : nullptr;
  const Value* signature = google != nullptr ? find(*google, "thought_signature") : nullptr;
  return signature != nullptr && signature->IsString() ? as_view(*signature) : std::string_view();
}

// Assistant tool_calls -> functionCall parts; remembers each call's name by id, because a
// functionResponse names the function while an OpenAI tool message only has the call id.
Result<void> append_function_calls(const Value& tool_calls, const std::string& param, Value& parts,
                                   std::map<std::string, std::string>& names,
                                   bool stand_in_signature, Allocator& a) {
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
    rapidjson::Document parsed;
    if (args->empty()) {
      parsed.SetObject();
    } else {
      parse_bounded(parsed, *args);
    }
    if (parsed.HasParseError() || !parsed.IsObject()) {
      return fail(
          Error::invalid_request("'" + call_param + ".function.arguments' must be a JSON object.",
                                 call_param + ".function.arguments", "invalid_tool_arguments"));
    }
    names[std::string(*id)] = std::string(*name);  // a later turn's id wins (ids repeat)
    Value function_call(rapidjson::kObjectType);
    function_call.AddMember("name", str_value(*name, a), a);
    function_call.AddMember("args", Value(parsed, a), a);
    Value part(rapidjson::kObjectType);
    part.AddMember("functionCall", function_call, a);
    std::string_view signature = carried_signature(call);
    if (signature.empty() && i == 0 && stand_in_signature) {
      signature = kSignatureStandIn;
    }
    if (!signature.empty()) {
      part.AddMember("thoughtSignature", str_value(signature, a), a);
    }
    parts.PushBack(part, a);
  }
  return {};
}

// A tool message -> a functionResponse part, then its images as parts of their own (a tool
// result from /v1/messages may hold screenshots). `response` must be an object: a JSON object
// result goes as is, anything else is wrapped as {"content": ...}.
// https://ai.google.dev/api/caching#FunctionResponse
Result<Value> tool_response_parts(const Value& message, const std::string& param,
                                  const std::map<std::string, std::string>& names, Allocator& a) {
  auto id = client_string(message, "tool_call_id", param + ".tool_call_id");
  if (!id) {
    return fail(id.error());
  }
  auto name = names.find(std::string(*id));
  if (name == names.end()) {
    return fail(bad_request("'" + param +
                                ".tool_call_id' does not match a tool call of an "
                                "earlier assistant message.",
                            param + ".tool_call_id"));
  }
  std::string text;
  Value images(rapidjson::kArrayType);
  const Value* content = find(message, "content");
  if (content != nullptr && content->IsString()) {
    text = as_view(*content);
  } else if (content != nullptr) {
    auto parts = content_parts(content, true, param + ".content", a);
    if (!parts) {
      return fail(parts.error());
    }
    for (auto& part : parts->GetArray()) {
      if (const Value* t = find(part, "text")) {
        text += as_view(*t);
      } else {
        images.PushBack(part, a);
      }
    }
  }
  // JSON when it is (and within the depth bound), else the text as it is.
  rapidjson::Document parsed;
  const bool is_json = parse_bounded(parsed, text);
  Value response(rapidjson::kObjectType);
  // A failed tool (is_error on the tool message, from /v1/messages) answers under "error", the
  // key Gemini reads error details from.
  const Value* failed = find(message, "is_error");
  if (failed != nullptr && !failed->IsBool()) {
    return fail(bad_request("'" + param + ".is_error' must be a boolean.", param + ".is_error"));
  }
  if (failed != nullptr && failed->GetBool()) {
    response.AddMember("error", is_json ? Value(parsed, a) : str_value(text, a), a);
  } else if (is_json && parsed.IsObject()) {
    response.CopyFrom(parsed, a);
  } else if (is_json) {
    response.AddMember("content", Value(parsed, a), a);
  } else {
    response.AddMember("content", str_value(text, a), a);
  }
  Value function_response(rapidjson::kObjectType);
  function_response.AddMember("name", str_value(name->second, a), a);
  function_response.AddMember("response", response, a);
  Value part(rapidjson::kObjectType);
  part.AddMember("functionResponse", function_response, a);
  Value parts(rapidjson::kArrayType);
  parts.PushBack(part, a);
  for (auto& image : images.GetArray()) {
    parts.PushBack(image, a);
  }
  return parts;
}

// Gemini's Schema is an OpenAPI 3.0 subset; JSON Schema keywords outside it make the request
// fail with "Unknown name". https://ai.google.dev/api/caching#Schema
void strip_unsupported_schema_keys(Value& schema) {
  if (schema.IsObject()) {
    schema.RemoveMember("$schema");
    schema.RemoveMember("additionalProperties");
    schema.RemoveMember("strict");
    for (auto& member : schema.GetObject()) {
      strip_unsupported_schema_keys(member.value);
    }
  } else if (schema.IsArray()) {
    for (auto& item : schema.GetArray()) {
      strip_unsupported_schema_keys(item);
    }
  }
}

// OpenAI tools -> one Tool holding every functionDeclaration.
// https://ai.google.dev/api/caching#FunctionDeclaration
Result<Value> convert_tools(const Value& tools, Allocator& a) {
  if (!tools.IsArray()) {
    return fail(bad_request("'tools' must be an array.", "tools"));
  }
  Value declarations(rapidjson::kArrayType);
  for (rapidjson::SizeType i = 0; i < tools.Size(); ++i) {
    std::string param = "tools[" + std::to_string(i) + "]";
    const Value* function = find(tools[i], "function");
    if (function == nullptr || !function->IsObject()) {
      return fail(bad_request("'" + param + ".function' must be an object.", param));
    }
    auto name = client_string(*function, "name", param + ".function.name");
    auto description = client_string(*function, "description", param + ".function.description");
    if (!name || !description) {
      return fail(!name ? name.error() : description.error());
    }
    Value declaration(rapidjson::kObjectType);
    declaration.AddMember("name", str_value(*name, a), a);
    if (!description->empty()) {
      declaration.AddMember("description", str_value(*description, a), a);
    }
    // An OBJECT schema with no properties is rejected, so a function without parameters
    // declares none.
    const Value* parameters = find(*function, "parameters");
    const Value* properties = parameters != nullptr ? find(*parameters, "properties") : nullptr;
    if (properties != nullptr && properties->IsObject() && properties->MemberCount() > 0) {
      Value schema(*parameters, a);
      strip_unsupported_schema_keys(schema);
      declaration.AddMember("parameters", schema, a);
    }
    declarations.PushBack(declaration, a);
  }
  Value out(rapidjson::kArrayType);
  if (!declarations.Empty()) {
    Value tool(rapidjson::kObjectType);
    tool.AddMember("functionDeclarations", declarations, a);
    out.PushBack(tool, a);
  }
  return out;
}

// tool_choice -> toolConfig.functionCallingConfig: auto -> AUTO, required -> ANY, none -> NONE,
// a named function -> ANY limited to that name.
// https://ai.google.dev/gemini-api/docs/function-calling#function_calling_modes
Result<std::optional<Value>> convert_tool_choice(const Value& request, Allocator& a) {
  const Value* choice = find(request, "tool_choice");
  if (choice == nullptr) {
    return std::optional<Value>{};
  }
  Value config(rapidjson::kObjectType);
  if (choice->IsString() && as_view(*choice) == "auto") {
    config.AddMember("mode", "AUTO", a);
  } else if (choice->IsString() && as_view(*choice) == "required") {
    config.AddMember("mode", "ANY", a);
  } else if (choice->IsString() && as_view(*choice) == "none") {
    config.AddMember("mode", "NONE", a);
  } else if (choice->IsObject()) {
    const Value* function = find(*choice, "function");
    const Value* name = function != nullptr ? find(*function, "name") : nullptr;
    if (name == nullptr || !name->IsString()) {
      return fail(bad_request("'tool_choice.function.name' must be a string.", "tool_choice"));
    }
    config.AddMember("mode", "ANY", a);
    Value names(rapidjson::kArrayType);
    names.PushBack(str_value(as_view(*name), a), a);
    config.AddMember("allowedFunctionNames", names, a);
  } else {
    return fail(bad_request("'tool_choice' must be auto, none, required or a named function.",
                            "tool_choice"));
  }
  Value tool_config(rapidjson::kObjectType);
  tool_config.AddMember("functionCallingConfig", config, a);
  return std::optional<Value>(std::move(tool_config));
}

// reasoning_effort or thinking -> thinkingConfig: a budget in tokens, 0 for off, -1 for dynamic
// (the model decides). Thought summaries come back when the client asked through `thinking`,
// as Claude shows its thinking; reasoning_effort alone keeps them out, as OpenAI's models do.
// https://ai.google.dev/gemini-api/docs/thinking#set-budget
// Only for models that think (others refuse thinkingConfig), and at most 24,576 tokens, the
// largest budget every thinking model takes (2.5 Flash's limit).
constexpr int64_t kMaxThinkingBudget = 24576;
Result<std::optional<Value>> thinking_config(const Value& request, bool thinking_model,
                                             Allocator& a) {
  auto ask = read_reasoning(request);
  if (!ask) {
    return fail(ask.error());
  }
  using Mode = ReasoningAsk::Mode;
  if (ask->mode == Mode::unspecified || !thinking_model) {
    return std::optional<Value>();
  }
  const int64_t budget = ask->mode == Mode::off ? 0
                         : ask->mode == Mode::adaptive
                             ? -1
                             : std::min(ask->budget_tokens, kMaxThinkingBudget);
  Value config(rapidjson::kObjectType);
  config.AddMember("thinkingBudget", budget, a);
  if (ask->show_thoughts && ask->mode != Mode::off) {
    config.AddMember("includeThoughts", true, a);
  }
  return std::optional<Value>(std::move(config));
}

// Sampling parameters -> generationConfig (camelCase names).
// https://ai.google.dev/api/generate-content#generationconfig
Result<Value> generation_config(const Value& request, bool thinking_model, Allocator& a) {
  Value config(rapidjson::kObjectType);
  for (auto [from, to] : {std::pair{"temperature", "temperature"}, std::pair{"top_p", "topP"},
                          std::pair{"presence_penalty", "presencePenalty"},
                          std::pair{"frequency_penalty", "frequencyPenalty"}}) {
    auto v = get_number(request, from);
    if (!v) {
      return fail(v.error());
    }
    if (*v) {
      config.AddMember(rapidjson::StringRef(to), **v, a);
    }
  }
  auto max_completion = get_int(request, "max_completion_tokens");
  auto max_tokens = get_int(request, "max_tokens");
  auto n = get_int(request, "n");
  auto seed = get_int(request, "seed");
  if (!max_completion || !max_tokens || !n || !seed) {
    return fail(!max_completion ? max_completion.error()
                : !max_tokens   ? max_tokens.error()
                : !n            ? n.error()
                                : seed.error());
  }
  if (auto limit = *max_completion ? *max_completion : *max_tokens) {
    config.AddMember("maxOutputTokens", *limit, a);
  }
  if (*n) {
    config.AddMember("candidateCount", **n, a);
  }
  if (*seed) {
    config.AddMember("seed", **seed, a);
  }
  if (auto top_k = get_int(request, "top_k"); !top_k) {
    return fail(top_k.error());
  } else if (*top_k) {
    if (**top_k < 0) {
      return fail(bad_request("'top_k' must not be negative.", "top_k"));
    }
    config.AddMember("topK", **top_k, a);
  }
  auto thinking = thinking_config(request, thinking_model, a);
  if (!thinking) {
    return fail(thinking.error());
  }
  if (*thinking) {
    config.AddMember("thinkingConfig", **thinking, a);
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
      config.AddMember("stopSequences", sequences, a);
    }
  }
  // JSON mode. https://ai.google.dev/gemini-api/docs/structured-output
  if (const Value* format = find(request, "response_format")) {
    const Value* type = find(*format, "type");
    if (type != nullptr && type->IsString() && as_view(*type) == "json_object") {
      config.AddMember("responseMimeType", "application/json", a);
    }
  }
  return config;
}

// Model ids go into the URL path; anything but an id's characters could reach another endpoint.
bool is_safe_model_id(std::string_view model) {
  return !model.empty() && std::all_of(model.begin(), model.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

Result<std::string> build_body(const Value& request, std::string_view model, bool thinking_model) {
  rapidjson::Document out(rapidjson::kObjectType);
  Allocator& a = out.GetAllocator();
  const Value* messages = find(request, "messages");
  if (messages == nullptr || !messages->IsArray()) {
    return fail(bad_request("'messages' must be an array.", "messages"));
  }

  // System and developer messages become systemInstruction; contents hold only user and model.
  // https://ai.google.dev/gemini-api/docs/text-generation#system-instructions
  Value system(rapidjson::kArrayType);
  std::vector<Turn> turns;
  std::map<std::string, std::string> call_names;  // tool_call_id -> function name
  // Images from tool results go after the run of functionResponse parts, which answer the
  // model's calls one for one.
  Value tool_images(rapidjson::kArrayType);
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
    if (*role != "tool" && !tool_images.Empty()) {
      push_turn(turns, "user", std::move(tool_images), a);
      tool_images.SetArray();
    }
    const Value* content = find(message, "content");
    if (*role == "system" || *role == "developer") {
      auto parts = content_parts(content, false, param + ".content", a);
      if (!parts) {
        return fail(parts.error());
      }
      for (auto& part : parts->GetArray()) {
        system.PushBack(part.Move(), a);
      }
    } else if (*role == "user") {
      auto parts = content_parts(content, true, param + ".content", a);
      if (!parts) {
        return fail(parts.error());
      }
      push_turn(turns, "user", std::move(*parts), a);
    } else if (*role == "assistant") {
      auto parts = content_parts(content, false, param + ".content", a);
      if (!parts) {
        return fail(parts.error());
      }
      if (const Value* calls = find(message, "tool_calls")) {
        auto ok = append_function_calls(*calls, param + ".tool_calls", *parts, call_names,
                                        validates_signatures(model), a);
        if (!ok) {
          return fail(ok.error());
        }
      }
      push_turn(turns, "model", std::move(*parts), a);
    } else if (*role == "tool") {
      auto parts = tool_response_parts(message, param, call_names, a);
      if (!parts) {
        return fail(parts.error());
      }
      Value response(rapidjson::kArrayType);
      for (auto& part : parts->GetArray()) {
        (response.Empty() ? response : tool_images).PushBack(part.Move(), a);
      }
      push_turn(turns, "user", std::move(response), a);
    } else {
      return fail(
          bad_request("Unsupported message role '" + std::string(*role) + "'.", param + ".role"));
    }
  }
  if (!tool_images.Empty()) {
    push_turn(turns, "user", std::move(tool_images), a);
  }
  if (turns.empty()) {
    return fail(bad_request("At least one user or assistant message is required.", "messages"));
  }

  Value contents(rapidjson::kArrayType);
  for (Turn& turn : turns) {
    Value c(rapidjson::kObjectType);
    c.AddMember("role", str_value(turn.role, a), a);
    c.AddMember("parts", turn.parts.Move(), a);
    contents.PushBack(c, a);
  }
  out.AddMember("contents", contents, a);
  if (!system.Empty()) {
    Value instruction(rapidjson::kObjectType);
    instruction.AddMember("parts", system, a);
    out.AddMember("systemInstruction", instruction, a);
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
    out.AddMember("toolConfig", **choice, a);
  }
  auto config = generation_config(request, thinking_model, a);
  if (!config) {
    return fail(config.error());
  }
  if (config->MemberCount() > 0) {
    out.AddMember("generationConfig", *config, a);
  }
  return to_json(out);
}

// ---------------------------------------------------------------------------------------------
// Response: GenerateContentResponse -> OpenAI chat.completion.

// https://ai.google.dev/api/generate-content#FinishReason
std::string_view finish_reason_for(std::string_view reason, bool has_tool_calls) {
  if (has_tool_calls) {
    return "tool_calls";  // Gemini says STOP after a function call
  }
  if (reason == "MAX_TOKENS") {
    return "length";
  }
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
      reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "IMAGE_SAFETY") {
    return "content_filter";
  }
  return "stop";
}

bool is_finish(std::string_view reason) {
  return !reason.empty() && reason != "FINISH_REASON_UNSPECIFIED";
}

// promptTokenCount already includes cached tokens; thoughts are billed as output, as OpenAI
// counts reasoning tokens inside completion_tokens.
// https://ai.google.dev/api/generate-content#UsageMetadata
Result<void> read_usage(const Value& metadata, Usage& out) {
  auto prompt = up_int(metadata, "promptTokenCount");
  auto candidates = up_int(metadata, "candidatesTokenCount");
  auto cached = up_int(metadata, "cachedContentTokenCount");
  auto thoughts = up_int(metadata, "thoughtsTokenCount");
  if (!prompt || !candidates || !cached || !thoughts) {
    return fail(bad_upstream("usageMetadata counts are not integers"));
  }
  out.prompt_tokens = std::max<int64_t>(*prompt, 0);
  out.completion_tokens = std::max<int64_t>(*candidates, 0) + std::max<int64_t>(*thoughts, 0);
  out.cached_tokens = std::max<int64_t>(*cached, 0);
  out.reasoning_tokens = std::max<int64_t>(*thoughts, 0);
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
  w.key("completion_tokens_details");
  w.start_object();
  w.field("reasoning_tokens", std::max<int64_t>(usage.reasoning_tokens, 0));
  w.end_object();
  w.end_object();
}

// What one candidate (or one streamed piece of it) says, in OpenAI terms.
struct CandidateView {
  int index = 0;
  std::string text;
  std::string thoughts;
  struct Call {
    std::string name;
    std::string arguments;  // JSON
    std::string signature;  // thoughtSignature, empty if none
  };
  std::vector<Call> calls;
  std::string finish_reason;  // Gemini's, empty if none
};

Result<CandidateView> read_candidate(const Value& candidate, int position) {
  CandidateView view;
  auto index = up_int(candidate, "index");
  auto reason = up_string(candidate, "finishReason");
  if (!index || !reason) {
    return fail(!index ? index.error() : reason.error());
  }
  view.index = *index >= 0 ? static_cast<int>(*index) : position;
  view.finish_reason = *reason;
  const Value* content = find(candidate, "content");
  const Value* parts = content != nullptr ? find(*content, "parts") : nullptr;
  if (parts == nullptr) {
    return view;  // a blocked candidate has no content
  }
  if (!parts->IsArray()) {
    return fail(bad_upstream("'content.parts' is not an array"));
  }
  for (const Value& part : parts->GetArray()) {
    if (const Value* call = find(part, "functionCall")) {
      auto name = up_string(*call, "name");
      const Value* args = find(*call, "args");
      if (!name || (args != nullptr && !args->IsObject())) {
        return fail(bad_upstream("a functionCall part is malformed"));
      }
      auto signature = up_string(part, "thoughtSignature");
      if (!signature) {
        return fail(signature.error());
      }
      view.calls.push_back(
          {std::string(*name), args != nullptr ? to_json(*args) : "{}", std::string(*signature)});
      continue;
    }
    auto text = up_string(part, "text");
    if (!text) {
      return fail(text.error());
    }
    // Thought summaries are parts flagged thought=true.
    // https://ai.google.dev/gemini-api/docs/thinking#summaries
    const Value* thought = find(part, "thought");
    if (thought != nullptr && thought->IsBool() && thought->GetBool()) {
      view.thoughts += *text;
    } else {
      view.text += *text;
    }
    // inlineData, executableCode and other parts have no OpenAI equivalent.
  }
  return view;
}

// A tool call's thought signature, where Google's OpenAI-compatible endpoint puts it.
void write_signature(JsonWriter& w, std::string_view signature) {
  if (signature.empty()) {
    return;
  }
  w.key("extra_content");
  w.start_object();
  w.key("google");
  w.start_object();
  w.field("thought_signature", signature);
  w.end_object();
  w.end_object();
}

void write_tool_call(JsonWriter& w, int index, bool with_index, const CandidateView::Call& call) {
  w.start_object();
  if (with_index) {
    w.field("index", index);
  }
  w.field("id", tool_call_id(index));
  w.field("type", "function");
  w.key("function");
  w.start_object();
  w.field("name", call.name);
  w.field("arguments", call.arguments);
  w.end_object();
  write_signature(w, call.signature);
  w.end_object();
}

// A prompt blocked before generation has no candidates, only promptFeedback.blockReason.
// https://ai.google.dev/api/generate-content#PromptFeedback
Result<bool> prompt_blocked(const Value& doc) {
  const Value* feedback = find(doc, "promptFeedback");
  if (feedback == nullptr) {
    return false;
  }
  auto reason = up_string(*feedback, "blockReason");
  if (!reason) {
    return fail(reason.error());
  }
  return !reason->empty();
}

Result<std::string> translate_generate_response(std::string_view body, std::string_view model,
                                                Usage& usage) {
  const StackJson<> parsed(body);
  const Value& doc = parsed.value();
  if (parsed.has_parse_error() || !doc.IsObject()) {
    return fail(bad_upstream("the body is not a JSON object"));
  }
  auto response_id = up_string(doc, "responseId");
  auto model_version = up_string(doc, "modelVersion");
  auto blocked = prompt_blocked(doc);
  if (!response_id || !model_version || !blocked) {
    return fail(!response_id     ? response_id.error()
                : !model_version ? model_version.error()
                                 : blocked.error());
  }
  std::vector<CandidateView> choices;
  if (const Value* candidates = find(doc, "candidates")) {
    if (!candidates->IsArray()) {
      return fail(bad_upstream("'candidates' is not an array"));
    }
    for (rapidjson::SizeType i = 0; i < candidates->Size(); ++i) {
      auto view = read_candidate((*candidates)[i], static_cast<int>(i));
      if (!view) {
        return fail(view.error());
      }
      choices.push_back(std::move(*view));
    }
  }
  if (choices.empty()) {
    if (!*blocked) {
      return fail(bad_upstream("no candidates and no promptFeedback"));
    }
    choices.push_back(CandidateView{0, {}, {}, {}, "PROHIBITED_CONTENT"});
  }
  if (const Value* metadata = find(doc, "usageMetadata")) {
    auto ok = read_usage(*metadata, usage);
    if (!ok) {
      return fail(ok.error());
    }
  }

  JsonWriter w;
  w.start_object();
  w.field("id", response_id->empty() ? generated_id() : std::string(*response_id));
  w.field("object", "chat.completion");
  w.field("created", static_cast<int64_t>(std::time(nullptr)));
  w.field("model", model_version->empty() ? model : *model_version);
  w.key("choices");
  w.start_array();
  int next_call = 0;
  for (const CandidateView& choice : choices) {
    w.start_object();
    w.field("index", choice.index);
    w.key("message");
    w.start_object();
    w.field("role", "assistant");
    w.key("content");
    if (choice.text.empty() && !choice.calls.empty()) {
      w.null();
    } else {
      w.string(choice.text);
    }
    if (!choice.thoughts.empty()) {
      w.field("reasoning_content", choice.thoughts);
    }
    if (!choice.calls.empty()) {
      w.key("tool_calls");
      w.start_array();
      for (const auto& call : choice.calls) {
        write_tool_call(w, next_call++, false, call);
      }
      w.end_array();
    }
    w.end_object();
    w.field("finish_reason", finish_reason_for(choice.finish_reason, !choice.calls.empty()));
    w.end_object();
  }
  w.end_array();
  write_usage(w, usage);
  w.end_object();
  return w.take();
}

// ---------------------------------------------------------------------------------------------
// Errors. Body: {"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}, sometimes
// wrapped in an array. https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes

int status_for_grpc_status(std::string_view status) {
  static const std::map<std::string_view, int> kStatus = {
      {"INVALID_ARGUMENT", 400}, {"FAILED_PRECONDITION", 400},
      {"UNAUTHENTICATED", 401},  {"PERMISSION_DENIED", 403},
      {"NOT_FOUND", 404},        {"RESOURCE_EXHAUSTED", 429},
      {"CANCELLED", 499},        {"INTERNAL", 500},
      {"UNAVAILABLE", 503},      {"DEADLINE_EXCEEDED", 504}};
  auto it = kStatus.find(status);
  return it == kStatus.end() ? 502 : it->second;
}

// `status` <= 0: an error inside a 200 stream; the status comes from the body.
Error make_error(int status, std::string_view body) {
  rapidjson::Document doc;
  parse_bounded(doc, body);
  const Value* root = &doc;
  if (!doc.HasParseError() && doc.IsArray() && !doc.Empty()) {
    root = &doc[0];
  }
  const Value* error = doc.HasParseError() ? nullptr : find(*root, "error");
  auto message = error != nullptr ? up_string(*error, "message") : std::string_view{};
  auto grpc_status = error != nullptr ? up_string(*error, "status") : std::string_view{};
  auto code = error != nullptr ? up_int(*error, "code") : int64_t{-1};
  if (error == nullptr || !message || !grpc_status || !code) {
    if (status <= 0) {
      return bad_upstream("an error is not in Google's error shape");
    }
    return Error::upstream_status(status, "Gemini returned HTTP " + std::to_string(status) + ".");
  }
  if (status <= 0) {
    status = *code >= 400 && *code <= 599 ? static_cast<int>(*code)
                                          : status_for_grpc_status(*grpc_status);
  }
  std::string lowered;
  for (char c : *grpc_status) {
    lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // OpenAI's error type for the status, so SDKs raise their usual exception classes.
  static const std::map<int, std::string> kTypes = {{401, "authentication_error"},
                                                    {403, "permission_error"},
                                                    {404, "not_found_error"},
                                                    {429, "rate_limit_error"}};
  auto type = kTypes.find(status);
  return Error::upstream_status(status, "Gemini: " + std::string(*message),
                                type == kTypes.end() ? std::string() : type->second, lowered);
}

// ---------------------------------------------------------------------------------------------
// Stream: each SSE data is a whole GenerateContentResponse holding the next piece of each
// candidate; the last one has finishReason and the final usageMetadata. Gemini sends no end
// marker of its own: the stream just closes, so a close without a finishReason is a cut.
// https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent

class GeminiStream final : public StreamTranslator {
 public:
  GeminiStream(const ChatOptions& options, std::string_view model)
      : wants_usage_(options.client_wants_usage),
        id_(generated_id()),
        model_(model),
        created_(std::time(nullptr)) {}

  Result<void> on_event(SseEvent event, std::vector<std::string>& out) override {
    const StackJson<4096> parsed(event.data);
    const Value& doc = parsed.value();
    if (parsed.has_parse_error() || !doc.IsObject()) {
      return fail(bad_upstream("a stream event is not a JSON object"));
    }
    if (find(doc, "error") != nullptr) {
      return fail(make_error(0, event.data));
    }
    auto response_id = up_string(doc, "responseId");
    auto model_version = up_string(doc, "modelVersion");
    auto blocked = prompt_blocked(doc);
    if (!response_id || !model_version || !blocked) {
      return fail(!response_id     ? response_id.error()
                  : !model_version ? model_version.error()
                                   : blocked.error());
    }
    // The first chunk names the response; every chunk we send keeps that id.
    if (!seen_any_ && !response_id->empty()) {
      id_ = *response_id;
    }
    if (!seen_any_ && !model_version->empty()) {
      model_ = *model_version;
    }
    seen_any_ = true;
    if (const Value* metadata = find(doc, "usageMetadata")) {
      auto ok = read_usage(*metadata, usage_);
      if (!ok) {
        return fail(ok.error());
      }
    }
    if (*blocked && !finished_) {
      finished_ = true;
      out.push_back(chunk(
          0, true, [](JsonWriter&) {}, "content_filter"));
      return {};
    }
    const Value* candidates = find(doc, "candidates");
    if (candidates == nullptr) {
      return {};  // e.g. a usage-only chunk
    }
    if (!candidates->IsArray()) {
      return fail(bad_upstream("'candidates' is not an array"));
    }
    for (rapidjson::SizeType i = 0; i < candidates->Size(); ++i) {
      auto view = read_candidate((*candidates)[i], static_cast<int>(i));
      if (!view) {
        return fail(view.error());
      }
      emit_candidate(*view, out);
    }
    return {};
  }

  Result<void> on_end(std::vector<std::string>& out) override {
    if (!finished_) {
      return fail(Error{502,
                        "upstream_error",
                        "upstream_truncated",
                        "Gemini closed the stream before a finishReason.",
                        {},
                        true});
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

  const Usage& usage() const override { return usage_; }

 private:
  struct ChoiceState {
    bool started = false;  // role sent
    int tool_calls = 0;    // OpenAI tool index within this choice
    bool finished = false;
  };

  void emit_candidate(const CandidateView& view, std::vector<std::string>& out) {
    ChoiceState& state = choices_[view.index];
    if (state.finished) {
      return;
    }
    if (!view.thoughts.empty()) {
      out.push_back(chunk(view.index, take_role(state),
                          [&](JsonWriter& w) { w.field("reasoning_content", view.thoughts); }));
    }
    if (!view.text.empty()) {
      out.push_back(chunk(view.index, take_role(state),
                          [&](JsonWriter& w) { w.field("content", view.text); }));
    }
    // Gemini sends each function call whole, so each becomes one complete tool_calls delta.
    for (const auto& call : view.calls) {
      int tool_index = state.tool_calls++;
      int id_number = next_call_++;
      out.push_back(chunk(view.index, take_role(state), [&](JsonWriter& w) {
        w.key("tool_calls");
        w.start_array();
        w.start_object();
        w.field("index", tool_index);
        w.field("id", tool_call_id(id_number));
        w.field("type", "function");
        w.key("function");
        w.start_object();
        w.field("name", call.name);
        w.field("arguments", call.arguments);
        w.end_object();
        write_signature(w, call.signature);
        w.end_object();
        w.end_array();
      }));
    }
    if (is_finish(view.finish_reason)) {
      state.finished = true;
      finished_ = true;
      out.push_back(chunk(
          view.index, take_role(state), [](JsonWriter&) {},
          finish_reason_for(view.finish_reason, state.tool_calls > 0)));
    }
  }

  static bool take_role(ChoiceState& state) {
    bool first = !state.started;
    state.started = true;
    return first;
  }

  void start_chunk(JsonWriter& w) const {
    w.start_object();
    w.field("id", id_);
    w.field("object", "chat.completion.chunk");
    w.field("created", created_);
    w.field("model", model_);
  }

  // One chunk for choice `index`; the first delta of each choice carries role "assistant".
  template <class WriteDelta>
  std::string chunk(int index, bool with_role, WriteDelta&& write_delta,
                    std::string_view finish_reason = {}) const {
    JsonWriter w;
    start_chunk(w);
    w.key("choices");
    w.start_array();
    w.start_object();
    w.field("index", index);
    w.key("delta");
    w.start_object();
    if (with_role) {
      w.field("role", "assistant");
    }
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

  bool wants_usage_;
  std::string id_;
  std::string model_;
  int64_t created_;
  Usage usage_;
  std::map<int, ChoiceState> choices_;  // candidate index -> state
  int next_call_ = 0;                   // numbers call_<n> across the stream
  bool seen_any_ = false;
  bool finished_ = false;  // some candidate finished
};

// ---------------------------------------------------------------------------------------------
// The adapter.

class GeminiAdapter final : public Adapter {
 public:
  explicit GeminiAdapter(const Provider& p)
      : provider_(p.id),
        reasoning_prefixes_(p.reasoning_model_prefixes),
        embeds_(std::find(p.capabilities.begin(), p.capabilities.end(), "embeddings") !=
                p.capabilities.end()) {}

  Result<UpstreamRequest> build_chat_request(const rapidjson::Document& request,
                                             const ChatOptions& options,
                                             std::string_view model) const override {
    if (!request.IsObject()) {
      return fail(bad_request("The request body must be an object.", {}));
    }
    KG_CHECK(wire::refuse_claude_tools(request, provider_));
    if (!is_safe_model_id(model)) {
      return fail(Error::invalid_request("'" + std::string(model) + "' is not a Gemini model id.",
                                         "model", "model_not_found"));
    }
    auto body = build_body(request, model, starts_with_any(model, reasoning_prefixes_));
    if (!body) {
      return fail(body.error());
    }
    UpstreamRequest out;
    out.path = std::string(kModelsPath) + "/" + std::string(model) +
               std::string(options.stream ? kStreamSuffix : kGenerateSuffix);
    out.body = std::move(*body);
    return out;
  }

  Result<std::string> translate_response(std::string_view upstream_body, std::string_view model,
                                         Usage& usage) const override {
    return translate_generate_response(upstream_body, model, usage);
  }

  std::unique_ptr<StreamTranslator> start_stream(const ChatOptions& options,
                                                 std::string_view model) const override {
    return std::make_unique<GeminiStream>(options, model);
  }

  Error translate_error(int status, std::string_view upstream_body) const override {
    return make_error(status, upstream_body);
  }

  // The generateContent request, wrapped as countTokens takes it, with the model named inside.
  // https://ai.google.dev/api/tokens#method:-models.counttokens
  Result<UpstreamRequest> build_count_tokens_request(const rapidjson::Document& request,
                                                     std::string_view model) const override {
    auto built = build_chat_request(request, {}, model);
    if (!built) {
      return fail(built.error());
    }
    rapidjson::Document generate;
    generate.Parse(built->body.data(), built->body.size());
    auto& a = generate.GetAllocator();
    generate.AddMember("model", str_value("models/" + std::string(model), a), a);
    rapidjson::Document counted(rapidjson::kObjectType);
    counted.AddMember("generateContentRequest", Value(generate, counted.GetAllocator()),
                      counted.GetAllocator());
    built->path = std::string(kModelsPath) + "/" + std::string(model) + ":countTokens";
    built->body = to_json(counted);
    return built;
  }

  bool counts_tokens() const override { return true; }

  // Google leaves zero-valued fields out: an answer without totalTokens counts 0.
  Result<int64_t> read_token_count(std::string_view upstream_body) const override {
    const StackJson<> parsed(upstream_body);
    auto count = up_int(parsed.value(), "totalTokens");
    if (parsed.has_parse_error() || !parsed.value().IsObject() || !count) {
      return fail(bad_upstream("the token count is not a countTokens answer"));
    }
    return std::max<int64_t>(*count, 0);
  }

  bool embeds() const override { return embeds_; }

  Result<void> check_embeddings_request(const rapidjson::Document& request,
                                        std::string_view model) const override {
    if (!is_safe_model_id(model)) {
      return fail(Error::invalid_request("'" + std::string(model) + "' is not a Gemini model id.",
                                         "model", "model_not_found"));
    }
    return check_gemini_embeddings(request);
  }

  Result<UpstreamRequest> build_embeddings_request(const rapidjson::Document& request,
                                                   std::string_view model) const override {
    if (!embeds_) {
      return Adapter::build_embeddings_request(request, model);
    }
    if (auto ok = check_embeddings_request(request, model); !ok) {
      return fail(std::move(ok.error()));
    }
    auto body = gemini_embeddings_body(request, model);
    if (!body) {
      return fail(std::move(body.error()));
    }
    UpstreamRequest out;
    out.path = std::string(kModelsPath) + "/" + std::string(model) + ":batchEmbedContents";
    out.body = std::move(*body);
    return out;
  }

  Result<std::string_view> translate_embeddings(const std::string& upstream_body,
                                                const rapidjson::Document& request,
                                                std::string_view model, Usage& usage,
                                                std::string& storage) const override {
    auto answer = gemini_embeddings_answer(upstream_body, request, model, usage);
    if (!answer) {
      return fail(std::move(answer.error()));
    }
    storage = std::move(*answer);
    return std::string_view(storage);
  }

  // Listing models is free and needs a valid key.
  // https://ai.google.dev/api/models#method:-models.list
  UpstreamRequest build_key_test_request() const override {
    UpstreamRequest out;
    out.method = "GET";
    out.path = kModelsPath;
    return out;
  }

 private:
  std::string provider_;                         // its id, for messages
  std::vector<std::string> reasoning_prefixes_;  // models that take thinkingConfig
  bool embeds_;                                  // the catalog's "embeddings" capability
};

}  // namespace

std::unique_ptr<Adapter> make_gemini_adapter(const Provider& provider) {
  return std::make_unique<GeminiAdapter>(provider);
}

}  // namespace keygate::providers
