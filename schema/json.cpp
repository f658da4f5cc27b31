#include "schema/json.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

namespace keygate {

std::string to_json(const rapidjson::Value& v) {
  // Writer<StringBuffer> is the combination RapidJSON escapes strings for with SIMD.
  rapidjson::StringBuffer buffer(nullptr, 1024);
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

namespace {
Result<void> check_parsed(rapidjson::ParseResult parsed, const rapidjson::Value& root) {
  if (parsed.Code() == rapidjson::kParseErrorTermination) {  // DepthLimited stopped it
    return fail(Error::invalid_request("Invalid JSON: arrays and objects nest deeper than " +
                                           std::to_string(kMaxJsonDepth) + " levels.",
                                       {}, "invalid_json"));
  }
  if (parsed.IsError()) {
    return fail(Error::invalid_request(std::string("Invalid JSON at offset ") +
                                           std::to_string(parsed.Offset()) + ": " +
                                           rapidjson::GetParseError_En(parsed.Code()),
                                       {}, "invalid_json"));
  }
  if (!root.IsObject()) {
    return fail(Error::invalid_request("The JSON body must be an object.", {}, "invalid_json"));
  }
  return {};
}

Result<void> check_parsed(const rapidjson::Document& doc) {
  return check_parsed(rapidjson::ParseResult(doc.GetParseError(), doc.GetErrorOffset()), doc);
}

template <unsigned Flags>
Result<void> parse_into(std::string_view text, rapidjson::Document& doc) {
  if (nested_too_deep(text)) {
    return check_parsed(rapidjson::ParseResult(rapidjson::kParseErrorTermination, 0), doc);
  }
  doc.Parse<Flags>(text.data(), text.size());
  return check_parsed(doc);
}

// The work stacks' first blocks, on the caller's stack. The value stack holds the members of
// every object still open (32 bytes each), the string stack one string at a time: a request with
// a few dozen messages of a few KiB stays inside them. A bigger one continues in heap chunks.
constexpr std::size_t kValueStackBuffer = 4096;
constexpr std::size_t kStringStackBuffer = 2048;
constexpr std::size_t kStackChunk = 16 * 1024;  // the size of each heap chunk after them
// What RapidJSON reserves at the first push; grown in place while the buffer lasts.
constexpr std::size_t kValueStackStart = 1024;
constexpr std::size_t kStringStackStart = 512;

using StackPool = rapidjson::MemoryPoolAllocator<>;
using ScratchDocument = rapidjson::GenericDocument<rapidjson::UTF8<>, StackPool, StackPool>;
using ScratchReader = rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, StackPool>;

// Document::Parse with both stacks in stack buffers: Document's own Parse gives its reader the
// document's stack allocator, so the two stacks would interleave in one pool and every growth of
// one would copy it; here each has its own.
template <unsigned Flags, class InputStream>
rapidjson::ParseResult parse_scratch(InputStream& in, rapidjson::Value& root,
                                     rapidjson::MemoryPoolAllocator<>& values) {
  alignas(16) char value_stack[kValueStackBuffer];
  alignas(16) char string_stack[kStringStackBuffer];
  StackPool value_pool(value_stack, sizeof value_stack, kStackChunk);
  StackPool string_pool(string_stack, sizeof string_stack, kStackChunk);
  ScratchDocument doc(&values, kValueStackStart, &value_pool);
  ScratchReader reader(&string_pool, kStringStackStart);
  rapidjson::ParseResult result;
  auto generate = [&](ScratchDocument& handler) {
    DepthLimited<ScratchDocument> limited(handler);
    result = reader.Parse<Flags>(in, limited);
    return !result.IsError();
  };
  doc.Populate(generate);
  if (!result.IsError()) {
    root.Swap(doc);  // only the root's handle: its content lives in `values`
  }
  return result;
}
}  // namespace

rapidjson::ParseResult parse_json_value(std::string_view text, rapidjson::Value& root,
                                        rapidjson::MemoryPoolAllocator<>& values) {
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
  return parse_scratch<rapidjson::kParseDefaultFlags>(in, root, values);
}

rapidjson::ParseResult parse_json_value(const std::string& text, rapidjson::Value& root,
                                        rapidjson::MemoryPoolAllocator<>& values) {
  if (auto nul = nul_inside(text); nul.IsError()) {
    return nul;
  }
  rapidjson::StringStream in(text.c_str());
  return parse_scratch<rapidjson::kParseDefaultFlags>(in, root, values);
}

// Whether any of a word's eight bytes needs an escape in a JSON string: a control (below 0x20),
// '"' or '\\'. Lets the usual run of plain text go by eight bytes a step.
static bool needs_escape_in(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  auto has_zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  const uint64_t control = (word - kOnes * 0x20) & ~word & kHighs;
  return (control | has_zero_byte(word ^ (kOnes * '"')) | has_zero_byte(word ^ (kOnes * '\\'))) !=
         0;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  std::size_t clean = 0;  // start of the run of characters that need no escape
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i + 8 <= text.size()) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, sizeof word);
      if (!needs_escape_in(word)) {
        i += 7;  // and the loop's ++i
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out.append(text.data() + clean, i - clean);
    clean = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
      }
    }
  }
  out.append(text.data() + clean, text.size() - clean);
  out += '"';
}

void append_integer(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

void append_millis(std::string& out, int64_t microseconds) {
  if (microseconds < 0) {
    out += '-';
    microseconds = -microseconds;
  }
  append_integer(out, microseconds / 1000);
  const auto fraction = static_cast<int>(microseconds % 1000);
  const char decimals[4] = {'.', static_cast<char>('0' + fraction / 100),
                            static_cast<char>('0' + fraction / 10 % 10),
                            static_cast<char>('0' + fraction % 10)};
  out.append(decimals, 4);
}

// Comments (the relaxed parse of keygate's own configuration) are not skipped: a bracket inside
// one counts. Only the operator's files are read relaxed.
bool nested_too_deep(std::string_view text) {
  int depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    switch (text[i]) {
      case '"':
        // To the string's closing quote, over escaped characters.
        for (++i; i < text.size() && text[i] != '"'; ++i) {
          i += text[i] == '\\' ? 1 : 0;
        }
        break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) {
          return true;
        }
        break;
      case ']':
      case '}':
        --depth;
        break;
      default:
        break;
    }
  }
  return false;
}

Result<rapidjson::Document> parse_json_object(std::string_view text, bool relaxed) {
  rapidjson::Document doc;
  constexpr unsigned kRelaxed = rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag;
  auto ok = relaxed ? parse_into<kRelaxed>(text, doc) : parse_into<0>(text, doc);
  if (!ok) {
    return fail(ok.error());
  }
  return doc;
}

Result<void> parse_json_object_into(const std::string& text, rapidjson::Document& doc) {
  // Parsing NUL-terminated text lets RapidJSON scan whitespace and strings 16 bytes at a time
  // (the sized overload reads one character at a time), so a NUL inside the text must be
  // refused here rather than end the document early.
  if (nul_inside(text).IsError()) {
    return fail(
        Error::invalid_request("Invalid JSON: the body contains a NUL byte.", {}, "invalid_json"));
  }
  rapidjson::StringStream in(text.c_str());
  rapidjson::Value& root = doc;
  auto parsed = parse_scratch<rapidjson::kParseDefaultFlags>(in, root, doc.GetAllocator());
  return check_parsed(parsed, root);
}

namespace {

bool json_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The usual request: the wanted member first, its value a string with no escape in it. Read by
// hand, which costs a few dozen instructions where two RapidJSON readers cost about 700; any
// other shape returns nullopt and the readers decide.
std::optional<MemberSpan> first_member_plain_string(const std::string& text,
                                                    std::string_view name) {
  std::size_t i = 0;
  auto skip_blanks = [&] {
    while (i < text.size() && json_blank(text[i])) {
      ++i;
    }
  };
  skip_blanks();
  if (i >= text.size() || text[i] != '{') {
    return std::nullopt;
  }
  ++i;
  skip_blanks();
  if (text.compare(i, 1, "\"") != 0 || text.compare(i + 1, name.size(), name) != 0 ||
      text.compare(i + 1 + name.size(), 1, "\"") != 0) {
    return std::nullopt;
  }
  i += name.size() + 2;
  skip_blanks();
  if (i >= text.size() || text[i] != ':') {
    return std::nullopt;
  }
  ++i;
  skip_blanks();
  if (i >= text.size() || text[i] != '"') {
    return std::nullopt;
  }
  std::size_t close = i + 1;
  while (close < text.size() && text[close] != '"' && text[close] != '\\' &&
         static_cast<unsigned char>(text[close]) >= 0x20) {
    ++close;
  }
  if (close >= text.size() || text[close] != '"') {
    return std::nullopt;  // an escape, a control character or no end: the readers judge it
  }
  MemberSpan span;
  span.name = name;
  span.begin = i;
  span.end = close + 1;
  span.count = 1;
  return span;
}

}  // namespace

MemberSpan find_member_span(const std::string& text, std::string_view name) {
  if (auto plain = first_member_plain_string(text, name)) {
    return *plain;
  }
  // Stops the reader at the wanted key: a handler returning false ends the parse, and the stream
  // is then just past the token that handler saw (RapidJSON 1.1 has no pull parser, and during a
  // string's or number's handler the stream's own position is not yet updated).
  struct UntilKey : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, UntilKey> {
    std::string_view wanted;
    int depth = 0;
    bool found = false;
    bool Key(const char* s, rapidjson::SizeType n, bool) {
      found = depth == 1 && std::string_view(s, n) == wanted;
      return !found;
    }
    bool StartObject() { return ++depth <= kMaxJsonDepth; }
    bool StartArray() { return ++depth <= kMaxJsonDepth; }
    bool EndObject(rapidjson::SizeType) { return --depth >= 0; }
    bool EndArray(rapidjson::SizeType) { return --depth >= 0; }
  } until;
  until.wanted = name;
  alignas(16) char stack[1024];
  rapidjson::MemoryPoolAllocator<> pool(stack, sizeof stack, 4096);
  using Reader = rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>,
                                          rapidjson::MemoryPoolAllocator<>>;
  Reader reader(&pool, 256);
  rapidjson::StringStream in(text.c_str());
  reader.Parse<rapidjson::kParseDefaultFlags>(in, until);
  MemberSpan span;
  span.name = name;
  if (!until.found) {
    return span;
  }
  std::size_t begin = in.Tell();  // past the key's closing quote: blanks and a colon follow
  while (begin < text.size() && (json_blank(text[begin]) || text[begin] == ':')) {
    ++begin;
  }
  // The value alone, read up to its last byte and no further.
  rapidjson::BaseReaderHandler<> ignore;
  DepthLimited<rapidjson::BaseReaderHandler<>> limited(ignore);
  Reader value_reader(&pool, 256);
  rapidjson::StringStream value(text.c_str() + begin);
  if (value_reader.Parse<rapidjson::kParseStopWhenDoneFlag>(value, limited).IsError()) {
    return span;
  }
  span.begin = begin;
  span.end = begin + value.Tell();
  span.count = 1;
  return span;
}

std::size_t json_pool_size(std::size_t text_size) {
  // A document takes about twice its text (values are 16 bytes, strings are copied); a larger
  // one gets more chunks as it needs them.
  return std::clamp<std::size_t>(2 * text_size + 512, 1024, 64 * 1024);
}

namespace {
Error wrong_type(const char* name, const char* want) {
  return Error::invalid_request(std::string("'") + name + "' must be " + want + ".", name,
                                "invalid_type");
}
}  // namespace

Result<std::optional<std::string>> get_string(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<std::string>{};
  }
  if (!it->value.IsString()) {
    return fail(wrong_type(name, "a string"));
  }
  return std::optional<std::string>(std::string(as_view(it->value)));
}

Result<std::optional<double>> get_number(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<double>{};
  }
  if (!it->value.IsNumber()) {
    return fail(wrong_type(name, "a number"));
  }
  return std::optional<double>(it->value.GetDouble());
}

Result<std::optional<int64_t>> get_int(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<int64_t>{};
  }
  if (!it->value.IsInt64()) {
    return fail(wrong_type(name, "an integer"));
  }
  return std::optional<int64_t>(it->value.GetInt64());
}

Result<std::optional<bool>> get_bool(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<bool>{};
  }
  if (!it->value.IsBool()) {
    return fail(wrong_type(name, "a boolean"));
  }
  return std::optional<bool>(it->value.GetBool());
}

}  // namespace keygate
