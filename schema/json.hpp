#pragma once
// Small helpers over RapidJSON: a writer that builds a std::string, and typed, checked reads
// that turn a wrong type into a clear Error instead of an assert.

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "schema/error.hpp"

namespace keygate {

class JsonWriter {
 public:
  JsonWriter() : writer_(buffer_) {}
  void start_object() { writer_.StartObject(); }
  void end_object() { writer_.EndObject(); }
  void start_array() { writer_.StartArray(); }
  void end_array() { writer_.EndArray(); }
  void key(std::string_view k) {
    writer_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  }
  void string(std::string_view v) {
    writer_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  void null() { writer_.Null(); }
  void boolean(bool v) { writer_.Bool(v); }
  void integer(int64_t v) { writer_.Int64(v); }
  void number(double v) { writer_.Double(v); }
  void value(const rapidjson::Value& v) { v.Accept(writer_); }
  // Inserts already-serialised JSON verbatim (caller guarantees validity).
  void raw(std::string_view json) {
    writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }

  void field(std::string_view k, std::string_view v) { key(k), string(v); }
  void field(std::string_view k, const char* v) { key(k), string(v); }
  void field(std::string_view k, bool v) { key(k), boolean(v); }
  void field(std::string_view k, int v) { key(k), integer(v); }
  void field(std::string_view k, int64_t v) { key(k), integer(v); }
  void field(std::string_view k, double v) { key(k), number(v); }
  // Optional strings serialise as null when empty.
  void field_or_null(std::string_view k, const std::optional<std::string>& v) {
    key(k);
    if (v) {
      string(*v);
    } else {
      null();
    }
  }

  std::string take() { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// OpenAI's list envelope, {"object":"list","data":[...]}; write_item(writer, item) writes one
// element of `items`.
template <class Items, class WriteItem>
std::string list_json(const Items& items, WriteItem write_item) {
  JsonWriter w;
  w.start_object();
  w.field("object", "list");
  w.key("data");
  w.start_array();
  for (const auto& item : items) {
    write_item(w, item);
  }
  w.end_array();
  w.end_object();
  return w.take();
}

// Serialises a RapidJSON value.
std::string to_json(const rapidjson::Value& v);

// Appends `text` as a JSON string (quoted, escaped) to `out`: for lines written on every request
// (the access log), where a whole RapidJSON writer costs more than the line itself.
void append_json_string(std::string& out, std::string_view text);
// Appends a duration in milliseconds with three decimals ("12.345"), from microseconds.
void append_millis(std::string& out, int64_t microseconds);
// Appends an integer.
void append_integer(std::string& out, int64_t value);

// The deepest nesting of arrays and objects keygate reads. RapidJSON's reader recurses once a
// level, and so do copying and writing a value: without a bound, a body of a few MB of '['
// overflows the thread's stack and takes the server down. Real requests, tools' JSON schemas
// included, stay far below it.
inline constexpr int kMaxJsonDepth = 256;

// Whether the arrays and objects of `text` nest deeper than kMaxJsonDepth (brackets inside
// strings do not count). A byte scan, run before RapidJSON's own Document::Parse where a text
// from a client or an upstream is parsed outside the readers below, which bound the depth as
// they go.
bool nested_too_deep(std::string_view text);

// Document::Parse of `text`, refused (false, `doc` null) when it nests deeper than
// kMaxJsonDepth; true when it parsed.
template <unsigned Flags = rapidjson::kParseDefaultFlags, class Document>
bool parse_bounded(Document& doc, std::string_view text) {
  if (nested_too_deep(text)) {
    doc.SetNull();
    return false;
  }
  doc.template Parse<Flags>(text.data(), text.size());
  return !doc.HasParseError();
}

// A SAX handler passing every event on to `inner`, that ends the parse (kParseErrorTermination)
// where arrays and objects nest deeper than kMaxJsonDepth: the reader never recurses further.
template <class Inner>
class DepthLimited {
 public:
  using Ch = char;
  explicit DepthLimited(Inner& inner) : inner_(inner) {}

  bool Null() { return inner_.Null(); }
  bool Bool(bool b) { return inner_.Bool(b); }
  bool Int(int i) { return inner_.Int(i); }
  bool Uint(unsigned u) { return inner_.Uint(u); }
  bool Int64(int64_t i) { return inner_.Int64(i); }
  bool Uint64(uint64_t u) { return inner_.Uint64(u); }
  bool Double(double d) { return inner_.Double(d); }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) {
    return inner_.RawNumber(s, n, copy);
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) { return inner_.String(s, n, copy); }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) { return inner_.Key(s, n, copy); }
  bool StartObject() { return ++depth_ <= kMaxJsonDepth && inner_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return inner_.EndObject(n);
  }
  bool StartArray() { return ++depth_ <= kMaxJsonDepth && inner_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return inner_.EndArray(n);
  }

 private:
  Inner& inner_;
  int depth_ = 0;
};

// Parses a JSON object (comments and trailing commas allowed when `relaxed`).
// Errors are 400 invalid_request with the parse position.
Result<rapidjson::Document> parse_json_object(std::string_view text, bool relaxed = false);
// The same, into `doc`: on the request path the caller gives `doc` a memory pool sized with
// json_pool_size(), because RapidJSON's default pool takes 64 KiB at once per document.
Result<void> parse_json_object_into(const std::string& text, rapidjson::Document& doc);
std::size_t json_pool_size(std::size_t text_size);

// Where one top-level member's value lies in a JSON object's text (a string's quotes included):
// an edit of that value in the text can then stand in for writing a whole document out again.
struct MemberSpan {
  std::string_view name;
  std::size_t begin = std::string_view::npos;
  std::size_t end = std::string_view::npos;
  int count = 0;  // 1 when found (the first member of that name; the name as parsed, unescaped)
  bool found() const { return count > 0; }
};
// Reads `text` (NUL-terminated) with RapidJSON's pull parser one token at a time, only as far as
// the first top-level member named `name` and its value. Not found (count 0) when there is none
// or the text is not valid JSON that far.
MemberSpan find_member_span(const std::string& text, std::string_view name);

// Parses one JSON value from `text` into `root`, its strings and containers taken from `values`
// (any earlier content of `root` is dropped). RapidJSON's two work stacks (the values being built,
// the string being read) start in buffers on this call's stack instead of two heap blocks and two
// heap allocator objects each time: for a request-sized text the only heap memory is `values`'.
rapidjson::ParseResult parse_json_value(std::string_view text, rapidjson::Value& root,
                                        rapidjson::MemoryPoolAllocator<>& values);
// The same, faster, for a whole std::string: its terminating NUL lets RapidJSON scan strings and
// whitespace 16 bytes at a time (the sized parse reads one character at a time). A NUL inside the
// text is a parse error, not the end of the document.
rapidjson::ParseResult parse_json_value(const std::string& text, rapidjson::Value& root,
                                        rapidjson::MemoryPoolAllocator<>& values);

// A JSON text parsed for reading, its memory pool starting in a buffer inside this object: made
// on the stack, parsing a stream event or a whole answer of a few KiB takes no heap memory at all
// (a default rapidjson::Document takes a 64 KiB chunk and four more blocks). A bigger text
// continues in heap chunks. Neither copied nor moved: the value points into the buffer.
template <std::size_t Bytes = 8192>
class StackJson {
 public:
  explicit StackJson(std::string_view text)
      : pool_(buffer_, sizeof buffer_), result_(parse_json_value(text, value_, pool_)) {}
  explicit StackJson(const std::string& text)
      : pool_(buffer_, sizeof buffer_), result_(parse_json_value(text, value_, pool_)) {}
  StackJson(const StackJson&) = delete;
  StackJson& operator=(const StackJson&) = delete;

  bool has_parse_error() const { return result_.IsError(); }
  const rapidjson::Value& value() const { return value_; }

 private:
  alignas(16) char buffer_[Bytes];
  rapidjson::MemoryPoolAllocator<> pool_;
  rapidjson::Value value_;
  rapidjson::ParseResult result_;
};

// A NUL inside `text` as a parse error at its offset: a NUL-terminated parse would take it for the
// end of the text.
inline rapidjson::ParseResult nul_inside(const std::string& text) {
  const void* nul = std::memchr(text.data(), '\0', text.size());
  if (nul == nullptr) {
    return {};
  }
  return {rapidjson::kParseErrorValueInvalid,
          static_cast<std::size_t>(static_cast<const char*>(nul) - text.data())};
}

// Parses `text` into a SAX handler (RapidJSON's reader events) and builds nothing: for reading a
// few values out of a text that is passed on as it is. The same NUL rule as parse_json_value's
// std::string overload; the text itself is left as it is (the parse runs on a copy).
template <class Handler>
rapidjson::ParseResult scan_json(const std::string& text, Handler& handler) {
  if (auto nul = nul_inside(text); nul.IsError()) {
    return nul;
  }
  alignas(16) char stack[2048];
  rapidjson::MemoryPoolAllocator<> pool(stack, sizeof stack, 16 * 1024);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>>
      reader(&pool, 512);
  // In situ, on a copy: the reader then hands each string over where it lies in the copy
  // instead of copying it to its stack first (a chat answer's usage scan: 5.7k -> 4.3k
  // instructions, callgrind). The copy's buffer is kept per thread up to 64 KiB.
  thread_local std::string copy;
  copy.assign(text);
  rapidjson::InsituStringStream in(copy.data());
  DepthLimited<Handler> limited(handler);
  const rapidjson::ParseResult result = reader.Parse<rapidjson::kParseInsituFlag>(in, limited);
  if (copy.capacity() > 64 * 1024) {
    std::string().swap(copy);
  }
  return result;
}

// Typed member access: absent -> nullopt; present with the wrong type -> 400 naming the field.
Result<std::optional<std::string>> get_string(const rapidjson::Value& obj, const char* name);
Result<std::optional<double>> get_number(const rapidjson::Value& obj, const char* name);
Result<std::optional<int64_t>> get_int(const rapidjson::Value& obj, const char* name);
Result<std::optional<bool>> get_bool(const rapidjson::Value& obj, const char* name);

inline std::string_view as_view(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

}  // namespace keygate
