#pragma once
// Hears PostgreSQL NOTIFY on one channel, over a connection of its own, on a thread of its own.
// Several keygate instances sharing a database use it to drop their request-path caches the
// moment another instance (or the CLI) changes a token or a key, instead of when the cached
// entries' TTL runs out (hot_cache.hpp).
//
// `on_signal` runs on the listener's thread after every batch of notifications, and also after
// every (re)connection: while it was disconnected, notifications may have been missed, so the
// listener cannot tell that nothing changed. A lost connection is retried at once, then every
// second.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "schema/error.hpp"

struct pg_conn;

namespace keygate::pg {

class Listener {
 public:
  // `channel`: a plain identifier (letters, digits, _). Starts the thread and returns at once;
  // the first connection is made there (a server that is down is retried, not an error).
  static Result<std::unique_ptr<Listener>> start(std::string target, std::string channel,
                                                 std::function<void()> on_signal);
  ~Listener();  // stops the thread and closes the connection
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Whether it is listening now, and how many times it has connected (a reconnection after
  // the server dropped it counts again).
  bool connected() const { return connected_.load(); }
  int connections() const { return connections_.load(); }

 private:
  // A connection and its LISTEN must be done within this, as libpq's connect_timeout would have
  // it (which PQconnectPoll does not apply); then the next attempt starts.
  static constexpr std::chrono::seconds kConnectTimeout{10};

  Listener(std::string target, std::string channel, std::function<void()> on_signal);
  void run();
  bool connect();  // connects and LISTENs; false if either failed
  // Waits until the connection's socket is ready for `events`: false at the deadline or a stop.
  bool wait_for_socket(short events, std::chrono::steady_clock::time_point deadline);
  void listen_until_lost();              // returns when the connection is lost or stop is asked
  bool wait_for_stop(int milliseconds);  // true if stop was asked meanwhile

  std::string target_;
  std::string channel_;
  std::function<void()> on_signal_;
  pg_conn* conn_ = nullptr;
  int wake_[2] = {-1, -1};  // a pipe: the destructor writes a byte to end a poll() at once
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace keygate::pg
