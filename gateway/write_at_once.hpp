#pragma once
// A write that does not wait: one sendmsg on a socket in non-blocking mode. Nearly every response
// and upstream request fits in the socket's send buffer; written through async_write it would
// still complete through Asio's scheduler (a post and a resumption, ~1.8k instructions). Only
// what the socket does not take goes through async_write (its callers' write paths).

#include <cstddef>
#include <optional>

#include "gateway/asio_fwd.hpp"

namespace keygate::gateway {

// Writes what `socket` (non-blocking) takes of `buffers` now; `written` counts it. The outcome
// when the write is over (no error: all of it went), nothing when the rest must be waited for.
template <class Socket, class Buffers>
std::optional<error_code> write_at_once(Socket& socket, const Buffers& buffers,
                                        std::size_t& written) {
  error_code ec;
  written = socket.write_some(buffers, ec);
  if (ec == net::error::would_block || ec == net::error::try_again) {
    written = 0;
    return std::nullopt;
  }
  if (ec) {
    return ec;
  }
  if (written < net::buffer_size(buffers)) {
    return std::nullopt;
  }
  return error_code{};
}

}  // namespace keygate::gateway
