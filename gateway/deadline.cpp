#include "gateway/deadline.hpp"

namespace keygate::gateway {

namespace {

// The precise clock (a vDSO read, ~25 ns here). CLOCK_MONOTONIC_COARSE costs 5 ns, but it lags by
// more than its stated resolution (4.17 ms with a 4 ms tick on this machine, more while a VM's
// vCPU is descheduled), so a deadline set from it sometimes passed early.
using Clock = std::chrono::steady_clock;

}  // namespace

struct Deadline::State : std::enable_shared_from_this<State> {
  State(net::any_io_executor executor, std::function<void()> expiry)
      : timer(std::move(executor)), on_expiry(std::move(expiry)) {}

  net::steady_timer timer;
  std::function<void()> on_expiry;
  Clock::time_point deadline = Clock::time_point::max();
  Clock::time_point armed_for = Clock::time_point::max();  // when the pending wait ends; max: none
  bool expired = false;

  void arm(Clock::time_point at) {
    armed_for = at;
    timer.expires_at(at);  // drops a pending wait (its handler sees operation_aborted)
    timer.async_wait([weak = weak_from_this()](const error_code& ec) {
      if (ec) {
        return;  // re-armed or destroyed: `weak` may point at nothing
      }
      if (auto self = weak.lock()) {
        self->on_timer();
      }
    });
  }

  void on_timer() {
    armed_for = Clock::time_point::max();
    if (deadline == Clock::time_point::max()) {
      return;  // no operation is timed now; the next expires_after() arms again
    }
    if (Clock::now() < deadline) {
      arm(deadline);  // pushed back since the wait began
      return;
    }
    expired = true;
    deadline = Clock::time_point::max();
    on_expiry();
  }
};

Deadline::Deadline(net::any_io_executor executor, std::function<void()> on_expiry)
    : state_(std::make_shared<State>(std::move(executor), std::move(on_expiry))) {}

Deadline::~Deadline() = default;

void Deadline::expires_after(Millis timeout) {
  State& s = *state_;
  s.expired = false;
  s.deadline = Clock::now() + timeout;
  if (s.deadline < s.armed_for) {
    s.arm(s.deadline);  // the pending wait (if any) would wake too late
  }
}

void Deadline::expires_never() {
  state_->deadline = Clock::time_point::max();
}

bool Deadline::expired() const {
  return state_->expired;
}

error_code Deadline::outcome(const error_code& ec) const {
  if (ec && state_->expired) {
    return beast::error::timeout;
  }
  return ec;
}

void Deadline::rebind(const net::any_io_executor& executor) {
  if (state_->timer.get_executor() == executor) {
    return;
  }
  // Copied, not moved: the old timer's handler may be running on another thread right now.
  auto moved = std::make_shared<State>(executor, state_->on_expiry);
  moved->deadline = state_->deadline;
  moved->expired = state_->expired;
  state_ = std::move(moved);  // the old timer goes with the old state, its wait cancelled
  if (state_->deadline != Clock::time_point::max()) {
    state_->arm(state_->deadline);
  }
}

}  // namespace keygate::gateway
