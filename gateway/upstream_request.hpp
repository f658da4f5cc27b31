#pragma once
// A request to an upstream as it goes on the wire: the request line and header fields written
// straight into one string of wiping memory (the fields hold the provider key), and the body.
//
// It replaces a Beast message whose fields cost an allocation and a tree insert each, plus
// Beast's keep-alive and payload bookkeeping, and were then copied into this very shape for the
// write anyway (callgrind: ~3k instructions a request on the I/O thread).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/wiping_allocator.hpp"

namespace keygate::gateway {

using WipingString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

class UpstreamRequestMessage {
 public:
  // `method` and `target` as on the request line ("POST", "/v1/chat/completions"); HTTP/1.1.
  UpstreamRequestMessage(std::string_view method, std::string_view target);

  // Adds a field unless one of that name (any case) is there already: the first one set wins, so
  // a provider's own fields go in before keygate's defaults. False, and nothing added, when the
  // name or value holds a byte that would split the head (CR, LF, another control) or the name
  // a separator, or when 16 fields are there already: a field is never written in part.
  bool set(std::string_view name, std::string_view value);
  // The same for a value in two parts ("Bearer " and the key), so that the key goes from its
  // wiping buffer straight into this one.
  bool set(std::string_view name, std::string_view prefix, std::string_view value);
  bool has(std::string_view name) const;

  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

  // Adds Host and Content-Length (but for a GET or HEAD without a body) and the blank line,
  // once; the head is complete after it.
  void finish(std::string_view host);
  const WipingString& head() const { return head_; }

 private:
  void append(std::string_view name, std::string_view prefix, std::string_view value);

  WipingString head_;
  std::string body_;
  // Where each field's name is in head_, for has(): a request has a handful of fields, and
  // comparing names of the same length is cheaper than scanning the head for line ends. 16 is
  // more than any request keygate sends has; a 17th field is refused.
  struct NameAt {
    uint32_t offset;
    uint32_t size;
  };
  std::array<NameAt, 16> names_{};
  std::size_t name_count_ = 0;
  bool bodiless_method_ = false;  // GET or HEAD: no Content-Length when there is no body
  bool finished_ = false;
};

}  // namespace keygate::gateway
