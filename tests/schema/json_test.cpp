// The hand-written JSON pieces of per-request lines (the access log): escaping and numbers must
// give exactly what a JSON parser reads back.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "schema/json.hpp"

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
