#pragma once
// Parses an upstream response without storing or copying it: the status code, and the body one
// piece at a time as a view into the connection's read buffer.
//
// Why not Beast's response_parser: it stores every header field (an allocation each, held for a
// whole stream) and copies the body into a buffer of its own (4 KiB per open stream). keygate
// reads no upstream header field, and relays (or appends) each body piece before it reads again.

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <cstdint>
#include <string_view>
#include <utility>

namespace keygate::gateway {

class UpstreamParser final : public boost::beast::http::basic_parser<false> {
 public:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;

  int status() const { return status_; }
  // The body piece the last put() reached, or empty. It points into the bytes given to put(), so
  // it is valid until the buffer they are in is read into again.
  std::string_view take_piece() { return std::exchange(piece_, {}); }

 private:
  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}  // a response parser: never called
  void on_response_impl(int code, string_view, int, error_code&) override { status_ = code; }
  void on_field_impl(boost::beast::http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
    return take(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  // One piece per put(): a second one waits (need_buffer, as Beast's buffer_body reports a full
  // buffer) until the caller has taken the first, so a piece is always one contiguous view.
  std::size_t take(string_view body, error_code& ec) {
    if (!piece_.empty()) {
      ec = boost::beast::http::error::need_buffer;
      return 0;
    }
    piece_ = std::string_view(body.data(), body.size());
    return body.size();
  }

  int status_ = 0;
  std::string_view piece_;
};

}  // namespace keygate::gateway
