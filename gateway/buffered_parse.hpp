#pragma once
// What Beast's composed HTTP reads do, without their trip through the scheduler: Beast's
// async_read and async_read_header complete through a post even when every byte they need was
// already read, which it usually was (a request or a response header arrives in one segment). The
// client session and the upstream connection both parse in place with these, and read only for
// what is missing.

#include <algorithm>
#include <cstddef>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

namespace keygate::gateway {

// Feeds `parser` what `buffer` holds (and consumes it) until the parser has the header, or with
// `header_only` false the whole message. No error: it has. need_more: read more, then call again.
// Anything else: the message is malformed or over a limit.
template <bool isRequest>
boost::system::error_code feed_parser(boost::beast::http::basic_parser<isRequest>& parser,
                                      boost::beast::flat_buffer& buffer, bool header_only) {
  for (;;) {
    if (header_only ? parser.is_header_done() : parser.is_done()) {
      return {};
    }
    if (buffer.size() == 0) {
      return boost::beast::http::error::need_more;
    }
    boost::system::error_code ec;
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec) {
      return ec;  // need_more included: the rest of the header, or body, is not here yet
    }
    if (used == 0) {
      return boost::beast::http::error::need_more;
    }
  }
}

// The size of the next read into `buffer`, as Beast sizes its reads: what the buffer has room
// for, at least 512 bytes, at most 64 KiB.
inline std::size_t next_read_size(const boost::beast::flat_buffer& buffer) {
  const std::size_t room = buffer.capacity() - buffer.size();
  return std::min<std::size_t>(std::max<std::size_t>(512, room), 65536);
}

// How much an upstream connection's next read asks for. A read that got all it asked for left
// more in the socket: the next asks for four times as much (up to 64 KiB), so a burst (a long
// answer, a fast model's events) comes in a few reads rather than in 512-byte ones, each a trip
// through the scheduler and, for a stream, a write to the client. A short read drained the
// socket: the next will likely wait (for a stream, as long as the model pauses) and holds its
// buffer all that while, so it asks for little. The first read of a response asks for enough
// for a provider's header and a common answer: 16 KiB holds a few paragraphs of JSON, or a
// burst of stream events, in one read and so one write to the client (4 KiB took two of each for
// a 20-event burst: 4 syscalls of 7 per stream). The buffer a kept-alive connection keeps
// between responses is this size.
class AdaptiveReadSize {
 public:
  static constexpr std::size_t kFirst = 16384;
  static constexpr std::size_t kWaiting = 512;
  static constexpr std::size_t kMax = 65536;

  std::size_t next() const { return next_; }
  void completed(std::size_t asked, std::size_t got) {
    next_ = got >= asked ? std::min(asked * 4, kMax) : kWaiting;
  }
  void restart() { next_ = kFirst; }  // a new response on a kept-alive connection

 private:
  std::size_t next_ = kFirst;
};

}  // namespace keygate::gateway
