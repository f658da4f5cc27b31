#pragma once
// The HTTP/1.1 server: an acceptor, a coroutine per connection on its own strand, keep-alive,
// limits with clear answers, and a graceful drain on shutdown.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "gateway/asio_fwd.hpp"
#include "gateway/client_watch.hpp"
#include "gateway/config.hpp"
#include "gateway/routes.hpp"

namespace keygate::gateway {

// Turns a bearer token into a caller. Implemented over the keystore (gateway/app.cpp); it runs the
// lookup off the I/O threads.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The answer when it is known without I/O (a recently verified token), else nullopt: then
  // authenticate() looks it up. A synchronous first step because nearly every request is
  // answered here, and a coroutine layer per request costs a frame and a resumption.
  virtual std::optional<Result<Caller>> authenticate_cached(std::string_view /*token*/) {
    return std::nullopt;
  }
  virtual awaitable<Result<Caller>> authenticate(std::string_view token) = 0;
};

class HttpSession;

class Server {
 public:
  // `requests_in_flight`: where to count the requests being handled (the usage writer paces
  // itself by it, gateway/app.cpp); null: the server's own count.
  Server(net::io_context& ioc, const ServerLimits& limits, const RouteTable& routes,
         Authenticator& auth, std::atomic<std::size_t>* requests_in_flight = nullptr);
  ~Server();

  // Binds and listens; returns the bound port (port 0 picks a free one).
  Result<uint16_t> listen(const std::string& host, uint16_t port);
  void start();  // begins accepting
  // Set before start() when the io_context runs on exactly one thread.
  void set_single_threaded(bool single) { single_threaded_ = single; }
  // Stops accepting, closes idle connections, lets in-flight requests and streams finish within
  // the grace period, then closes the rest and calls `done` (on an I/O thread).
  void shutdown(std::function<void()> done);

  std::size_t open_connections() const { return open_connections_.load(); }
  std::size_t active_streams() const { return active_streams_.load(); }
  // Requests whose header was read and accepted (not refused while reading it: 413, 431, 400),
  // from then until their answer is done, waits on the provider and streams included.
  std::size_t requests_in_flight() const { return requests_in_flight_->load(); }
  bool draining() const { return draining_.load(); }

  // For sessions.
  const ServerLimits& limits() const { return limits_; }
  const RouteTable& routes() const { return routes_; }
  Authenticator& authenticator() { return auth_; }
  // Shared: a session may outlive the server (its frame is destroyed with the io_context).
  const std::shared_ptr<ClientWatchTimer>& client_watch() const { return client_watch_; }
  void session_ended(HttpSession* session);
  std::atomic<std::size_t>& active_streams_counter() { return active_streams_; }
  std::atomic<std::size_t>& requests_in_flight_counter() { return *requests_in_flight_; }

 private:
  awaitable<void> accept_loop();
  awaitable<void> drain_loop(std::function<void()> done);

  net::io_context& ioc_;
  ServerLimits limits_;
  const RouteTable& routes_;
  Authenticator& auth_;
  tcp::acceptor acceptor_;
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<std::size_t> active_streams_{0};
  std::atomic<std::size_t> own_requests_in_flight_{0};
  std::atomic<std::size_t>* requests_in_flight_;
  std::atomic<bool> draining_{false};
  bool single_threaded_ = false;
  std::shared_ptr<ClientWatchTimer> client_watch_;
  std::mutex sessions_mutex_;
  std::unordered_map<HttpSession*, std::weak_ptr<HttpSession>> sessions_;
};

}  // namespace keygate::gateway
