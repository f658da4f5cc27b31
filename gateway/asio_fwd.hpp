#pragma once
// Common Asio/Beast names for the gateway. Every async call uses `use_tuple`, so errors come back
// as values (no exceptions on the request path).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
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

inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace keygate::gateway
