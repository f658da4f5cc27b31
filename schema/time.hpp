#pragma once
// Wall-clock time as keygate stores it: unix seconds (INTEGER columns) and RFC 3339 text at the
// edges (JSON, CLI). Everything is UTC; offsets in input are folded into the unix time.

#include <cstdint>
#include <string>
#include <string_view>

#include "schema/error.hpp"

namespace keygate {

int64_t now_unix();
int64_t now_unix_ms();

// "2026-11-21T10:00:00Z" (always UTC, no fraction).
std::string format_rfc3339(int64_t unix_seconds);

// "YYYY-MM-DD" of the UTC day that holds `unix_seconds` (the usage table's `day` column).
std::string format_day(int64_t unix_seconds);

// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"; 't' or ' ' may replace 'T', 'z' may
// replace 'Z'. The fraction is truncated. Bad input is a 400 invalid_request.
Result<int64_t> parse_rfc3339(std::string_view text);

// "YYYY-MM-DD" (midnight UTC) or a full RFC 3339 timestamp.
Result<int64_t> parse_date(std::string_view text);

}  // namespace keygate
