// The adapter for every provider that speaks OpenAI's chat-completions API (OpenAI itself, Groq,
// Mistral, OpenRouter, Ollama, ...). The client already speaks this format, so the work is small:
// point "model" at the upstream id, apply the provider's parameter renames and drops, ask for
// usage in streams so it can be recorded, and pass answers through byte for byte.
// Reference: https://platform.openai.com/docs/api-reference/chat

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/adapters.hpp"
#include "providers/catalog.hpp"
#include "providers/chunk_keys.hpp"
#include "providers/embeddings.hpp"
#include "providers/openai_answer_scan.hpp"
#include "providers/reasoning.hpp"
#include "providers/wire.hpp"
#include "schema/json.hpp"
#include "schema/try.hpp"

namespace keygate::providers {

namespace {

constexpr std::string_view kChatPath = "/chat/completions";
constexpr std::string_view kModelsPath = "/models";
// Upstream text we quote in an error is cut here: enough to diagnose, too little to flood a log
// or leak a whole upstream page to the client.
constexpr std::size_t kMaxUpstreamText = 500;

// Cuts at a UTF-8 character boundary so the result is still valid UTF-8 (it goes into JSON).
std::string clip(std::string_view text) {
  if (text.size() <= kMaxUpstreamText) {
    return std::string(text);
  }
  std::size_t n = kMaxUpstreamText;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) {
    --n;
  }
  return std::string(text.substr(0, n)) + "...";
}

// A token count: a non-negative integer. Anything else counts as "not reported" (-1): a usage
// block of the wrong shape must not fail an otherwise good answer.
int64_t count(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    return -1;
  }
  const auto& v = it->value;
  if (v.IsInt64() && v.GetInt64() >= 0) {
    return v.GetInt64();
  }
  if (v.IsDouble() && v.GetDouble() >= 0 && v.GetDouble() < 9e18) {
    return static_cast<int64_t>(v.GetDouble());
  }
  return -1;
}

int64_t nested_count(const rapidjson::Value& usage, const char* object, const char* name) {
  auto it = usage.FindMember(object);
  if (it == usage.MemberEnd() || !it->value.IsObject()) {
    return -1;
  }
  return count(it->value, name);
}

// Reads OpenAI's usage object. Returns false when there is none (absent or null).
bool read_usage(const rapidjson::Value& body, Usage& usage) {
  auto it = body.FindMember("usage");
  if (it == body.MemberEnd() || !it->value.IsObject()) {
    return false;
  }
  const auto& u = it->value;
  usage.prompt_tokens = count(u, "prompt_tokens");
  usage.completion_tokens = count(u, "completion_tokens");
  usage.cached_tokens = nested_count(u, "prompt_tokens_details", "cached_tokens");
  // OpenRouter reports Claude's cache writes next to the reads.
  usage.cache_write_tokens = nested_count(u, "prompt_tokens_details", "cache_write_tokens");
  usage.reasoning_tokens = nested_count(u, "completion_tokens_details", "reasoning_tokens");
  return true;
}

std::string string_member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) {
    return {};
  }
  return std::string(as_view(it->value));
}

int int_member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsInt()) {
    return 0;
  }
  return it->value.GetInt();
}

bool is_error_status(int status) {
  return status >= 400 && status <= 599;
}

// OpenAI's error object: {"error": {"message", "type", "param", "code"}}
// (https://platform.openai.com/docs/guides/error-codes). Compatible providers vary: OpenRouter
// puts the HTTP status in a numeric "code", some send {"error": "text"}, Mistral and FastAPI
// servers answer {"message": ...} or {"detail": ...} at the top level.
struct ParsedError {
  bool found = false;
  int status = 0;  // from the body, 0 if it gave none
  std::string message, type, code;
};

ParsedError parse_error_body(const rapidjson::Value& body) {
  ParsedError e;
  if (!body.IsObject()) {
    return e;
  }
  auto it = body.FindMember("error");
  if (it != body.MemberEnd() && it->value.IsString()) {
    e.found = true;
    e.message = as_view(it->value);
    return e;
  }
  if (it != body.MemberEnd() && it->value.IsObject()) {
    const auto& err = it->value;
    e.found = true;
    e.message = string_member(err, "message");
    e.type = string_member(err, "type");
    e.code = string_member(err, "code");
    for (const char* name : {"status", "code"}) {
      int s = int_member(err, name);
      if (e.status == 0 && is_error_status(s)) {
        e.status = s;
      }
    }
    return e;
  }
  for (const char* name : {"message", "detail"}) {
    std::string m = string_member(body, name);
    if (!m.empty()) {
      e.found = true;
      e.message = std::move(m);
      e.type = string_member(body, "type");
      return e;
    }
  }
  return e;
}

std::string provider_text(std::string_view provider, int status) {
  return "The " + std::string(provider) + " API answered HTTP " + std::to_string(status);
}

// The writer build_chat_request serialises with, kept per I/O thread and reused: a request then
// costs neither buffer growth nor a writer level stack, only the body's own string. The pair stays
// Writer<StringBuffer>, the combination RapidJSON escapes strings for with SIMD (message text is
// most of a request). A buffer grown past kKeptCapacity by a huge request is given back after it.
class RequestWriter {
 public:
  static constexpr std::size_t kStartCapacity = 4096;
  static constexpr std::size_t kKeptCapacity = 256 * 1024;

  static RequestWriter& for_this_thread() {
    thread_local RequestWriter writer;
    return writer;
  }
  rapidjson::Writer<rapidjson::StringBuffer>& start() {
    buffer_.Clear();
    writer_.Reset(buffer_);
    return writer_;
  }
  // Copies the JSON out; the buffer is ready for the next request.
  void finish_into(std::string& out) {
    out.assign(buffer_.GetString(), buffer_.GetSize());
    if (buffer_.GetSize() > kKeptCapacity) {
      buffer_ = rapidjson::StringBuffer(nullptr, kStartCapacity);
      writer_.Reset(buffer_);
    }
  }

 private:
  rapidjson::StringBuffer buffer_{nullptr, kStartCapacity};
  rapidjson::Writer<rapidjson::StringBuffer> writer_{buffer_};
};

Error to_error(int status, ParsedError parsed, std::string_view provider) {
  std::string message =
      parsed.message.empty() ? provider_text(provider, status) : clip(parsed.message);
  return Error::upstream_status(status, std::move(message), clip(parsed.type), clip(parsed.code));
}

class OpenAiStream final : public StreamTranslator {
 public:
  OpenAiStream(std::string provider, bool client_wants_usage)
      : provider_(std::move(provider)), client_wants_usage_(client_wants_usage) {}

  Result<void> on_event(SseEvent event, std::vector<std::string>& out) override {
    auto pass = inspect(event.event, event.data);
    if (!pass) {
      return fail(std::move(pass).error());
    }
    if (*pass) {
      out.push_back(std::move(event.data));  // passed through as it came: moved, not copied
    }
    return {};
  }

  bool relays_verbatim() const override { return true; }
  Result<bool> pass_verbatim(std::string_view data) override { return inspect({}, data); }

  Result<void> on_end(std::vector<std::string>&) override {
    if (done_) {
      return {};
    }
    return fail(Error::upstream_status(
        502, "The " + provider_ + " stream ended before it was complete (no [DONE]).",
        "upstream_error", "upstream_truncated"));
  }

  const Usage& usage() const override { return usage_; }

 private:
  // Whether an event goes to the client as it came (true) or is dropped (false); an error when
  // the upstream reported one. Reads the usage it carries.
  Result<bool> inspect(std::string_view event_type, std::string_view data) {
    if (done_) {
      return false;  // nothing may follow [DONE]
    }
    if (data == "[DONE]") {
      done_ = true;
      return true;
    }
    if (data.empty()) {
      return false;
    }
    // Most chunks are content deltas with neither key in them; only the rest are parsed.
    const ChunkKeys keys = scan_chunk_keys(data);
    const bool maybe_error = event_type == "error" || keys.error;
    const bool maybe_usage = keys.usage;
    if (maybe_error || maybe_usage) {
      const StackJson<4096> parsed_json(data);
      const rapidjson::Value& doc = parsed_json.value();
      if (!parsed_json.has_parse_error() && doc.IsObject()) {
        if (maybe_error) {
          ParsedError parsed = parse_error_body(doc);
          if (parsed.found || event_type == "error") {
            int status = parsed.status != 0 ? parsed.status : 502;
            return fail(to_error(status, std::move(parsed), provider_));
          }
        }
        if (maybe_usage && read_usage(doc, usage_) && !client_wants_usage_ && is_usage_only(doc)) {
          return false;  // we asked for it for our own accounting; the client did not
        }
      } else if (event_type == "error") {
        return fail(Error::upstream_status(502, provider_ + " stream error: " + clip(data)));
      }
    }
    return true;
  }

  // The extra chunk stream_options.include_usage adds before [DONE]: "choices" is empty.
  static bool is_usage_only(const rapidjson::Value& chunk) {
    auto it = chunk.FindMember("choices");
    return it == chunk.MemberEnd() || (it->value.IsArray() && it->value.Empty());
  }

  std::string provider_;
  bool client_wants_usage_;
  bool done_ = false;
  Usage usage_;
};

class OpenAiCompatibleAdapter final : public Adapter {
 public:
  explicit OpenAiCompatibleAdapter(const Provider& p)
      : provider_(p.id),
        renames_(p.param_renames),
        dropped_(p.dropped_params),
        reasoning_prefixes_(p.reasoning_model_prefixes),
        keeps_cache_marks_(std::find(p.capabilities.begin(), p.capabilities.end(),
                                     "cache_control") != p.capabilities.end()),
        embeds_(std::find(p.capabilities.begin(), p.capabilities.end(), "embeddings") !=
                p.capabilities.end()) {}

  // The client's request, written out with the provider's model id, its parameter names, and
  // stream_options.include_usage on streams. Written member by member from the parsed request
  // instead of editing a copy and serialising that: the request stays unchanged for a fallback
  // target, and there is no copy to make.
  Result<UpstreamRequest> build_chat_request(const rapidjson::Document& request,
                                             const ChatOptions& options,
                                             std::string_view model) const override {
    if (!request.IsObject()) {
      return fail(Error::invalid_request("The request body must be a JSON object."));
    }
    // One pass over the members for both (each FindMember is a pass of its own).
    auto stream_options = request.MemberEnd();
    bool has_tools = false;
    for (auto m = request.MemberBegin(); m != request.MemberEnd(); ++m) {
      const std::string_view name(m->name.GetString(), m->name.GetStringLength());
      if (name == "stream_options" && stream_options == request.MemberEnd()) {
        stream_options = m;  // the first of a name, as FindMember finds it
      } else if (name == "tools") {
        has_tools = true;
      }
    }
    const bool has_stream_options =
        stream_options != request.MemberEnd() && !stream_options->value.IsNull();
    if (options.stream && has_stream_options && !stream_options->value.IsObject()) {
      return fail(Error::invalid_request("'stream_options' must be an object.", "stream_options",
                                         "invalid_type"));
    }
    if (has_tools) {
      KG_CHECK(wire::refuse_claude_tools(request, provider_));
    }
    if (auto edited = edit_request_text(request, options, model)) {
      UpstreamRequest up;
      up.path = kChatPath;
      up.body = std::move(*edited);
      return up;
    }
    RequestWriter& writer = RequestWriter::for_this_thread();
    rapidjson::Writer<rapidjson::StringBuffer>& w = writer.start();
    bool wrote_model = false, wrote_stream = false, wrote_stream_options = false;
    auto write_model = [&] {
      w.Key("model");
      w.String(model.data(), size(model));
      wrote_model = true;
    };
    auto write_stream = [&] {
      w.Key("stream");
      w.Bool(options.stream);
      wrote_stream = true;
    };
    // Without include_usage, OpenAI streams carry no token counts and usage could not be recorded.
    auto write_stream_options = [&] {
      w.Key("stream_options");
      w.StartObject();
      if (has_stream_options) {
        for (const auto& m : stream_options->value.GetObject()) {
          if (std::string_view(m.name.GetString(), m.name.GetStringLength()) != "include_usage") {
            w.Key(m.name.GetString(), m.name.GetStringLength());
            m.value.Accept(w);
          }
        }
      }
      w.Key("include_usage");
      w.Bool(true);
      w.EndObject();
      wrote_stream_options = true;
    };
    // Anthropic's `thinking` extension, where this provider drops it (OpenAI answers 400 to it),
    // becomes reasoning_effort for a model that takes that, unless the client gave it too.
    // Providers that know `thinking` themselves (DeepSeek) get it as it came.
    std::string_view effort_from_thinking;
    if (const auto thinking = request.FindMember("thinking");
        thinking != request.MemberEnd() && !thinking->value.IsNull() && is_dropped("thinking")) {
      auto ask = read_reasoning(request);
      if (!ask) {
        return fail(std::move(ask).error());
      }
      if (!request.HasMember("reasoning_effort") && !is_dropped("reasoning_effort") &&
          starts_with_any(model, reasoning_prefixes_)) {
        effort_from_thinking = effort_for(*ask);
      }
    }
    std::vector<const rapidjson::Value::Member*> renamed;
    w.StartObject();
    for (const auto& m : request.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == "model") {
        if (!wrote_model) {
          write_model();
        }
      } else if (name == "stream") {
        if (!wrote_stream) {
          write_stream();
        }
      } else if (name == "stream_options") {
        // OpenAI answers 400 to stream_options on a non-stream request.
        if (options.stream && !wrote_stream_options) {
          write_stream_options();
        }
      } else if (name == "anthropic_beta" || name == "anthropic") {
        continue;  // Claude's beta features and own settings: nothing this family knows
      } else if (!effort_from_thinking.empty() && name == "thinking") {
        w.Key("reasoning_effort");
        w.String(effort_from_thinking.data(), size(effort_from_thinking));
      } else if (is_dropped(name)) {
        continue;
      } else if (name == "messages" && needs_rewrite(m.value)) {
        w.Key("messages");
        write_messages_for_family(m.value, w);
      } else if (name == "tools" && strips_cache_marks(m.value)) {
        w.Key("tools");
        write_items_without_marks(m.value, w);
      } else if (const std::string* to = renamed_to(name)) {
        // The client set both names: the one this provider knows wins.
        if (!request.HasMember(to->c_str()) && !is_dropped(*to)) {
          renamed.push_back(&m);
        }
      } else {
        w.Key(m.name.GetString(), m.name.GetStringLength());
        m.value.Accept(w);
      }
    }
    for (const auto* m : renamed) {
      const std::string& to = *renamed_to({m->name.GetString(), m->name.GetStringLength()});
      w.Key(to.data(), size(to));
      m->value.Accept(w);
    }
    if (!wrote_model) {
      write_model();
    }
    if (options.stream && !wrote_stream) {
      write_stream();
    }
    if (options.stream && !wrote_stream_options) {
      write_stream_options();
    }
    w.EndObject();
    // No Content-Type header of our own: the upstream client sets application/json on every
    // chat request, and a header vector here cost two allocations per request.
    UpstreamRequest up;
    up.path = kChatPath;
    writer.finish_into(up.body);
    return up;
  }

  // What the member-by-member writer in build_chat_request produces, made by editing the
  // client's text: the provider's model id in place of the model, and on a stream "stream" (if
  // missing) and stream_options.include_usage added at the end. Every other byte is the client's,
  // so a long conversation is copied, not written out again (and its numbers keep their exact
  // spelling). nullopt when more would change: no text (agent parameters were merged), a
  // parameter this provider drops or renames, stream_options other than a stream's asking for
  // usage already (edited inside, or dropped on a non-stream request), "stream" twice or not a
  // boolean.
  std::optional<std::string> edit_request_text(const rapidjson::Document& request,
                                               const ChatOptions& options,
                                               std::string_view model) const {
    const RequestText& text = options.text;
    if (text.json.empty() || text.model_end <= text.model_begin ||
        text.model_end > text.json.size()) {
      return std::nullopt;
    }
    int streams = 0, stream_options = 0;
    for (const auto& m : request.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == "stream") {
        if (++streams > 1 || !m.value.IsBool() || m.value.GetBool() != options.stream) {
          return std::nullopt;
        }
      } else if (name == "stream_options") {
        // Kept as it came only where the writer would write the same: on a stream whose client
        // asked for usage already (include_usage true, once).
        if (++stream_options > 1 || !options.stream || !asks_for_usage(m.value)) {
          return std::nullopt;
        }
      } else if (name == "anthropic_beta" || name == "anthropic" ||
                 (name == "messages" && needs_rewrite(m.value)) ||
                 (name == "tools" && strips_cache_marks(m.value))) {
        return std::nullopt;
      } else if (name != "model" && (is_dropped(name) || renamed_to(name) != nullptr)) {
        return std::nullopt;
      }
    }
    const std::size_t close = text.json.rfind('}');
    if (close == std::string_view::npos || close < text.model_end) {
      return std::nullopt;
    }
    std::string out;
    out.reserve(close + model.size() + 64);
    out.append(text.json.substr(0, text.model_begin));
    append_json_string(out, model);
    out.append(text.json.substr(text.model_end, close - text.model_end));
    if (options.stream && streams == 0) {
      out += ",\"stream\":true";
    }
    if (options.stream && stream_options == 0) {
      out += ",\"stream_options\":{\"include_usage\":true}";
    }
    out += '}';
    return out;
  }

  // What keygate's other dialects put in a conversation that the family cannot take: Claude's
  // signed thinking blocks on assistant messages (providers/reasoning.hpp), which mean nothing
  // here and OpenAI rejects; a tool message's is_error (anthropic_inbound.hpp); and images in a
  // tool message (a tool_result from /v1/messages), where OpenAI takes text only.
  static bool is_tool_message_with_images(const rapidjson::Value& message) {
    const auto content = message.FindMember("content");
    if (content == message.MemberEnd() || !content->value.IsArray()) {
      return false;
    }
    if (!has_role(message, "tool")) {
      return false;
    }
    for (const auto& part : content->value.GetArray()) {
      if (is_image_part(part)) {
        return true;
      }
    }
    return false;
  }

  static bool has_role(const rapidjson::Value& message, std::string_view role) {
    const auto it = message.FindMember("role");
    return it != message.MemberEnd() && it->value.IsString() &&
           std::string_view(it->value.GetString(), it->value.GetStringLength()) == role;
  }

  // Text parts joined with blank lines, as /v1/messages joins unmarked blocks; nullopt when a
  // part is not text.
  static std::optional<std::string> joined_text(const std::vector<const rapidjson::Value*>& parts) {
    std::string out;
    for (const auto* part : parts) {
      const auto type = part->IsObject() ? part->FindMember("type") : part->MemberEnd();
      const auto text = part->IsObject() ? part->FindMember("text") : part->MemberEnd();
      if (!part->IsObject() || type == part->MemberEnd() || !type->value.IsString() ||
          std::string_view(type->value.GetString(), type->value.GetStringLength()) != "text" ||
          text == part->MemberEnd() || !text->value.IsString()) {
        return std::nullopt;
      }
      if (!out.empty()) {
        out += "\n\n";
      }
      out.append(text->value.GetString(), text->value.GetStringLength());
    }
    return out;
  }

  static bool is_image_part(const rapidjson::Value& part) {
    if (!part.IsObject()) {
      return false;
    }
    const auto type = part.FindMember("type");
    return type != part.MemberEnd() && type->value.IsString() &&
           std::string_view(type->value.GetString(), type->value.GetStringLength()) == "image_url";
  }

  // Claude's prompt-caching marks (wire::copy_cache_control) on a message, one of its content
  // parts, or a tool: OpenAI refuses them; a provider that takes them (OpenRouter, for Claude)
  // has the "cache_control" capability.
  static bool has_cache_mark(const rapidjson::Value& item) {
    if (!item.IsObject()) {
      return false;
    }
    if (item.HasMember("cache_control")) {
      return true;
    }
    const auto content = item.FindMember("content");
    if (content != item.MemberEnd() && content->value.IsArray()) {
      for (const auto& part : content->value.GetArray()) {
        if (part.IsObject() && part.HasMember("cache_control")) {
          return true;
        }
      }
    }
    return false;
  }

  bool strips_cache_marks(const rapidjson::Value& list) const {
    if (keeps_cache_marks_ || !list.IsArray()) {
      return false;
    }
    for (const auto& item : list.GetArray()) {
      if (has_cache_mark(item)) {
        return true;
      }
    }
    return false;
  }

  bool needs_rewrite(const rapidjson::Value& messages) const {
    if (!messages.IsArray()) {
      return false;
    }
    for (const auto& message : messages.GetArray()) {
      if (message.IsObject() &&
          (message.HasMember("thinking_blocks") || message.HasMember("is_error") ||
           message.HasMember("anthropic_content") || is_tool_message_with_images(message))) {
        return true;
      }
    }
    return strips_cache_marks(messages);
  }

  // An array whose objects are written without their cache marks (tools, content parts).
  static void write_items_without_marks(const rapidjson::Value& array,
                                        rapidjson::Writer<rapidjson::StringBuffer>& w) {
    w.StartArray();
    for (const auto& item : array.GetArray()) {
      if (item.IsObject()) {
        write_without(item, "cache_control", false, w);
      } else {
        item.Accept(w);
      }
    }
    w.EndArray();
  }

  // An object written without `skip`'s members (and, when `strip_marks`, without cache marks in
  // an array member's objects one level down: content parts).
  static void write_without(const rapidjson::Value& object, std::string_view skip, bool strip_marks,
                            rapidjson::Writer<rapidjson::StringBuffer>& w) {
    w.StartObject();
    for (const auto& m : object.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == skip || (strip_marks && name == "cache_control")) {
        continue;
      }
      w.Key(m.name.GetString(), m.name.GetStringLength());
      if (strip_marks && m.value.IsArray()) {
        write_items_without_marks(m.value, w);
      } else {
        m.value.Accept(w);
      }
    }
    w.EndObject();
  }

  // The messages without thinking_blocks, and with a tool message's images moved to a user
  // message right after the run of tool messages (OpenAI wants every tool message straight
  // after the assistant's calls), so the model still sees them.
  void write_messages_for_family(const rapidjson::Value& messages,
                                 rapidjson::Writer<rapidjson::StringBuffer>& w) const {
    const bool strip_marks = !keeps_cache_marks_;
    std::vector<const rapidjson::Value*> images;
    auto flush_images = [&] {
      if (images.empty()) {
        return;
      }
      w.StartObject();
      w.Key("role");
      w.String("user");
      w.Key("content");
      w.StartArray();
      for (const auto* image : images) {
        write_without(*image, "cache_control", false, w);
      }
      w.EndArray();
      w.EndObject();
      images.clear();
    };
    w.StartArray();
    for (const auto& message : messages.GetArray()) {
      const bool tool_images = message.IsObject() && is_tool_message_with_images(message);
      const bool is_tool = message.IsObject() && has_role(message, "tool");
      if (!is_tool) {
        flush_images();
      }
      if (!message.IsObject()) {
        message.Accept(w);
        continue;
      }
      // A system or tool message whose text keygate split into parts only to carry cache marks
      // goes back to one string where the marks go: some of the family (Groq) take nothing else.
      const bool collapse =
          strip_marks && (is_tool || has_role(message, "system")) && has_cache_mark(message);
      w.StartObject();
      for (const auto& m : message.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (name == "thinking_blocks" || name == "is_error" || name == "anthropic_content" ||
            (strip_marks && name == "cache_control")) {
          continue;
        }
        w.Key(m.name.GetString(), m.name.GetStringLength());
        if (name == "content" && m.value.IsArray() && (tool_images || collapse)) {
          std::vector<const rapidjson::Value*> rest;
          for (const auto& part : m.value.GetArray()) {
            (tool_images && is_image_part(part) ? images : rest).push_back(&part);
          }
          if (rest.empty()) {
            w.String("");  // images only: the result's content is all in the user message
          } else if (const auto joined = collapse ? joined_text(rest) : std::nullopt) {
            w.String(joined->data(), size(*joined));
          } else {
            w.StartArray();
            for (const auto* part : rest) {
              if (strip_marks && part->IsObject()) {
                write_without(*part, "cache_control", false, w);
              } else {
                part->Accept(w);
              }
            }
            w.EndArray();
          }
        } else if (strip_marks && m.value.IsArray()) {
          write_items_without_marks(m.value, w);
        } else {
          m.value.Accept(w);
        }
      }
      w.EndObject();
    }
    flush_images();
    w.EndArray();
  }

  static bool asks_for_usage(const rapidjson::Value& stream_options) {
    if (!stream_options.IsObject()) {
      return false;
    }
    int found = 0;
    bool on = false;
    for (const auto& m : stream_options.GetObject()) {
      if (std::string_view(m.name.GetString(), m.name.GetStringLength()) == "include_usage") {
        ++found;
        on = m.value.IsBool() && m.value.GetBool();
      }
    }
    return found == 1 && on;
  }

  Result<std::string> translate_response(std::string_view upstream_body, std::string_view,
                                         Usage& usage) const override {
    // Verbatim: re-serialising would cost time and could change numbers or key order.
    std::string answer(upstream_body);
    if (auto ok = check_response(answer, usage); !ok) {
      return fail(std::move(ok.error()));
    }
    return answer;
  }

  // The answer is passed on as it came, so the view is the upstream body itself: no copy.
  Result<std::string_view> translate_response_view(const std::string& upstream_body,
                                                   std::string_view, Usage& usage,
                                                   std::string&) const override {
    if (auto ok = check_response(upstream_body, usage); !ok) {
      return fail(std::move(ok.error()));
    }
    return upstream_body;
  }

  std::unique_ptr<StreamTranslator> start_stream(const ChatOptions& options,
                                                 std::string_view) const override {
    return std::make_unique<OpenAiStream>(provider_, options.client_wants_usage);
  }

  Error translate_error(int status, std::string_view upstream_body) const override {
    if (!is_error_status(status)) {
      status = 502;  // a non-2xx that is not an error status (3xx, 1xx) is a broken upstream
    }
    rapidjson::Document doc;
    parse_bounded(doc, upstream_body);
    ParsedError parsed;
    if (!doc.HasParseError()) {
      parsed = parse_error_body(doc);
    }
    if (!parsed.found) {
      std::string message = provider_text(provider_, status);
      if (!upstream_body.empty()) {
        message += ": " + clip(upstream_body);
      }
      return Error::upstream_status(status, std::move(message));
    }
    return to_error(status, std::move(parsed), provider_);
  }

  UpstreamRequest build_key_test_request() const override {
    UpstreamRequest up;
    up.method = "GET";
    up.path = kModelsPath;
    return up;
  }

  // Which providers of the family have an embeddings endpoint is the catalog's data (the
  // "embeddings" capability); the request and answer are OpenAI's own.
  bool embeds() const override { return embeds_; }

  Result<UpstreamRequest> build_embeddings_request(const rapidjson::Document& request,
                                                   std::string_view model) const override {
    if (!embeds_) {
      return Adapter::build_embeddings_request(request, model);
    }
    return openai_embeddings_request(request, model);
  }

  // Passed on as it came (re-serialising megabytes of numbers would cost time and could change
  // them); scanned for its usage. Some compatible servers answer 200 with an error object.
  Result<std::string_view> translate_embeddings(const std::string& upstream_body,
                                                const rapidjson::Document& request,
                                                std::string_view, Usage& usage,
                                                std::string& storage) const override {
    const EmbeddingsScan scan = scan_embeddings_answer(upstream_body);
    if (scan.is_list) {
      usage = {};
      usage.prompt_tokens = scan.prompt_tokens >= 0 ? scan.prompt_tokens : scan.total_tokens;
      usage.completion_tokens = usage.prompt_tokens >= 0 ? 0 : -1;
      if (scan.number_vectors && wants_base64(request)) {
        // A server of the family that ignores encoding_format (the openai SDKs ask for base64
        // unless told otherwise, and decode whatever comes as base64).
        auto encoded = vectors_as_base64(upstream_body, provider_);
        if (!encoded) {
          return fail(std::move(encoded.error()));
        }
        storage = std::move(*encoded);
        return std::string_view(storage);
      }
      return std::string_view(upstream_body);
    }
    const StackJson<> parsed_json(upstream_body);
    const rapidjson::Value& doc = parsed_json.value();
    if (!parsed_json.has_parse_error() && doc.IsObject()) {
      ParsedError parsed = parse_error_body(doc);
      if (parsed.found) {
        const int status = parsed.status != 0 ? parsed.status : 502;
        return fail(to_error(status, std::move(parsed), provider_));
      }
    }
    // Not retried: the same request would bring the same answer, and be billed again.
    return fail(wire::bad_upstream(
        provider_, "the answer was not an embeddings list: " + clip(upstream_body)));
  }

 private:
  // Reads the answer only for its usage (and to spot an error object): scanned, not built. An
  // answer without "choices" is rare and is parsed whole, to read the error object it may be.
  Result<void> check_response(const std::string& upstream_body, Usage& usage) const {
    const AnswerScan scan = scan_openai_answer(upstream_body);
    if (scan.parsed && scan.is_object && scan.has_choices) {
      if (scan.has_usage) {
        usage = scan.usage;
      }
      return {};
    }
    const StackJson<> parsed_json(upstream_body);
    const rapidjson::Value& doc = parsed_json.value();
    if (parsed_json.has_parse_error() || !doc.IsObject()) {
      return fail(Error::upstream_status(
          502, "The " + provider_ + " answer was not a JSON object: " + clip(upstream_body)));
    }
    // Some compatible servers answer 200 with an error object.
    if (!doc.HasMember("choices")) {
      ParsedError parsed = parse_error_body(doc);
      if (parsed.found) {
        int status = parsed.status != 0 ? parsed.status : 502;
        return fail(to_error(status, std::move(parsed), provider_));
      }
    }
    read_usage(doc, usage);
    return {};
  }

  static rapidjson::SizeType size(std::string_view s) {
    return static_cast<rapidjson::SizeType>(s.size());
  }

  bool is_dropped(std::string_view name) const {
    for (const auto& d : dropped_) {
      if (d == name) {
        return true;
      }
    }
    return false;
  }
  const std::string* renamed_to(std::string_view name) const {
    for (const auto& [from, to] : renames_) {
      if (from == name) {
        return &to;
      }
    }
    return nullptr;
  }

  std::string provider_;
  std::vector<std::pair<std::string, std::string>> renames_;
  std::vector<std::string> dropped_;
  std::vector<std::string> reasoning_prefixes_;
  bool keeps_cache_marks_;
  bool embeds_;
};

}  // namespace

std::unique_ptr<Adapter> make_openai_compatible_adapter(const Provider& provider) {
  return std::make_unique<OpenAiCompatibleAdapter>(provider);
}

}  // namespace keygate::providers
