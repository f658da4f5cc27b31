#pragma once
// A timeout on a socket's reads and writes that costs a clock read to set.
//
// Beast's basic_stream arms a timer for every read and write and cancels it when the operation
// completes: a lock, a timer-heap update, often a timerfd syscall, and a cancelled handler to run,
// several times per request (callgrind: ~6% of a proxied request's instructions). Here setting
// the deadline only stores a time. The one timer sleeps until the earliest moment the deadline
// can pass; when it wakes to find the deadline pushed back (the connection kept working), it
// sleeps again until the new one. A connection busy with requests therefore wakes its timer about
// once per timeout period, not per operation. It is re-armed at once only when a deadline is
// moved earlier than the timer's (a keep-alive's long idle timeout, then a request header's
// short one).
//
// When the deadline passes, `on_expiry` runs on the executor given (the connection's own, so it
// never runs beside the connection's other handlers) and typically closes the socket: the
// pending operation then ends with an error, which outcome() reports as beast::error::timeout.

#include <chrono>
#include <functional>
#include <memory>

#include "gateway/asio_fwd.hpp"
#include "gateway/config.hpp"

namespace keygate::gateway {

class Deadline {
 public:
  Deadline(net::any_io_executor executor, std::function<void()> on_expiry);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void expires_after(Millis timeout);
  void expires_never();
  // The deadline passed and on_expiry ran. Cleared by the next expires_after().
  bool expired() const;
  // An operation's error as its caller should see it: a timeout once the deadline has passed.
  error_code outcome(const error_code& ec) const;
  // Moves the timer to `executor` (a pooled upstream connection taken by another strand), so
  // that on_expiry runs beside that strand's handlers. Pending waits are dropped.
  void rebind(const net::any_io_executor& executor);

 private:
  struct State;  // shared with the timer's handler, which may run after the Deadline is gone
  std::shared_ptr<State> state_;
};

}  // namespace keygate::gateway
