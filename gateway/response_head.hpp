#pragma once
// The status line and header fields of a response, written straight into one string that goes
// out in the same write as the body (or the first stream bytes). Beast's serializer walks a chain
// of buffer views per write; keygate answers every request with a handful of fields it knows, and
// appending them here is one string append per field.

#include <cstddef>
#include <string>
#include <string_view>

namespace keygate::gateway {

class ResponseHead {
 public:
  ResponseHead(unsigned http_version, unsigned status);

  // A value with CR, LF or NUL in it (a model name echoed from a request, say) is left out whole:
  // a field must never be split in two, and a half-written value would mislead.
  void add(std::string_view name, std::string_view value);
  void add_content_length(std::size_t length);
  // Ends the head with its blank line and hands the text over.
  std::string finish();

 private:
  std::string text_;
};

// The framing of one chunk of a chunked body: its size in hex and CRLF. The data and a CRLF
// follow it on the wire.
std::string_view chunk_size_line(std::size_t size, char (&storage)[24]);

}  // namespace keygate::gateway
