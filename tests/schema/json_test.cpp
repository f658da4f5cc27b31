// The hand-written JSON pieces of per-request lines (the access log): escaping and numbers must
// give exactly what a JSON parser reads back.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <string>

#include "schema/json.hpp"
#include "testing/every_byte.hpp"

using namespace keygate;

TEST_CASE("append_json_string escapes what JSON requires and parses back", "[json]") {
  // Guards against: a client-chosen path or model name breaking (or forging fields in) a log line.
  const std::string tricky = std::string("a\"b\\c\nd\re\tf") + '\x01' + "g\x1f/\xc3\xa9" +
                             std::string(1, '\0') + "\",\"admin\":true";
  std::string line = "{\"v\":";
  append_json_string(line, tricky);
  line += '}';
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  CHECK(doc.MemberCount() == 1);
  CHECK(std::string(doc["v"].GetString(), doc["v"].GetStringLength()) == tricky);

  std::string plain;
  append_json_string(plain, "req_123");
  CHECK(plain == "\"req_123\"");
}

TEST_CASE("append_json_string escapes every byte at every position as byte by byte", "[json]") {
  // Guards against: the eight-bytes-at-a-time skip passing over a quote, a backslash or a control
  // in some lane (a forged log field), or a high byte borrowing into its neighbour's lane.
  auto reference = [](std::string_view text) {
    std::string out = "\"";
    for (unsigned char c : text) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20) {
        constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + "\"";
  };
  const int mismatches = keygate::testing::count_disagreements(20, [&](const std::string& text) {
    std::string out;
    append_json_string(out, text);
    return out == reference(text);
  });
  CHECK(mismatches == 0);
}

TEST_CASE("append_millis writes microseconds as milliseconds with three decimals", "[json]") {
  auto millis = [](int64_t us) {
    std::string s;
    append_millis(s, us);
    return s;
  };
  CHECK(millis(0) == "0.000");
  CHECK(millis(7) == "0.007");
  CHECK(millis(1234) == "1.234");
  CHECK(millis(12345678) == "12345.678");
  CHECK(millis(-1500) == "-1.500");
  std::string n;
  append_integer(n, -42);
  CHECK(n == "-42");
}

namespace {
// A text that outgrows every stack buffer the parser starts in: long strings (the string stack),
// many members and deep nesting (the value stack), and more values than the first pool chunk.
std::string big_request() {
  std::string text = R"({"model":"m","messages":[)";
  for (int i = 0; i < 300; ++i) {
    text += i ? "," : "";
    text += R"({"role":"user","content":")" + std::string(100 + i * 37, 'a' + i % 26) +
            R"(\n\u00e9\"","n":)" + std::to_string(i) + "}";
  }
  text += "],\"deep\":";
  for (int i = 0; i < 200; ++i) {
    text += "[";
  }
  text += "1";
  for (int i = 0; i < 200; ++i) {
    text += "]";
  }
  text += "}";
  return text;
}

std::string serialised(const rapidjson::Value& v) {
  return to_json(v);
}
}  // namespace

TEST_CASE("parse_json_value reads what Document::Parse reads, past its stack buffers", "[json]") {
  // Guards against: the parser's work stacks, moved into stack buffers, losing or corrupting
  // values once a request outgrows them (a long conversation).
  for (const std::string& text :
       {std::string(R"({"a":1,"b":[true,null,"x"],"c":{"d":-2.5}})"), big_request()}) {
    rapidjson::Document expected;
    expected.Parse(text.data(), text.size());
    REQUIRE_FALSE(expected.HasParseError());

    rapidjson::MemoryPoolAllocator<> pool(1024);
    rapidjson::Value root;
    auto result = parse_json_value(text, root, pool);  // the whole string, NUL-terminated
    REQUIRE_FALSE(result.IsError());
    CHECK(serialised(root) == serialised(expected));
    rapidjson::Value from_view;
    REQUIRE_FALSE(parse_json_value(std::string_view(text), from_view, pool).IsError());
    CHECK(serialised(from_view) == serialised(expected));

    const StackJson<> on_stack(text);
    REQUIRE_FALSE(on_stack.has_parse_error());
    CHECK(serialised(on_stack.value()) == serialised(expected));

    rapidjson::MemoryPoolAllocator<> request_pool(json_pool_size(text.size()));
    rapidjson::Document into(&request_pool);
    REQUIRE(parse_json_object_into(text, into).has_value());
    CHECK(serialised(into) == serialised(expected));
  }
}

TEST_CASE("parse errors keep Document::Parse's code and offset", "[json]") {
  // Guards against: a client's 400 naming another position than before, and a root that is not
  // a single value (trailing bytes) being accepted.
  const std::string big = big_request();
  for (const std::string& text :
       {std::string("{\"a\":"), std::string("{\"a\":1} x"), std::string("[1,2"),
        std::string("{\"a\":\"\\x\"}"), big.substr(0, big.size() - 1), big + "}"}) {
    INFO(text.substr(0, 40));
    rapidjson::Document expected;
    expected.Parse(text.data(), text.size());
    REQUIRE(expected.HasParseError());
    rapidjson::MemoryPoolAllocator<> pool(1024);
    for (bool view : {false, true}) {
      INFO((view ? "string_view" : "std::string"));
      rapidjson::Value root;
      auto result = view ? parse_json_value(std::string_view(text), root, pool)
                         : parse_json_value(text, root, pool);
      CHECK(result.Code() == expected.GetParseError());
      CHECK(result.Offset() == expected.GetErrorOffset());
      CHECK(root.IsNull());
    }

    const StackJson<64> small(text);
    CHECK(small.has_parse_error());

    rapidjson::MemoryPoolAllocator<> request_pool(json_pool_size(text.size()));
    rapidjson::Document into(&request_pool);
    auto refused = parse_json_object_into(text, into);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message == "Invalid JSON at offset " +
                                         std::to_string(expected.GetErrorOffset()) + ": " +
                                         rapidjson::GetParseError_En(expected.GetParseError()));
  }
  rapidjson::MemoryPoolAllocator<> pool(1024);
  // A NUL would end a NUL-terminated parse early: it is an error where it stands, and what
  // follows it is not silently ignored.
  const std::string with_nul("{\"a\":1}\0{", 9);
  rapidjson::Value root;
  auto at_nul = parse_json_value(with_nul, root, pool);
  CHECK(at_nul.IsError());
  CHECK(at_nul.Offset() == 7);
  CHECK(StackJson<>(with_nul).has_parse_error());
  rapidjson::Document not_object(&pool);
  auto array = parse_json_object_into("[1]", not_object);
  REQUIRE_FALSE(array.has_value());
  CHECK(array.error().message == "The JSON body must be an object.");
}

TEST_CASE("find_member_span finds a top-level member's value, of any type, exactly",
          "[json][member_span]") {
  // Guards against: an edit of the request text replacing the wrong bytes (a key, a nested
  // member of the same name, a value cut short or running into the next member).
  auto value_of = [](const std::string& text, std::string_view name) {
    const keygate::MemberSpan span = keygate::find_member_span(text, name);
    return span.found() ? text.substr(span.begin, span.end - span.begin) : std::string("<none>");
  };
  CHECK(value_of(R"({"model":"gpt-4o"})", "model") == R"("gpt-4o")");
  CHECK(value_of("\n{ \"model\"\t:\r\"gpt-4o\" ,\"x\":1}", "model") == R"("gpt-4o")");
  CHECK(value_of(R"({"model":"with \"escape\"","x":1})", "model") == R"("with \"escape\"")");
  CHECK(value_of(R"({"model":"back\\slash"})", "model") == R"("back\\slash")");
  CHECK(value_of(R"({"model":{"nested":"object"},"x":1})", "model") == R"({"nested":"object"})");
  CHECK(value_of(R"({"modelx":"no","model":"yes"})", "model") == R"("yes")");
  CHECK(value_of(R"({"model":"unterminated)", "model") == "<none>");
  CHECK(value_of("{\"model\":\"control\x01"
                 "char\"}",
                 "model") == "<none>");  // not valid JSON: the readers refuse it
  CHECK(value_of(R"( { "model" :  "a\"b" , "x":1 } )", "model") == R"("a\"b")");
  CHECK(value_of(R"({"messages":[{"model":"inner"}],"meta":{"model":2},"model":"outer"})",
                 "model") == R"("outer")");
  CHECK(value_of(R"({"mod\u0065l":"escaped key"})", "model") == R"("escaped key")");
  CHECK(value_of(R"({"model":"first","model":"second"})", "model") == R"("first")");
  CHECK(value_of(R"({"a":1,"n":-12.5e3,"b":2})", "n") == "-12.5e3");
  CHECK(value_of(R"({"t":true,"f":false,"z":null})", "f") == "false");
  CHECK(value_of(R"({"t":true,"f":false,"z":null})", "z") == "null");
  CHECK(value_of(R"({"o":{"a":[1,{"b":"}"}]},"p":0})", "o") == R"({"a":[1,{"b":"}"}]})");
  CHECK(value_of(R"({"arr":[ 1, [2], "]" ]  ,"p":0})", "arr") == R"([ 1, [2], "]" ])");
  CHECK(value_of(R"({"model":"x"})", "other") == "<none>");
  CHECK(value_of(R"({"messages":[]})", "model") == "<none>");
  CHECK(value_of(R"({"model":)", "model") == "<none>");
  CHECK(value_of(R"([{"model":"in an array"}])", "model") == "<none>");
  // A long conversation before the member: read through, found where it is.
  std::string big = R"({"messages":[)";
  for (int i = 0; i < 500; ++i) {
    big += std::string(i ? "," : "") + R"({"role":"user","content":"turn )" + std::to_string(i) +
           R"( with \"quotes\" and model"})";
  }
  big += R"(],"model" : "late"})";
  CHECK(value_of(big, "model") == R"("late")");
}

namespace {
// `depth` arrays, one inside the other, around `inner`.
std::string nested(int depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

// A SAX handler that counts the numbers it sees.
struct Counter : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Counter> {
  int values = 0;
  bool Uint(unsigned) {
    ++values;
    return true;
  }
};
}  // namespace

TEST_CASE("JSON nested deeper than kMaxJsonDepth is refused by every reader, not recursed into",
          "[json]") {
  // Guards against a body of a few MB of '[' overflowing the I/O thread's stack in RapidJSON's
  // recursive reader: it took the whole server down.
  const std::string at_limit = R"({"a":)" + nested(kMaxJsonDepth - 1) + "}";
  const std::string past_limit = R"({"a":)" + nested(kMaxJsonDepth) + "}";
  const std::string huge = R"({"a":)" + nested(2'000'000) + "}";

  CHECK_FALSE(nested_too_deep(at_limit));
  CHECK(nested_too_deep(past_limit));
  CHECK(nested_too_deep(huge));
  // Brackets inside strings, escaped quotes included, are text.
  const std::string in_string = R"({"a":"\")" + std::string(1000, '[') + R"("})";
  CHECK_FALSE(nested_too_deep(in_string));
  CHECK(parse_json_object(in_string).has_value());

  CHECK(parse_json_object(at_limit).has_value());
  for (const std::string* text : {&past_limit, &huge}) {
    auto refused = parse_json_object(*text);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().status == 400);
    CHECK(refused.error().code == "invalid_json");
    CHECK(refused.error().message.find("deeper than 256") != std::string::npos);

    rapidjson::Document doc;
    auto into = parse_json_object_into(*text, doc);
    REQUIRE_FALSE(into.has_value());
    CHECK(into.error().message.find("deeper than 256") != std::string::npos);

    rapidjson::MemoryPoolAllocator<> pool;
    rapidjson::Value value;
    CHECK(parse_json_value(*text, value, pool).IsError());

    Counter counter;
    CHECK(scan_json(*text, counter).IsError());

    rapidjson::Document bounded;
    CHECK_FALSE(parse_bounded(bounded, *text));
    CHECK(bounded.IsNull());
  }
  rapidjson::Document doc;
  auto into = parse_json_object_into(at_limit, doc);
  CHECK(into.has_value());
  Counter counter;
  CHECK_FALSE(scan_json(at_limit, counter).IsError());
  CHECK(counter.values == 1);
  rapidjson::Document bounded;
  CHECK(parse_bounded(bounded, at_limit));
  CHECK(bounded.IsObject());
  // Finding a member stops, rather than recursing, in a deep value before it.
  CHECK(find_member_span(R"({"a":)" + nested(2'000'000) + R"(,"model":"m"})", "model").count == 0);
}
