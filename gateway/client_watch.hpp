#pragma once
// When to start watching a request's client for a hang-up: once the request has run for a
// while, not at once.
//
// The watch (HttpSession::watch_client) costs a syscall: a one-byte peek that finds nothing, or,
// for an async_wait, the epoll_ctl Asio re-arms the socket with. That is one of about five
// syscalls a proxied request makes, for a watch nearly every request ends before it could
// matter: what it is for is the long upstream call (a completion that takes seconds, a stream)
// whose client gave up, so that the upstream work is cancelled. Requests register here when
// their handler starts and leave when it ends; one timer, ticking only while some request is
// registered, hands the ones still running after `delay` to their sessions to watch. A client
// that hangs up is noticed at most `delay` plus a tick later than before.
//
// Thread-safe: sessions on any I/O thread add and remove; the timer runs on the io_context.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "gateway/asio_fwd.hpp"

namespace keygate::gateway {

class ClientWatchTimer {
 public:
  using Clock = std::chrono::steady_clock;

  // A registration, owned by its session (one per connection, reused request after request):
  // registering allocates nothing.
  struct Entry {
    // Runs on the timer's thread, under its lock, once the entry is due: it may only hand over
    // to the session's own executor (and must not call back into the timer).
    std::function<void(uint64_t request)> on_due;

   private:
    friend class ClientWatchTimer;
    Entry* prev = nullptr;
    Entry* next = nullptr;
    Clock::time_point since;
    uint64_t request = 0;  // the session's request number, passed back to on_due
    bool listed = false;
  };

  ClientWatchTimer(net::io_context& ioc, Clock::duration delay);
  ~ClientWatchTimer();
  ClientWatchTimer(const ClientWatchTimer&) = delete;
  ClientWatchTimer& operator=(const ClientWatchTimer&) = delete;

  // `since`: when the request started. An entry already registered is moved to its new place.
  void add(Entry& entry, Clock::time_point since, uint64_t request);
  // Safe to call for an entry not registered (already due, or never added).
  void remove(Entry& entry);

  Clock::duration delay() const;

 private:
  struct State;  // shared with the timer's handler, which may run after this is gone
  std::shared_ptr<State> state_;
};

}  // namespace keygate::gateway
