#include "gateway/server.hpp"

#include "gateway/http_session.hpp"
#include "gateway/log.hpp"

namespace keygate::gateway {

// How long a request runs before its client is watched for a hang-up (gateway/client_watch.hpp):
// longer than nearly every proxied answer takes, far shorter than the calls worth cancelling.
constexpr auto kClientWatchDelay = std::chrono::milliseconds(20);

Server::Server(net::io_context& ioc, const ServerLimits& limits, const RouteTable& routes,
               Authenticator& auth, std::atomic<std::size_t>* requests_in_flight)
    : ioc_(ioc),
      limits_(limits),
      routes_(routes),
      auth_(auth),
      acceptor_(net::make_strand(ioc)),
      requests_in_flight_(requests_in_flight ? requests_in_flight : &own_requests_in_flight_),
      client_watch_(std::make_shared<ClientWatchTimer>(ioc, kClientWatchDelay)) {}

Server::~Server() = default;

Result<uint16_t> Server::listen(const std::string& host, uint16_t port) {
  error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    return fail(Error::invalid_request("Invalid listen address '" + host + "'."));
  }
  tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor_.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return fail(Error::unavailable("Cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                   ec.message()));
  }
  return acceptor_.local_endpoint().port();
}

void Server::start() {
  net::co_spawn(acceptor_.get_executor(), accept_loop(), net::detached);
}

awaitable<void> Server::accept_loop() {
  while (acceptor_.is_open()) {
    // Each connection gets its own strand: its handlers never run concurrently with each other.
    // With one I/O thread every handler already runs serially: a strand would only add a queue
    // and a lock per completion.
    net::any_io_executor executor = ioc_.get_executor();
    if (!single_threaded_) {
      executor = net::make_strand(ioc_);
    }
    auto [ec, socket] = co_await acceptor_.async_accept(executor, use_tuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
        break;
      }
      // EMFILE and friends: back off briefly instead of spinning.
      net::steady_timer timer(acceptor_.get_executor(), Millis(50));
      co_await timer.async_wait(use_tuple);
      continue;
    }
    if (open_connections_.load() >= limits_.max_connections) {
      // Over the cap: a clear answer, then close. Small write on a fresh socket; detached.
      auto sock = std::make_shared<tcp::socket>(std::move(socket));
      static const std::string kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: "
          "close\r\nContent-Length: 106\r\n\r\n"
          "{\"error\":{\"message\":\"Too many open connections.\",\"type\":\"server_error\","
          "\"param\":null,\"code\":\"overloaded\"}}\n";
      net::async_write(*sock, net::buffer(kBusy), [sock](error_code, std::size_t) {
        error_code ignored;
        sock->shutdown(tcp::socket::shutdown_both, ignored);
      });
      continue;
    }
    auto session = std::make_shared<HttpSession>(*this, std::move(socket));
    ++open_connections_;
    {
      std::lock_guard lock(sessions_mutex_);
      sessions_.emplace(session.get(), session);
    }
    net::co_spawn(session->executor(), session->run(), net::detached);
  }
}

void Server::session_ended(HttpSession* session) {
  std::lock_guard lock(sessions_mutex_);
  if (sessions_.erase(session) > 0) {
    --open_connections_;
  }
}

void Server::shutdown(std::function<void()> done) {
  net::post(acceptor_.get_executor(), [this, done = std::move(done)]() mutable {
    if (draining_.exchange(true)) {
      return;
    }
    error_code ignored;
    acceptor_.close(ignored);
    std::vector<std::shared_ptr<HttpSession>> live;
    {
      std::lock_guard lock(sessions_mutex_);
      for (auto& [ptr, weak] : sessions_) {
        if (auto s = weak.lock()) {
          live.push_back(std::move(s));
        }
      }
    }
    for (auto& s : live) {
      net::post(s->executor(), [s] { s->drain(); });
    }
    log_event("info", "draining", ",\"connections\":" + std::to_string(live.size()));
    net::co_spawn(acceptor_.get_executor(), drain_loop(std::move(done)), net::detached);
  });
}

awaitable<void> Server::drain_loop(std::function<void()> done) {
  auto deadline = std::chrono::steady_clock::now() + limits_.shutdown_grace;
  net::steady_timer timer(co_await net::this_coro::executor);
  while (open_connections_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(Millis(20));
    co_await timer.async_wait(use_tuple);
  }
  if (open_connections_.load() > 0) {
    log_event("warn", "grace period over; closing remaining connections",
              ",\"connections\":" + std::to_string(open_connections_.load()));
    std::vector<std::shared_ptr<HttpSession>> live;
    {
      std::lock_guard lock(sessions_mutex_);
      for (auto& [ptr, weak] : sessions_) {
        if (auto s = weak.lock()) {
          live.push_back(std::move(s));
        }
      }
    }
    for (auto& s : live) {
      net::post(s->executor(), [s] { s->force_close(); });
    }
    timer.expires_after(Millis(200));
    co_await timer.async_wait(use_tuple);
  }
  done();
}

}  // namespace keygate::gateway
