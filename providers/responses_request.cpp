// Responses API request -> OpenAI chat request (providers/responses_inbound.hpp).
#include <rapidjson/document.h>

#include "providers/reasoning.hpp"
#include "providers/responses_inbound.hpp"
#include "providers/wire.hpp"
#include "schema/json.hpp"
#include "schema/try.hpp"

namespace keygate::providers {

namespace {

using wire::Allocator;
using wire::bad_request;
using wire::find;
using wire::str_value;
using wire::Value;

// --- Request: Responses API -> OpenAI chat ---------------------------------------------------

std::string at(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

Error not_carried(const std::string& param, std::string_view why) {
  return bad_request("'" + param + "' is not supported: " + std::string(why), param);
}

Result<std::string_view> required_string(const Value& obj, const char* name,
                                         const std::string& param) {
  const Value* v = find(obj, name);
  if (v == nullptr || !v->IsString() || v->GetStringLength() == 0) {
    return fail(bad_request("'" + param + "' must be a non-empty string.", param));
  }
  return as_view(*v);
}

Value text_part(std::string_view text, Allocator& a) {
  Value part(rapidjson::kObjectType);
  part.AddMember("type", "text", a);
  part.AddMember("text", str_value(text, a), a);
  return part;
}

// input_image -> an image_url part. Images by file id live in OpenAI's file store, which no other
// provider reads.
Result<Value> image_part(const Value& part, const std::string& param, Allocator& a) {
  const Value* url = find(part, "image_url");
  if (url == nullptr) {
    return fail(not_carried(param + ".file_id",
                            "keygate takes images by URL or data URL ('image_url') only."));
  }
  if (!url->IsString() || url->GetStringLength() == 0) {
    return fail(
        bad_request("'" + param + ".image_url' must be a non-empty string.", param + ".image_url"));
  }
  Value image(rapidjson::kObjectType);
  image.AddMember("url", Value(*url, a), a);
  if (const Value* detail = find(part, "detail"); detail != nullptr && detail->IsString()) {
    image.AddMember("detail", Value(*detail, a), a);
  }
  Value out(rapidjson::kObjectType);
  out.AddMember("type", "image_url", a);
  out.AddMember("image_url", image, a);
  return out;
}

// input_file with its data -> the chat format's file part (which the adapters give Claude as a
// document and Gemini as inline data). Files by id or URL need OpenAI's file store or a fetch.
Result<Value> file_part(const Value& part, const std::string& param, Allocator& a) {
  const Value* data = find(part, "file_data");
  if (data == nullptr) {
    return fail(not_carried(param, "keygate takes files as 'file_data' only."));
  }
  if (!data->IsString() || data->GetStringLength() == 0) {
    return fail(
        bad_request("'" + param + ".file_data' must be a non-empty string.", param + ".file_data"));
  }
  Value file(rapidjson::kObjectType);
  file.AddMember("file_data", Value(*data, a), a);
  if (const Value* name = find(part, "filename"); name != nullptr && name->IsString()) {
    file.AddMember("filename", Value(*name, a), a);
  }
  Value out(rapidjson::kObjectType);
  out.AddMember("type", "file", a);
  out.AddMember("file", file, a);
  return out;
}

// A message's content -> the chat message's: a string as it is, parts one by one.
Result<Value> content_parts(const Value& content, const std::string& param, Allocator& a) {
  if (content.IsString()) {
    return Value(content, a);
  }
  if (!content.IsArray()) {
    return fail(
        bad_request("'" + param + "' must be a string or an array of content parts.", param));
  }
  Value parts(rapidjson::kArrayType);
  std::size_t i = 0;
  for (const auto& part : content.GetArray()) {
    const std::string p = at(param, i++);
    KG_TRY(type_or, required_string(part, "type", p + ".type"));
    const std::string_view type = *type_or;
    if (type == "input_text" || type == "output_text") {
      const Value* text = find(part, "text");
      if (text == nullptr || !text->IsString()) {
        return fail(bad_request("'" + p + ".text' must be a string.", p + ".text"));
      }
      parts.PushBack(text_part(as_view(*text), a), a);
    } else if (type == "refusal") {
      KG_TRY(text_or, required_string(part, "refusal", p + ".refusal"));
      parts.PushBack(text_part(*text_or, a), a);
    } else if (type == "input_image") {
      KG_TRY(image_or, image_part(part, p, a));
      parts.PushBack(std::move(*image_or), a);
    } else if (type == "input_file") {
      KG_TRY(file_or, file_part(part, p, a));
      parts.PushBack(std::move(*file_or), a);
    } else {
      return fail(not_carried(p + ".type",
                              "keygate carries input_text, input_image, input_file, "
                              "output_text and refusal parts."));
    }
  }
  return parts;
}

// An assistant's parts as one string: the chat format's assistant content is text.
Result<Value> assistant_text(const Value& content, const std::string& param, Allocator& a) {
  KG_TRY(parts_or, content_parts(content, param, a));
  Value& parts = *parts_or;
  if (parts.IsString()) {
    return std::move(parts);
  }
  std::string text;
  std::size_t i = 0;
  for (const auto& part : parts.GetArray()) {
    const Value* t = find(part, "text");
    if (t == nullptr) {
      return fail(bad_request("'" + at(param, i) + "' must be output_text in an assistant message.",
                              at(param, i) + ".type"));
    }
    text.append(as_view(*t));
    ++i;
  }
  return str_value(text, a);
}

// The chat messages being built, with what joins an assistant turn: function_call items right
// after an assistant message (or after each other) are that one turn's tool calls, as the chat
// format has them; Claude's thinking blocks sent back in a reasoning item go on the next one.
class ChatMessages {
 public:
  explicit ChatMessages(Allocator& a) : a_(a), list_(rapidjson::kArrayType) {}

  void add(std::string_view role, Value content) {
    Value m(rapidjson::kObjectType);
    m.AddMember("role", str_value(role, a_), a_);
    m.AddMember("content", content, a_);
    push(std::move(m), role == "assistant");
  }

  void add_tool_call(Value call) {
    if (!open_assistant_) {
      Value m(rapidjson::kObjectType);
      m.AddMember("role", "assistant", a_);
      m.AddMember("content", Value(), a_);
      push(std::move(m), true);
    }
    Value& m = list_[list_.Size() - 1];
    auto calls = m.FindMember("tool_calls");
    if (calls == m.MemberEnd()) {
      m.AddMember("tool_calls", Value(rapidjson::kArrayType), a_);
      calls = m.FindMember("tool_calls");
    }
    calls->value.PushBack(call, a_);
  }

  void add_tool_result(Value call_id, Value content) {
    Value m(rapidjson::kObjectType);
    m.AddMember("role", "tool", a_);
    m.AddMember("tool_call_id", call_id, a_);
    m.AddMember("content", content, a_);
    push(std::move(m), false);
  }

  // Claude's thinking blocks, for the assistant turn that follows (or the open one, if a tool
  // call of it follows: a reasoning item comes before the items it reasoned about).
  void add_thinking_blocks(Value blocks) {
    for (auto& block : blocks.GetArray()) {
      pending_thinking_.PushBack(block, a_);
    }
    open_assistant_ = false;  // the next function_call starts the turn the blocks belong to
  }

  Value take() { return std::move(list_); }
  bool empty() const { return list_.Empty(); }

 private:
  void push(Value m, bool assistant) {
    if (assistant && !pending_thinking_.Empty()) {
      m.AddMember("thinking_blocks", pending_thinking_, a_);
    }
    // Blocks belong to the assistant turn right after them, or to none.
    pending_thinking_.SetArray();
    list_.PushBack(m, a_);
    open_assistant_ = assistant;
  }

  Allocator& a_;
  Value list_;
  Value pending_thinking_{rapidjson::kArrayType};
  bool open_assistant_ = false;
};

// A function_call item -> a tool call of the open assistant turn.
Result<void> add_function_call(const Value& item, const std::string& param, ChatMessages& out,
                               Allocator& a) {
  KG_TRY(call_id_or, required_string(item, "call_id", param + ".call_id"));
  KG_TRY(name_or, required_string(item, "name", param + ".name"));
  const Value* arguments = find(item, "arguments");
  if (arguments == nullptr || !arguments->IsString()) {
    return fail(bad_request("'" + param + ".arguments' must be a string.", param + ".arguments"));
  }
  Value function(rapidjson::kObjectType);
  function.AddMember("name", str_value(*name_or, a), a);
  function.AddMember("arguments", Value(*arguments, a), a);
  Value call(rapidjson::kObjectType);
  call.AddMember("id", str_value(*call_id_or, a), a);
  call.AddMember("type", "function", a);
  call.AddMember("function", function, a);
  // Gemini's thought signature, as keygate's answers put it on the item (providers/gemini.cpp).
  if (const Value* extra = find(item, "extra_content"); extra != nullptr && extra->IsObject()) {
    call.AddMember("extra_content", Value(*extra, a), a);
  }
  out.add_tool_call(std::move(call));
  return {};
}

// A function_call_output item -> a tool message: its output as text, or as parts (a tool's
// screenshot), which the adapters place where each provider takes them.
Result<void> add_function_output(const Value& item, const std::string& param, ChatMessages& out,
                                 Allocator& a) {
  KG_TRY(call_id_or, required_string(item, "call_id", param + ".call_id"));
  const Value* output = find(item, "output");
  if (output == nullptr) {
    return fail(bad_request("'" + param + ".output' must be a string or an array of content parts.",
                            param + ".output"));
  }
  KG_TRY(content_or, content_parts(*output, param + ".output", a));
  out.add_tool_result(str_value(*call_id_or, a), std::move(*content_or));
  return {};
}

// A reasoning item sent back: Claude's thinking blocks, when keygate put them there, go back to
// Claude; any other reasoning (OpenAI's own encrypted reasoning, or a summary) has no place in a
// chat request and is left out.
Result<void> add_reasoning(const Value& item, const std::string& param, ChatMessages& out,
                           Allocator& a) {
  const Value* sealed = find(item, "encrypted_content");
  if (sealed == nullptr || !sealed->IsString() ||
      !as_view(*sealed).starts_with(kThinkingBlocksPrefix)) {
    return {};
  }
  const std::string_view json = as_view(*sealed).substr(kThinkingBlocksPrefix.size());
  rapidjson::Document blocks(&a);
  parse_bounded(blocks, json);
  if (blocks.HasParseError() || !blocks.IsArray()) {
    return fail(bad_request("'" + param + ".encrypted_content' was changed after keygate wrote it.",
                            param + ".encrypted_content"));
  }
  out.add_thinking_blocks(Value(blocks, a));
  return {};
}

Result<void> add_message(const Value& item, const std::string& param, ChatMessages& out,
                         Allocator& a) {
  KG_TRY(role_or, required_string(item, "role", param + ".role"));
  const std::string_view role = *role_or;
  const Value* content = find(item, "content");
  if (content == nullptr) {
    return fail(
        bad_request("'" + param + ".content' must be a string or an array of content parts.",
                    param + ".content"));
  }
  if (role == "assistant") {
    KG_TRY(text_or, assistant_text(*content, param + ".content", a));
    out.add("assistant", std::move(*text_or));
  } else if (role == "user" || role == "system" || role == "developer") {
    KG_TRY(parts_or, content_parts(*content, param + ".content", a));
    // "developer" is OpenAI's newer name for a system message; not every provider knows it.
    out.add(role == "user" ? "user" : "system", std::move(*parts_or));
  } else {
    return fail(bad_request("'" + param + ".role' must be user, system, developer or assistant.",
                            param + ".role"));
  }
  return {};
}

Result<void> add_items(const Value& input, ChatMessages& out, Allocator& a) {
  if (input.IsString()) {
    out.add("user", Value(input, a));
    return {};
  }
  if (!input.IsArray() || input.Empty()) {
    return fail(
        bad_request("'input' must be a string or a non-empty array of input items.", "input"));
  }
  std::size_t i = 0;
  for (const auto& item : input.GetArray()) {
    const std::string param = at("input", i++);
    if (!item.IsObject()) {
      return fail(bad_request("'" + param + "' must be an object.", param));
    }
    const Value* type = find(item, "type");
    if (type != nullptr && !type->IsString()) {
      return fail(bad_request("'" + param + ".type' must be a string.", param + ".type"));
    }
    const std::string_view kind = type != nullptr ? as_view(*type) : std::string_view("message");
    if (kind == "message") {
      KG_CHECK(add_message(item, param, out, a));
    } else if (kind == "function_call") {
      KG_CHECK(add_function_call(item, param, out, a));
    } else if (kind == "function_call_output") {
      KG_CHECK(add_function_output(item, param, out, a));
    } else if (kind == "reasoning") {
      KG_CHECK(add_reasoning(item, param, out, a));
    } else if (kind == "item_reference") {
      return fail(not_carried(param, "keygate keeps no responses; send the items themselves."));
    } else {
      return fail(not_carried(param + ".type",
                              "keygate carries message, function_call, function_call_output and "
                              "reasoning items; '" +
                                  std::string(kind) + "' belongs to OpenAI's hosted tools."));
    }
  }
  if (out.empty()) {
    return fail(bad_request("'input' holds no message.", "input"));
  }
  return {};
}

// Function tools -> chat tools. OpenAI's hosted tools run inside its Responses service only.
Result<Value> chat_tools(const Value& tools, Allocator& a) {
  if (!tools.IsArray()) {
    return fail(bad_request("'tools' must be an array.", "tools"));
  }
  Value out(rapidjson::kArrayType);
  std::size_t i = 0;
  for (const auto& tool : tools.GetArray()) {
    const std::string param = at("tools", i++);
    KG_TRY(type_or, required_string(tool, "type", param + ".type"));
    if (*type_or != "function") {
      Error e =
          not_carried(param, "'" + std::string(*type_or) +
                                 "' is one of OpenAI's hosted tools, which run only in OpenAI's "
                                 "own Responses service; keygate carries function tools.");
      e.code = "unsupported_tool";
      return fail(std::move(e));
    }
    KG_TRY(name_or, required_string(tool, "name", param + ".name"));
    Value function(rapidjson::kObjectType);
    function.AddMember("name", str_value(*name_or, a), a);
    for (const char* field : {"description", "parameters", "strict"}) {
      if (const Value* v = find(tool, field)) {
        function.AddMember(rapidjson::StringRef(field), Value(*v, a), a);
      }
    }
    Value t(rapidjson::kObjectType);
    t.AddMember("type", "function", a);
    t.AddMember("function", function, a);
    out.PushBack(t, a);
  }
  return out;
}

Result<Value> chat_tool_choice(const Value& choice, Allocator& a) {
  if (choice.IsString()) {
    const std::string_view mode = as_view(choice);
    if (mode != "none" && mode != "auto" && mode != "required") {
      return fail(
          bad_request("'tool_choice' must be none, auto, required or a function.", "tool_choice"));
    }
    return Value(choice, a);
  }
  const Value* type = find(choice, "type");
  if (type == nullptr || !type->IsString() || as_view(*type) != "function") {
    return fail(not_carried("tool_choice",
                            "keygate takes none, auto, required or "
                            "{\"type\": \"function\", \"name\": ...}."));
  }
  KG_TRY(name_or, required_string(choice, "name", "tool_choice.name"));
  Value function(rapidjson::kObjectType);
  function.AddMember("name", str_value(*name_or, a), a);
  Value out(rapidjson::kObjectType);
  out.AddMember("type", "function", a);
  out.AddMember("function", function, a);
  return out;
}

// text.format -> response_format; text.verbosity -> verbosity.
Result<void> add_text_settings(const Value& text, rapidjson::Document& out) {
  Allocator& a = out.GetAllocator();
  if (!text.IsObject()) {
    return fail(bad_request("'text' must be an object.", "text"));
  }
  if (const Value* format = find(text, "format")) {
    KG_TRY(type_or, required_string(*format, "type", "text.format.type"));
    const std::string_view type = *type_or;
    if (type == "json_object") {
      Value f(rapidjson::kObjectType);
      f.AddMember("type", "json_object", a);
      out.AddMember("response_format", f, a);
    } else if (type == "json_schema") {
      KG_TRY(name_or, required_string(*format, "name", "text.format.name"));
      const Value* schema = find(*format, "schema");
      if (schema == nullptr || !schema->IsObject()) {
        return fail(bad_request("'text.format.schema' must be an object.", "text.format.schema"));
      }
      Value spec(rapidjson::kObjectType);
      spec.AddMember("name", str_value(*name_or, a), a);
      spec.AddMember("schema", Value(*schema, a), a);
      for (const char* field : {"strict", "description"}) {
        if (const Value* v = find(*format, field)) {
          spec.AddMember(rapidjson::StringRef(field), Value(*v, a), a);
        }
      }
      Value f(rapidjson::kObjectType);
      f.AddMember("type", "json_schema", a);
      f.AddMember("json_schema", spec, a);
      out.AddMember("response_format", f, a);
    } else if (type != "text") {
      return fail(bad_request("'text.format.type' must be text, json_object or json_schema.",
                              "text.format.type"));
    }
  }
  if (const Value* verbosity = find(text, "verbosity")) {
    if (!verbosity->IsString()) {
      return fail(bad_request("'text.verbosity' must be a string.", "text.verbosity"));
    }
    out.AddMember("verbosity", Value(*verbosity, a), a);
  }
  return {};
}

// The request fields keygate has no way to honour: each a 400 naming it, never silently lost.
Result<void> refuse_stateful_and_unsupported(const Value& in) {
  if (find(in, "previous_response_id") != nullptr) {
    return fail(not_carried("previous_response_id",
                            "keygate keeps no responses; send the whole conversation in 'input'."));
  }
  if (find(in, "conversation") != nullptr) {
    return fail(
        not_carried("conversation", "keygate keeps no conversations; send them whole in 'input'."));
  }
  if (const Value* background = find(in, "background");
      background != nullptr && !background->IsFalse()) {
    return fail(not_carried("background", "keygate answers while the request is open."));
  }
  if (find(in, "prompt") != nullptr) {
    return fail(not_carried("prompt", "stored prompt templates live in OpenAI's dashboard."));
  }
  for (const char* name : {"top_logprobs", "max_tool_calls"}) {
    if (find(in, name) != nullptr) {
      return fail(not_carried(name, "keygate cannot carry it to every provider."));
    }
  }
  if (const Value* include = find(in, "include"); include != nullptr && include->IsArray()) {
    for (const auto& what : include->GetArray()) {
      if (what.IsString() && as_view(what) == "message.output_text.logprobs") {
        return fail(not_carried("include",
                                "keygate cannot carry log probabilities to every "
                                "provider."));
      }
    }
  }
  if (const Value* truncation = find(in, "truncation")) {
    if (!truncation->IsString() || as_view(*truncation) != "disabled") {
      return fail(not_carried("truncation", "keygate sends the conversation whole ('disabled')."));
    }
  }
  return {};
}

// What every Response repeats of its request, with its identity first.
std::string echo_of(const Value& in, const ResponseIdentity& identity) {
  JsonWriter w;
  w.start_object();
  w.field("id", identity.id);
  w.field("created_at", identity.created_at);
  const auto echo = [&](const char* name, auto write_default) {
    w.key(name);
    if (const Value* v = find(in, name)) {
      w.value(*v);
    } else {
      write_default();
    }
  };
  const auto null = [&] { w.null(); };
  echo("instructions", null);
  echo("max_output_tokens", null);
  echo("metadata", [&] {
    w.start_object();
    w.end_object();
  });
  echo("parallel_tool_calls", [&] { w.boolean(true); });
  w.key("previous_response_id");
  w.null();
  echo("reasoning", [&] {
    w.start_object();
    w.key("effort");
    w.null();
    w.key("summary");
    w.null();
    w.end_object();
  });
  w.field("store", false);
  echo("temperature", null);
  echo("text", [&] {
    w.start_object();
    w.key("format");
    w.start_object();
    w.field("type", "text");
    w.end_object();
    w.end_object();
  });
  echo("tool_choice", [&] { w.string("auto"); });
  echo("tools", [&] {
    w.start_array();
    w.end_array();
  });
  echo("top_p", null);
  w.field("truncation", "disabled");
  echo("user", null);
  w.end_object();
  return w.take();
}

}  // namespace

Result<ResponsesTranslation> responses_to_chat_request(std::string_view responses_request,
                                                       const ResponseIdentity& identity) {
  auto parsed = parse_json_object(responses_request);
  if (!parsed) {
    return fail(parsed.error());
  }
  const rapidjson::Document& in = *parsed;
  KG_CHECK(refuse_stateful_and_unsupported(in));
  rapidjson::Document out(rapidjson::kObjectType);
  Allocator& a = out.GetAllocator();

  KG_TRY(model_or, required_string(in, "model", "model"));
  out.AddMember("model", str_value(*model_or, a), a);

  ChatMessages messages(a);
  if (const Value* instructions = find(in, "instructions")) {
    if (!instructions->IsString()) {
      return fail(bad_request("'instructions' must be a string.", "instructions"));
    }
    messages.add("system", Value(*instructions, a));
  }
  const Value* input = find(in, "input");
  if (input == nullptr) {
    return fail(
        bad_request("'input' must be a string or a non-empty array of input items.", "input"));
  }
  KG_CHECK(add_items(*input, messages, a));
  out.AddMember("messages", messages.take(), a);

  if (const Value* max = find(in, "max_output_tokens")) {
    if (!max->IsInt64() || max->GetInt64() < 1) {
      return fail(
          bad_request("'max_output_tokens' must be a positive integer.", "max_output_tokens"));
    }
    out.AddMember("max_completion_tokens", max->GetInt64(), a);
  }
  for (const char* name : {"temperature", "top_p"}) {
    if (const Value* v = find(in, name)) {
      if (!v->IsNumber()) {
        return fail(bad_request(std::string("'") + name + "' must be a number.", name));
      }
      out.AddMember(rapidjson::StringRef(name), Value(*v, a), a);
    }
  }
  if (const Value* parallel = find(in, "parallel_tool_calls")) {
    if (!parallel->IsBool()) {
      return fail(bad_request("'parallel_tool_calls' must be a boolean.", "parallel_tool_calls"));
    }
    out.AddMember("parallel_tool_calls", parallel->GetBool(), a);
  }
  if (const Value* user = find(in, "user")) {
    if (!user->IsString()) {
      return fail(bad_request("'user' must be a string.", "user"));
    }
    out.AddMember("user", Value(*user, a), a);
  }
  if (const Value* metadata = find(in, "metadata"); metadata != nullptr && !metadata->IsObject()) {
    return fail(bad_request("'metadata' must be an object.", "metadata"));
  }
  if (const Value* tools = find(in, "tools")) {
    KG_TRY(tools_or, chat_tools(*tools, a));
    if (!tools_or->Empty()) {
      out.AddMember("tools", std::move(*tools_or), a);
    }
  }
  if (const Value* choice = find(in, "tool_choice")) {
    KG_TRY(choice_or, chat_tool_choice(*choice, a));
    out.AddMember("tool_choice", std::move(*choice_or), a);
  }
  if (const Value* text = find(in, "text")) {
    KG_CHECK(add_text_settings(*text, out));
  }
  if (const Value* reasoning = find(in, "reasoning")) {
    if (!reasoning->IsObject()) {
      return fail(bad_request("'reasoning' must be an object.", "reasoning"));
    }
    if (const Value* effort = find(*reasoning, "effort")) {
      if (!effort->IsString()) {
        return fail(bad_request("'reasoning.effort' must be a string.", "reasoning.effort"));
      }
      out.AddMember("reasoning_effort", Value(*effort, a), a);
      // The levels every adapter maps (providers/reasoning.hpp), checked here to name the field
      // as this client wrote it.
      if (!read_reasoning(out)) {
        return fail(bad_request(
            "'reasoning.effort' must be one of none, minimal, low, medium, high or xhigh.",
            "reasoning.effort"));
      }
    }
  }
  bool stream = false;
  if (const Value* s = find(in, "stream")) {
    if (!s->IsBool()) {
      return fail(bad_request("'stream' must be a boolean.", "stream"));
    }
    stream = s->GetBool();
  }
  if (stream) {
    out.AddMember("stream", true, a);
    Value options(rapidjson::kObjectType);
    options.AddMember("include_usage", true, a);  // response.completed reports the usage
    out.AddMember("stream_options", options, a);
  }
  return ResponsesTranslation{to_json(out), echo_of(in, identity), stream};
}

}  // namespace keygate::providers
