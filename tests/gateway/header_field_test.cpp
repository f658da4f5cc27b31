// The header-field checks that guard every head keygate writes (gateway/header_field.hpp): the
// word-at-a-time value check must say exactly what a byte-by-byte check says.

#include <catch2/catch.hpp>

#include <string>

#include "gateway/header_field.hpp"
#include "testing/every_byte.hpp"

using keygate::gateway::valid_field_name;
using keygate::gateway::valid_field_value;

namespace {

bool value_byte(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

bool value_by_bytes(const std::string& value) {
  for (unsigned char c : value) {
    if (!value_byte(c)) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("every byte at every position of a value is judged as byte by byte", "[header_field]") {
  // Guards against: the 8-byte test missing a control (a CR or LF splits the head) in some lane,
  // or refusing a valid byte (obs-text, a tab) that a real value carries.
  const int mismatches = keygate::testing::count_disagreements(24, [](const std::string& value) {
    return valid_field_value(value) == value_by_bytes(value);
  });
  CHECK(mismatches == 0);
  CHECK(valid_field_value(""));
  CHECK(valid_field_value("Bearer sk-0123456789abcdef0123456789abcdef"));
  CHECK_FALSE(valid_field_value("Bearer sk-0123456789abcdef0123456789abcdef\n"));
  CHECK_FALSE(valid_field_value("sk-0123456789abcdef\r\nX-Injected: 1"));
}

TEST_CASE("a name is a token", "[header_field]") {
  CHECK(valid_field_name("Content-Type"));
  CHECK(valid_field_name("x-keygate-overhead-ms"));
  CHECK_FALSE(valid_field_name(""));
  CHECK_FALSE(valid_field_name("bad name"));
  CHECK_FALSE(valid_field_name("x:"));
  CHECK_FALSE(valid_field_name("x\r\ny"));
}
