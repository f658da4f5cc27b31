#include "gateway/response_head.hpp"

#include <boost/beast/http/status.hpp>

#include <array>
#include <charconv>

namespace keygate::gateway {

ResponseHead::ResponseHead(unsigned http_version, unsigned status) {
  text_.reserve(256);
  text_ += http_version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, status);
  text_.append(digits, end);
  text_ += ' ';
  auto reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  text_.append(reason.data(), reason.size());
  text_ += "\r\n";
}

namespace {

// What each byte may be in a header field, looked up once per byte: the check runs for every
// field of every response, and a per-byte test plus a find_first_of per name cost ~600
// instructions a field (callgrind).
constexpr unsigned char kNotInValue = 1;  // controls but tab: CR or LF would split the field
constexpr unsigned char kNotInName = 2;   // those, and the separator and whitespace

constexpr std::array<unsigned char, 256> kFieldBytes = [] {
  std::array<unsigned char, 256> table{};
  for (unsigned c = 0; c < 0x20; ++c) {
    table[c] = c == '\t' ? kNotInName : kNotInValue | kNotInName;
  }
  table[':'] = kNotInName;
  table[' '] = kNotInName;
  return table;
}();

bool has_any(std::string_view text, unsigned char what) {
  unsigned char found = 0;
  for (char c : text) {
    found |= kFieldBytes[static_cast<unsigned char>(c)];
  }
  return (found & what) != 0;
}

}  // namespace

void ResponseHead::add(std::string_view name, std::string_view value) {
  if (has_any(name, kNotInName) || has_any(value, kNotInValue)) {
    return;
  }
  text_ += name;
  text_ += ": ";
  text_ += value;
  text_ += "\r\n";
}

void ResponseHead::add_content_length(std::size_t length) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, length);
  add("Content-Length", std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

std::string ResponseHead::finish() {
  text_ += "\r\n";
  return std::move(text_);
}

std::string_view chunk_size_line(std::size_t size, char (&storage)[24]) {
  auto [end, ec] = std::to_chars(storage, storage + sizeof storage - 2, size, 16);
  *end++ = '\r';
  *end++ = '\n';
  return {storage, static_cast<std::size_t>(end - storage)};
}

}  // namespace keygate::gateway
