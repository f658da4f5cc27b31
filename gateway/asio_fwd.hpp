#pragma once
// Common Asio/Beast names for the gateway. Every async call uses `use_tuple`, so errors come back
// as values (no exceptions on the request path).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace keygate::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

template <class T = void>
using awaitable = net::awaitable<T>;

// Deferred rather than use_awaitable: Asio 1.26 awaits a deferred operation directly, suspending
// the coroutine and resuming it from the completion handler. use_awaitable runs each operation's
// initiation in a coroutine frame of its own (callgrind: ~300 instructions more per request,
// and a frame more under every pending read).
inline constexpr auto use_tuple = net::as_tuple(net::deferred);
// For a function that returns the operation as an awaitable without being a coroutine itself.
inline constexpr auto use_tuple_awaitable = net::as_tuple(net::use_awaitable);

}  // namespace keygate::gateway
