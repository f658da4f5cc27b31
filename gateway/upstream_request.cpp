#include "gateway/upstream_request.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "gateway/header_field.hpp"

namespace keygate::gateway {

UpstreamRequestMessage::UpstreamRequestMessage(std::string_view method, std::string_view target)
    : bodiless_method_(method == "GET" || method == "HEAD") {
  head_.reserve(512);  // the key's copy never moves: no grown-out buffer to wipe on the way
  head_.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
}

bool UpstreamRequestMessage::has(std::string_view name) const {
  for (std::size_t i = 0; i < name_count_; ++i) {
    if (names_[i].size == name.size() &&
        boost::beast::iequals(std::string_view(head_.data() + names_[i].offset, name.size()),
                              name)) {
      return true;
    }
  }
  return false;
}

void UpstreamRequestMessage::append(std::string_view name, std::string_view prefix,
                                    std::string_view value) {
  const std::size_t at = head_.size();
  const std::size_t size = name.size() + 2 + prefix.size() + value.size() + 2;
  // One growth and straight copies (resize_and_overwrite writes no zeros first). Returns the
  // size asked for, not the callback's second argument: g++ 12's libstdc++ passes the new
  // capacity there when the string grows, which left bytes past the field in the head.
  head_.resize_and_overwrite(at + size, [&](char* p, std::size_t) {
    p += at;
    p = std::copy(name.begin(), name.end(), p);
    *p++ = ':';
    *p++ = ' ';
    p = std::copy(prefix.begin(), prefix.end(), p);
    p = std::copy(value.begin(), value.end(), p);
    *p++ = '\r';
    *p++ = '\n';
    return at + size;
  });
  names_[name_count_++] = {static_cast<uint32_t>(at), static_cast<uint32_t>(name.size())};
}

bool UpstreamRequestMessage::set(std::string_view name, std::string_view value) {
  return set(name, {}, value);
}

bool UpstreamRequestMessage::set(std::string_view name, std::string_view prefix,
                                 std::string_view value) {
  if (finished_ || name_count_ == names_.size() || !valid_field_name(name) ||
      !valid_field_value(prefix) || !valid_field_value(value) || has(name)) {
    return false;
  }
  append(name, prefix, value);
  return true;
}

void UpstreamRequestMessage::finish(std::string_view host) {
  if (finished_) {
    return;
  }
  set("Host", host);
  if (!body_.empty() || !bodiless_method_) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, body_.size());
    set("Content-Length", std::string_view(digits, static_cast<std::size_t>(end - digits)));
  }
  head_.append("\r\n");
  finished_ = true;
}

}  // namespace keygate::gateway
