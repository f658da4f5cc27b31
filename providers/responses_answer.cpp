// OpenAI chat answers and stream frames -> a Response and Responses stream events
// (providers/responses_inbound.hpp).
#include <rapidjson/document.h>

#include <algorithm>
#include <vector>

#include "providers/responses_inbound.hpp"
#include "providers/sse.hpp"
#include "providers/wire.hpp"
#include "schema/json.hpp"
#include "schema/try.hpp"

namespace keygate::providers {

namespace {

using wire::find;
using wire::Value;

// --- Answers: chat.completion and chunks -> Response and events ------------------------------

Error bad_answer(std::string message) {
  return wire::bad_upstream(
      "The provider", "the answer could not be turned into a Response: " + std::move(message));
}

std::string_view string_or_empty(const Value& obj, const char* name) {
  const Value* v = find(obj, name);
  return v != nullptr && v->IsString() ? as_view(*v) : std::string_view();
}

int64_t count(const Value* obj, const char* name) {
  const Value* v = obj != nullptr ? find(*obj, name) : nullptr;
  return v != nullptr && v->IsInt64() && v->GetInt64() > 0 ? v->GetInt64() : 0;
}

// Chat usage -> the Response's: input and output tokens with the cached and reasoning parts.
struct ResponseUsage {
  bool known = false;
  int64_t input = 0;
  int64_t cached = 0;
  int64_t output = 0;
  int64_t reasoning = 0;
  int64_t total = 0;

  static ResponseUsage from_chat(const Value* usage) {
    ResponseUsage u;
    if (usage == nullptr || !usage->IsObject()) {
      return u;
    }
    u.known = true;
    u.input = count(usage, "prompt_tokens");
    u.cached = count(find(*usage, "prompt_tokens_details"), "cached_tokens");
    u.output = count(usage, "completion_tokens");
    u.reasoning = count(find(*usage, "completion_tokens_details"), "reasoning_tokens");
    u.total = std::max(count(usage, "total_tokens"), u.input + u.output);
    return u;
  }

  void write(JsonWriter& w) const {
    w.key("usage");
    if (!known) {
      w.null();
      return;
    }
    w.start_object();
    w.field("input_tokens", input);
    w.key("input_tokens_details");
    w.start_object();
    w.field("cached_tokens", cached);
    w.end_object();
    w.field("output_tokens", output);
    w.key("output_tokens_details");
    w.start_object();
    w.field("reasoning_tokens", reasoning);
    w.end_object();
    w.field("total_tokens", total);
    w.end_object();
  }
};

// How an answer ended: finish_reason "length" or "content_filter" leave it incomplete.
struct Ending {
  std::string_view status = "completed";
  std::string_view incomplete_reason;  // max_output_tokens | content_filter

  static Ending from_finish_reason(std::string_view reason) {
    if (reason == "length") {
      return {"incomplete", "max_output_tokens"};
    }
    if (reason == "content_filter") {
      return {"incomplete", "content_filter"};
    }
    return {};
  }
};

// The Response's items, written whole (non-streamed answers, output_item.done, and the output of
// the final event). Their ids derive from the Response's, one per output index.
struct ItemIds {
  std::string base;  // the Response id without "resp_"

  explicit ItemIds(std::string_view response_id)
      : base(response_id.starts_with("resp_") ? response_id.substr(5) : response_id) {}
  std::string make(std::string_view prefix, std::size_t index) const {
    return std::string(prefix) + base + "_" + std::to_string(index);
  }
};

void write_reasoning_item(JsonWriter& w, std::string_view id, std::string_view summary,
                          std::string_view thinking_blocks) {
  w.start_object();
  w.field("type", "reasoning");
  w.field("id", id);
  w.key("summary");
  w.start_array();
  if (!summary.empty()) {
    w.start_object();
    w.field("type", "summary_text");
    w.field("text", summary);
    w.end_object();
  }
  w.end_array();
  if (!thinking_blocks.empty()) {
    w.field("encrypted_content", std::string(kThinkingBlocksPrefix) + std::string(thinking_blocks));
  }
  w.end_object();
}

// A message's one content part: the model's text, or its refusal (OpenAI's models refuse in a
// field of their own, which structured outputs rely on).
enum class Part { text, refusal };

void write_part(JsonWriter& w, Part part, std::string_view text) {
  w.start_object();
  if (part == Part::refusal) {
    w.field("type", "refusal");
    w.field("refusal", text);
  } else {
    w.field("type", "output_text");
    w.field("text", text);
    w.key("annotations");
    w.start_array();
    w.end_array();
  }
  w.end_object();
}

void write_message_item(JsonWriter& w, std::string_view id, std::string_view status, Part part,
                        std::string_view text, bool with_content = true) {
  w.start_object();
  w.field("type", "message");
  w.field("id", id);
  w.field("status", status);
  w.field("role", "assistant");
  w.key("content");
  w.start_array();
  if (with_content) {
    write_part(w, part, text);
  }
  w.end_array();
  w.end_object();
}

// `extra`: the chat tool call's extra_content (Gemini's thought signature, which Gemini 3 needs
// back with the call), as JSON, or empty.
void write_call_item(JsonWriter& w, std::string_view id, std::string_view status,
                     std::string_view call_id, std::string_view name, std::string_view arguments,
                     std::string_view extra = {}) {
  w.start_object();
  w.field("type", "function_call");
  w.field("id", id);
  w.field("call_id", call_id);
  w.field("name", name);
  w.field("arguments", arguments);
  w.field("status", status);
  if (!extra.empty()) {
    w.key("extra_content");
    w.raw(extra);
  }
  w.end_object();
}

// Claude's thinking blocks (the chat format's thinking_blocks, providers/reasoning.hpp) as one
// JSON array, each block with only the fields Claude takes back; their text, joined, is the
// reasoning's summary when no reasoning_content gave it.
struct ThinkingBlocks {
  std::string json;  // "[...]", or empty for none
  std::string text;

  void add(const Value& block) {
    const std::string_view type = string_or_empty(block, "type");
    JsonWriter w;
    w.start_object();
    w.field("type", type);
    if (type == "thinking") {
      w.field("thinking", string_or_empty(block, "thinking"));
      w.field("signature", string_or_empty(block, "signature"));
      text.append(string_or_empty(block, "thinking"));
    } else if (type == "redacted_thinking") {
      w.field("data", string_or_empty(block, "data"));
    } else {
      return;
    }
    w.end_object();
    json.append(json.empty() ? "[" : ",").append(w.take());
  }
  std::string array() const { return json.empty() ? std::string() : json + "]"; }
};

// The Response object around its output: the echo's identity and settings, the answer's model,
// status, items and usage; `error` for a failed one.
void write_response(JsonWriter& w, const rapidjson::Document& echo, std::string_view model,
                    const Ending& ending, const std::vector<std::string>& items,
                    const ResponseUsage& usage, const Error* error = nullptr) {
  w.start_object();
  w.field("id", string_or_empty(echo, "id"));
  w.field("object", "response");
  if (const Value* created = find(echo, "created_at")) {
    w.key("created_at");
    w.value(*created);
  }
  w.field("status", error != nullptr ? std::string_view("failed") : ending.status);
  w.key("error");
  if (error != nullptr) {
    w.start_object();
    // Response.error.code is one of a documented set; typed clients refuse others. A rate limit
    // keeps its code, anything else is the server's error (keygate's own code in the message).
    const bool rate_limited = error->code == "rate_limit_exceeded" || error->status == 429;
    w.field("code", rate_limited ? "rate_limit_exceeded" : "server_error");
    w.field("message", error->message);
    w.end_object();
  } else {
    w.null();
  }
  w.key("incomplete_details");
  if (!ending.incomplete_reason.empty() && error == nullptr) {
    w.start_object();
    w.field("reason", ending.incomplete_reason);
    w.end_object();
  } else {
    w.null();
  }
  w.field("model", model);
  w.key("output");
  w.start_array();
  for (const auto& item : items) {
    w.raw(item);
  }
  w.end_array();
  usage.write(w);
  for (const auto& m : echo.GetObject()) {
    const std::string_view name = as_view(m.name);
    if (name != "id" && name != "created_at") {
      w.key(name);
      w.value(m.value);
    }
  }
  w.end_object();
}

rapidjson::Document parse_echo(std::string_view echo) {
  rapidjson::Document doc;
  doc.Parse(echo.data(), echo.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    doc.SetObject();  // keygate wrote it: only a caller's mistake gets here
  }
  return doc;
}

}  // namespace

Result<std::string> chat_to_response(std::string_view chat_completion, std::string_view echo) {
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
  const rapidjson::Document shape = parse_echo(echo);
  const ItemIds ids(string_or_empty(shape, "id"));
  const Ending ending = Ending::from_finish_reason(string_or_empty(choice, "finish_reason"));
  std::vector<std::string> items;

  ThinkingBlocks thinking;
  if (const Value* blocks = find(*msg, "thinking_blocks"); blocks != nullptr && blocks->IsArray()) {
    for (const auto& block : blocks->GetArray()) {
      thinking.add(block);
    }
  }
  std::string_view summary = string_or_empty(*msg, "reasoning_content");
  if (summary.empty()) {
    summary = thinking.text;
  }
  if (!summary.empty() || !thinking.json.empty()) {
    JsonWriter w;
    write_reasoning_item(w, ids.make("rs_", items.size()), summary, thinking.array());
    items.push_back(w.take());
  }
  const std::string_view text = string_or_empty(*msg, "content");
  const std::string_view refusal = string_or_empty(*msg, "refusal");
  const Value* calls = find(*msg, "tool_calls");
  const bool has_calls = calls != nullptr && calls->IsArray() && !calls->Empty();
  const std::string_view status = ending.status == "completed" ? "completed" : "incomplete";
  if (!text.empty() || (refusal.empty() && !has_calls)) {
    JsonWriter w;
    write_message_item(w, ids.make("msg_", items.size()), status, Part::text, text);
    items.push_back(w.take());
  }
  if (!refusal.empty()) {
    JsonWriter w;
    write_message_item(w, ids.make("msg_", items.size()), status, Part::refusal, refusal);
    items.push_back(w.take());
  }
  if (has_calls) {
    for (const auto& call : calls->GetArray()) {
      const Value* function = find(call, "function");
      const std::string_view name = function != nullptr ? string_or_empty(*function, "name") : "";
      if (name.empty()) {
        return fail(bad_answer("a tool call has no function name"));
      }
      // A call id the client can answer with a function_call_output: the upstream's, or ours.
      const std::string fallback_id = "call_" + ids.base + "_" + std::to_string(items.size());
      const std::string_view call_id = string_or_empty(call, "id");
      JsonWriter w;
      const Value* extra = find(call, "extra_content");
      write_call_item(w, ids.make("fc_", items.size()), status,
                      call_id.empty() ? std::string_view(fallback_id) : call_id, name,
                      string_or_empty(*function, "arguments"),
                      extra != nullptr && extra->IsObject() ? to_json(*extra) : std::string());
      items.push_back(w.take());
    }
  }
  JsonWriter w;
  write_response(w, shape, string_or_empty(in, "model"), ending, items,
                 ResponseUsage::from_chat(find(in, "usage")));
  return w.take();
}

// --- Stream ------------------------------------------------------------------------------------

struct ResponsesStreamWriter::State {
  explicit State(std::string_view echo_json)
      : echo(parse_echo(echo_json)), ids(string_or_empty(echo, "id")) {}

  rapidjson::Document echo;
  ItemIds ids;
  SseParser parser;
  std::vector<SseEvent> events;
  int64_t sequence = 0;
  bool started = false;
  bool finished = false;
  bool failing = false;  // the stream is ending with response.failed
  std::string model;
  std::vector<std::string> done_items;  // the output so far, each item whole
  ResponseUsage usage;
  std::string finish_reason;

  // The open output item: its kind, id and what its deltas added up to.
  enum class Kind { none, reasoning, message, call } kind = Kind::none;
  std::string item_id;
  Part part = Part::text;  // a message item's part
  std::string text;        // the reasoning summary, the message's text or refusal, or the arguments
  ThinkingBlocks thinking;
  bool thinking_streamed = false;  // reasoning_content brought the open item's text already
  int64_t call_index = -1;         // the chat tool call index the open call item is for
  std::string call_id;
  bool call_id_given = false;  // the upstream named the open call (else keygate did)
  std::string call_name;
  std::string call_extra;  // its extra_content, as JSON

  int64_t output_index() const { return static_cast<int64_t>(done_items.size()); }

  // One event: its type as the SSE event name and the data's first field, then its number.
  template <class Fields>
  void emit(std::string_view type, Fields&& fields, std::string& out) {
    JsonWriter w;
    w.start_object();
    w.field("type", type);
    w.field("sequence_number", sequence++);
    fields(w);
    w.end_object();
    out.append("event: ").append(type).append("\ndata: ").append(w.take()).append("\n\n");
  }

  // The indices every event inside an item carries.
  void item_fields(JsonWriter& w) const {
    w.field("item_id", item_id);
    w.field("output_index", output_index());
  }

  void emit_response(std::string_view type, const Ending& ending, std::string& out,
                     const Error* error = nullptr) {
    emit(
        type,
        [&](JsonWriter& w) {
          w.key("response");
          write_response(w, echo, model, ending, done_items, usage, error);
        },
        out);
  }

  void start(const Value& chunk, std::string& out) {
    started = true;
    model = std::string(string_or_empty(chunk, "model"));
    const Ending in_progress{"in_progress", {}};
    emit_response("response.created", in_progress, out);
    emit_response("response.in_progress", in_progress, out);
  }

  void open_reasoning(std::string& out) {
    close_item(out);
    kind = Kind::reasoning;
    item_id = ids.make("rs_", done_items.size());
    thinking = {};
    thinking_streamed = false;
    emit(
        "response.output_item.added",
        [&](JsonWriter& w) {
          w.field("output_index", output_index());
          w.key("item");
          write_reasoning_item(w, item_id, {}, {});
        },
        out);
  }

  // Reasoning text: the item's one summary part, opened with its first piece.
  void reasoning_text(std::string_view piece, std::string& out) {
    if (kind != Kind::reasoning) {
      open_reasoning(out);
    }
    if (text.empty()) {
      emit(
          "response.reasoning_summary_part.added",
          [&](JsonWriter& w) {
            item_fields(w);
            w.field("summary_index", 0);
            w.key("part");
            w.start_object();
            w.field("type", "summary_text");
            w.field("text", "");
            w.end_object();
          },
          out);
    }
    text.append(piece);
    emit(
        "response.reasoning_summary_text.delta",
        [&](JsonWriter& w) {
          item_fields(w);
          w.field("summary_index", 0);
          w.field("delta", piece);
        },
        out);
  }

  // delta.thinking_blocks: Claude's blocks, each at its end, whole (with its text when no
  // reasoning_content streamed it).
  void thinking_blocks(const Value& entries, std::string& out) {
    for (const auto& entry : entries.GetArray()) {
      if (kind != Kind::reasoning) {
        open_reasoning(out);
      }
      const std::string_view block_text = string_or_empty(entry, "thinking");
      if (!thinking_streamed && !block_text.empty()) {
        reasoning_text(block_text, out);
      }
      thinking.add(entry);
      thinking_streamed = false;  // the next block's text comes in its own deltas, or here
    }
  }

  void open_message(Part kind_of_part, std::string& out) {
    close_item(out);
    kind = Kind::message;
    part = kind_of_part;
    item_id = ids.make("msg_", done_items.size());
    emit(
        "response.output_item.added",
        [&](JsonWriter& w) {
          w.field("output_index", output_index());
          w.key("item");
          write_message_item(w, item_id, "in_progress", part, {}, /*with_content=*/false);
        },
        out);
    emit(
        "response.content_part.added",
        [&](JsonWriter& w) {
          item_fields(w);
          w.field("content_index", 0);
          w.key("part");
          write_part(w, part, {});
        },
        out);
  }

  // A piece of the answer's text (delta.content) or of its refusal (delta.refusal), each in a
  // message item of its own.
  void message_piece(Part kind_of_part, std::string_view piece, std::string& out) {
    if (kind != Kind::message || part != kind_of_part) {
      open_message(kind_of_part, out);
    }
    text.append(piece);
    emit(
        part == Part::text ? "response.output_text.delta" : "response.refusal.delta",
        [&](JsonWriter& w) {
          item_fields(w);
          w.field("content_index", 0);
          w.field("delta", piece);
          if (part == Part::text) {
            w.key("logprobs");
            w.start_array();
            w.end_array();
          }
        },
        out);
  }

  void open_call(int64_t index, const Value& call, std::string& out) {
    close_item(out);
    kind = Kind::call;
    call_index = index;
    item_id = ids.make("fc_", done_items.size());
    const std::string_view id = string_or_empty(call, "id");
    call_id_given = !id.empty();
    call_id =
        id.empty() ? "call_" + ids.base + "_" + std::to_string(done_items.size()) : std::string(id);
    const Value* function = find(call, "function");
    call_name = function != nullptr ? std::string(string_or_empty(*function, "name")) : "";
    const Value* extra = find(call, "extra_content");
    call_extra = extra != nullptr && extra->IsObject() ? to_json(*extra) : std::string();
    emit(
        "response.output_item.added",
        [&](JsonWriter& w) {
          w.field("output_index", output_index());
          w.key("item");
          write_call_item(w, item_id, "in_progress", call_id, call_name, {}, call_extra);
        },
        out);
  }

  void tool_calls(const Value& calls, std::string& out) {
    for (const auto& call : calls.GetArray()) {
      const Value* index = find(call, "index");
      const int64_t i = index != nullptr && index->IsInt64() ? index->GetInt64() : 0;
      const Value* function = find(call, "function");
      const std::string_view id = string_or_empty(call, "id");
      // Another call: another index, or another id than the one the upstream gave (some servers
      // send no index). Calls come one after the other, as OpenAI streams them; an id arriving
      // after the call's first piece names that call.
      const bool other_id = !id.empty() && id != call_id && call_id_given;
      if (kind != Kind::call || i != call_index || other_id) {
        open_call(i, call, out);
      } else if (!id.empty() && !call_id_given) {
        call_id = std::string(id);
        call_id_given = true;
      }
      const std::string_view piece =
          function != nullptr ? string_or_empty(*function, "arguments") : "";
      if (!piece.empty()) {
        text.append(piece);
        emit(
            "response.function_call_arguments.delta",
            [&](JsonWriter& w) {
              item_fields(w);
              w.field("delta", piece);
            },
            out);
      }
    }
  }

  // The open item's done events, and the item whole into the output.
  void close_item(std::string& out) {
    JsonWriter item;
    switch (kind) {
      case Kind::none:
        return;
      case Kind::reasoning: {
        if (!text.empty()) {
          emit(
              "response.reasoning_summary_text.done",
              [&](JsonWriter& w) {
                item_fields(w);
                w.field("summary_index", 0);
                w.field("text", text);
              },
              out);
          emit(
              "response.reasoning_summary_part.done",
              [&](JsonWriter& w) {
                item_fields(w);
                w.field("summary_index", 0);
                w.key("part");
                w.start_object();
                w.field("type", "summary_text");
                w.field("text", text);
                w.end_object();
              },
              out);
        }
        write_reasoning_item(item, item_id, text, thinking.array());
        break;
      }
      case Kind::message: {
        emit(
            part == Part::text ? "response.output_text.done" : "response.refusal.done",
            [&](JsonWriter& w) {
              item_fields(w);
              w.field("content_index", 0);
              if (part == Part::text) {
                w.field("text", text);
                w.key("logprobs");
                w.start_array();
                w.end_array();
              } else {
                w.field("refusal", text);
              }
            },
            out);
        emit(
            "response.content_part.done",
            [&](JsonWriter& w) {
              item_fields(w);
              w.field("content_index", 0);
              w.key("part");
              write_part(w, part, text);
            },
            out);
        write_message_item(item, item_id, cut_short() ? "incomplete" : "completed", part, text);
        break;
      }
      case Kind::call: {
        emit(
            "response.function_call_arguments.done",
            [&](JsonWriter& w) {
              item_fields(w);
              w.field("name", call_name);
              w.field("arguments", text);
            },
            out);
        write_call_item(item, item_id, cut_short() ? "incomplete" : "completed", call_id, call_name,
                        text, call_extra);
        break;
      }
    }
    std::string whole = item.take();
    emit(
        "response.output_item.done",
        [&](JsonWriter& w) {
          w.field("output_index", output_index());
          w.key("item");
          w.raw(whole);
        },
        out);
    done_items.push_back(std::move(whole));
    kind = Kind::none;
    text.clear();
  }

  Ending ending() const { return Ending::from_finish_reason(finish_reason); }
  // An item closed by a failure, or by a token limit or filter, did not get to its end.
  bool cut_short() const { return failing || ending().status != "completed"; }

  void finish(std::string& out) {
    close_item(out);
    const Ending end = ending();
    emit_response(end.status == "completed" ? "response.completed" : "response.incomplete", end,
                  out);
    finished = true;
  }

  void fail_with(const Error& error, std::string& out) {
    if (finished) {
      return;
    }
    if (!started) {
      start(Value(rapidjson::kObjectType), out);  // the SDKs expect response.created first
    }
    failing = true;
    close_item(out);  // what streamed so far stays in the output, marked incomplete
    emit_response("response.failed", {}, out, &error);
    finished = true;
  }

  Result<void> on_frame(const std::string& data, std::string& out) {
    if (data == "[DONE]") {
      if (!started) {
        start(Value(rapidjson::kObjectType), out);
      }
      finish(out);
      return {};
    }
    const StackJson<4096> parsed(data);
    if (parsed.has_parse_error() || !parsed.value().IsObject()) {
      fail_with(bad_answer("the stream held an event that is not a JSON chunk"), out);
      return {};
    }
    const Value& chunk = parsed.value();
    if (const Value* error = find(chunk, "error")) {
      Error e = Error::internal(std::string(string_or_empty(*error, "message")));
      e.code = std::string(string_or_empty(*error, "code"));
      if (!e.code.empty() && e.code != "rate_limit_exceeded") {
        e.message += " (" + e.code + ")";
      }
      fail_with(e, out);
      return {};
    }
    if (!started) {
      start(chunk, out);
    }
    if (const Value* u = find(chunk, "usage")) {
      usage = ResponseUsage::from_chat(u);
    }
    const Value* choices = find(chunk, "choices");
    if (choices == nullptr || !choices->IsArray() || choices->Empty()) {
      return {};
    }
    const Value& choice = (*choices)[0];
    if (const Value* d = find(choice, "delta")) {
      if (const std::string_view piece = string_or_empty(*d, "reasoning_content"); !piece.empty()) {
        reasoning_text(piece, out);
        thinking_streamed = true;
      }
      if (const Value* entries = find(*d, "thinking_blocks");
          entries != nullptr && entries->IsArray()) {
        thinking_blocks(*entries, out);
      }
      if (const std::string_view piece = string_or_empty(*d, "content"); !piece.empty()) {
        message_piece(Part::text, piece, out);
      }
      if (const std::string_view piece = string_or_empty(*d, "refusal"); !piece.empty()) {
        message_piece(Part::refusal, piece, out);
      }
      if (const Value* calls = find(*d, "tool_calls"); calls != nullptr && calls->IsArray()) {
        tool_calls(*calls, out);
      }
    }
    if (const std::string_view reason = string_or_empty(choice, "finish_reason"); !reason.empty()) {
      finish_reason = std::string(reason);
    }
    return {};
  }
};

ResponsesStreamWriter::ResponsesStreamWriter(std::string_view echo)
    : state_(std::make_unique<State>(echo)) {}
ResponsesStreamWriter::~ResponsesStreamWriter() = default;

Result<void> ResponsesStreamWriter::feed(std::string_view openai_bytes, std::string& out) {
  State& s = *state_;
  s.events.clear();
  KG_CHECK(s.parser.feed(openai_bytes, s.events));
  for (const auto& event : s.events) {
    if (s.finished) {
      break;  // nothing may follow the final event
    }
    KG_CHECK(s.on_frame(event.data, out));
  }
  return {};
}

void ResponsesStreamWriter::fail(const Error& error, std::string& out) {
  state_->fail_with(error, out);
}

bool ResponsesStreamWriter::finished() const {
  return state_->finished;
}

}  // namespace keygate::providers
