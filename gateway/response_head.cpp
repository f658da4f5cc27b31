#include "gateway/response_head.hpp"

#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <charconv>

#include "gateway/header_field.hpp"

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

void ResponseHead::add(std::string_view name, std::string_view value) {
  if (!valid_field_name(name) || !valid_field_value(value)) {
    return;
  }
  // One growth and straight copies, not four appends each checking the capacity.
  const std::size_t at = text_.size();
  const std::size_t size = at + name.size() + value.size() + 4;
  // Returns `size`, not the size the callback is given: g++ 12's libstdc++ passes the new
  // capacity there when the string grows.
  text_.resize_and_overwrite(size, [&](char* p, std::size_t) {
    char* out = std::copy(name.begin(), name.end(), p + at);
    *out++ = ':';
    *out++ = ' ';
    out = std::copy(value.begin(), value.end(), out);
    *out++ = '\r';
    *out = '\n';
    return size;
  });
}

void ResponseHead::add_content_length(std::size_t length) {
  // Zeroed only for g++ 12, which with the profile-guided build's inlining cannot see that
  // valid_field_value reads no byte past what to_chars wrote (-Wmaybe-uninitialized).
  char digits[24] = {};
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
