#include <catch2/catch.hpp>

#include "schema/time.hpp"

using namespace keygate;

TEST_CASE("format_rfc3339 renders UTC with Z", "[time]") {
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(format_rfc3339(1795255200) == "2026-11-21T10:00:00Z");
  CHECK(format_rfc3339(951782400) == "2000-02-29T00:00:00Z");  // leap day
  CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59Z");
  CHECK(format_day(1795255200) == "2026-11-21");
}

TEST_CASE("parse_rfc3339 accepts Z, offsets and fractions", "[time]") {
  CHECK(parse_rfc3339("2026-11-21T10:00:00Z").value() == 1795255200);
  CHECK(parse_rfc3339("2026-11-21t10:00:00z").value() == 1795255200);
  CHECK(parse_rfc3339("2026-11-21 10:00:00Z").value() == 1795255200);
  CHECK(parse_rfc3339("2026-11-21T12:30:00+02:30").value() == 1795255200);
  CHECK(parse_rfc3339("2026-11-21T05:00:00-05:00").value() == 1795255200);
  CHECK(parse_rfc3339("2026-11-21T10:00:00.999999Z").value() == 1795255200);
  CHECK(parse_rfc3339("2000-02-29T00:00:00Z").value() == 951782400);
  for (int64_t t : {int64_t{0}, int64_t{1795255200}, int64_t{4102444799}}) {
    CHECK(parse_rfc3339(format_rfc3339(t)).value() == t);
  }
}

TEST_CASE("parse_rfc3339 rejects bad input with 400", "[time]") {
  for (const char* bad :
       {"", "2026-11-21", "2026-11-21T10:00:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-11-21T24:00:00Z", "2026-11-21T10:60:00Z", "2026-11-21T10:00:60Z",
        "2026-11-21T10:00:00.Z", "2026-11-21T10:00:00+0200", "2026-11-21T10:00:00Zjunk",
        "26-11-21T10:00:00Z", "2026-11-21T10:00:00 Z", "2025-02-29T00:00:00Z"}) {
    INFO(bad);
    auto r = parse_rfc3339(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
  }
}

TEST_CASE("parse_date takes a day or a timestamp", "[time]") {
  CHECK(parse_date("2026-11-21").value() == 1795219200);
  CHECK(parse_date("2026-11-21T10:00:00Z").value() == 1795255200);
  CHECK(parse_date("2026-11-31").error().status == 400);
  CHECK(parse_date("yesterday").error().status == 400);
}

TEST_CASE("now is plausible", "[time]") {
  CHECK(now_unix() > 1'700'000'000);
  CHECK(now_unix_ms() / 1000 - now_unix() <= 1);
}
