#include "schema/time.hpp"

#include <chrono>
#include <cstdio>

namespace keygate {

namespace {

using std::chrono::days;
using std::chrono::sys_days;

Error bad_time(std::string_view text) {
  return Error::invalid_request("'" + std::string(text.substr(0, 64)) +
                                    "' is not a valid RFC 3339 time (e.g. 2026-11-21T10:00:00Z).",
                                {}, "invalid_time");
}

// Reads exactly `n` ASCII digits at `pos`; advances `pos`. False if any is not a digit.
bool read_digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) {
    return false;
  }
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool expect(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// Parses "YYYY-MM-DD" at `pos` into days since the epoch; validates the calendar date.
bool read_date(std::string_view s, size_t& pos, sys_days& out) {
  int y = 0, m = 0, d = 0;
  if (!read_digits(s, pos, 4, y) || !expect(s, pos, '-') || !read_digits(s, pos, 2, m) ||
      !expect(s, pos, '-') || !read_digits(s, pos, 2, d)) {
    return false;
  }
  std::chrono::year_month_day ymd{std::chrono::year{y},
                                  std::chrono::month{static_cast<unsigned>(m)},
                                  std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) {
    return false;
  }
  out = sys_days{ymd};
  return true;
}

}  // namespace

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
// Appends `value` as exactly `width` digits (zero-padded): snprintf cost more than the rest of
// writing a usage row's day.
void append_digits(std::string& out, unsigned value, int width) {
  char digits[10];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits, static_cast<std::size_t>(width));
}

void append_date(std::string& out, std::chrono::year_month_day ymd) {
  append_digits(out, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  out += '-';
  append_digits(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  append_digits(out, static_cast<unsigned>(ymd.day()), 2);
}
}  // namespace

std::string format_rfc3339(int64_t unix_seconds) {
  // floor, not truncation, so times before 1970 land on the right day.
  auto tp = std::chrono::sys_seconds{std::chrono::seconds{unix_seconds}};
  auto day = std::chrono::floor<days>(tp);
  std::chrono::hh_mm_ss hms{tp - day};
  std::string out;
  out.reserve(20);
  append_date(out, std::chrono::year_month_day{day});
  out += 'T';
  append_digits(out, static_cast<unsigned>(hms.hours().count()), 2);
  out += ':';
  append_digits(out, static_cast<unsigned>(hms.minutes().count()), 2);
  out += ':';
  append_digits(out, static_cast<unsigned>(hms.seconds().count()), 2);
  out += 'Z';
  return out;
}

std::string format_day(int64_t unix_seconds) {
  auto tp = std::chrono::sys_seconds{std::chrono::seconds{unix_seconds}};
  std::string out;
  append_date(out, std::chrono::year_month_day{std::chrono::floor<days>(tp)});
  return out;
}

Result<int64_t> parse_rfc3339(std::string_view text) {
  size_t pos = 0;
  sys_days date;
  if (!read_date(text, pos, date)) {
    return fail(bad_time(text));
  }
  if (!(expect(text, pos, 'T') || expect(text, pos, 't') || expect(text, pos, ' '))) {
    return fail(bad_time(text));
  }
  int hh = 0, mm = 0, ss = 0;
  if (!read_digits(text, pos, 2, hh) || !expect(text, pos, ':') || !read_digits(text, pos, 2, mm) ||
      !expect(text, pos, ':') || !read_digits(text, pos, 2, ss)) {
    return fail(bad_time(text));
  }
  // Leap second 60 is legal RFC 3339 but unix time has no slot for it; reject rather than guess.
  if (hh > 23 || mm > 59 || ss > 59) {
    return fail(bad_time(text));
  }
  if (expect(text, pos, '.')) {
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      ++pos;
    }
    if (pos == start) {
      return fail(bad_time(text));
    }
  }
  int offset_seconds = 0;
  if (expect(text, pos, 'Z') || expect(text, pos, 'z')) {
    // UTC
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '+' ? 1 : -1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(text, pos, 2, oh) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, om) || oh > 23 || om > 59) {
      return fail(bad_time(text));
    }
    offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    return fail(bad_time(text));
  }
  if (pos != text.size()) {
    return fail(bad_time(text));
  }
  int64_t secs = std::chrono::duration_cast<std::chrono::seconds>(date.time_since_epoch()).count();
  // Local time = UTC + offset, so UTC = local - offset.
  return secs + hh * 3600 + mm * 60 + ss - offset_seconds;
}

Result<int64_t> parse_date(std::string_view text) {
  if (text.size() == 10) {
    size_t pos = 0;
    sys_days date;
    if (!read_date(text, pos, date)) {
      return fail(Error::invalid_request(
          "'" + std::string(text) + "' is not a valid date (YYYY-MM-DD).", {}, "invalid_time"));
    }
    return std::chrono::duration_cast<std::chrono::seconds>(date.time_since_epoch()).count();
  }
  return parse_rfc3339(text);
}

}  // namespace keygate
