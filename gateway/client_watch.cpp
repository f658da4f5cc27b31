#include "gateway/client_watch.hpp"

#include <boost/asio/steady_timer.hpp>

#include <mutex>

namespace keygate::gateway {

struct ClientWatchTimer::State : std::enable_shared_from_this<State> {
  State(net::io_context& ioc, Clock::duration d) : timer(ioc), delay(d) {}

  std::mutex mutex;
  net::steady_timer timer;  // waited on and re-armed only under `mutex`
  const Clock::duration delay;
  Entry* head = nullptr;  // oldest first: entries are added in the order their requests start
  Entry* tail = nullptr;
  bool ticking = false;

  void unlink(Entry& e) {
    (e.prev ? e.prev->next : head) = e.next;
    (e.next ? e.next->prev : tail) = e.prev;
    e.prev = e.next = nullptr;
    e.listed = false;
  }

  // Under `mutex`. Wakes when the oldest entry falls due, but no sooner than a quarter of the
  // delay from now: under load the oldest entry changes all the time (requests end), and the
  // timer is meant to wake a few times per delay, not per request.
  void arm(Clock::time_point now) {
    ticking = true;
    timer.expires_at(std::max(head->since + delay, now + delay / 4));
    timer.async_wait([self = shared_from_this()](const error_code& ec) { self->tick(ec); });
  }

  void tick(const error_code& ec) {
    std::lock_guard lock(mutex);
    ticking = false;
    if (ec == net::error::operation_aborted && head == nullptr) {
      return;  // cancelled at destruction
    }
    const auto now = Clock::now();
    while (head != nullptr && head->since + delay <= now) {
      Entry& due = *head;
      unlink(due);
      if (due.on_due) {
        due.on_due(due.request);
      }
    }
    if (head != nullptr) {
      arm(now);
    }
  }
};

ClientWatchTimer::ClientWatchTimer(net::io_context& ioc, Clock::duration delay)
    : state_(std::make_shared<State>(ioc, delay)) {}

ClientWatchTimer::~ClientWatchTimer() {
  std::lock_guard lock(state_->mutex);
  while (state_->head != nullptr) {
    state_->unlink(*state_->head);
  }
  state_->timer.cancel();
}

void ClientWatchTimer::add(Entry& entry, Clock::time_point since, uint64_t request) {
  std::lock_guard lock(state_->mutex);
  if (entry.listed) {
    state_->unlink(entry);
  }
  entry.since = since;
  entry.request = request;
  entry.listed = true;
  entry.prev = state_->tail;
  (state_->tail ? state_->tail->next : state_->head) = &entry;
  state_->tail = &entry;
  if (!state_->ticking) {
    state_->arm(Clock::now());
  }
}

void ClientWatchTimer::remove(Entry& entry) {
  std::lock_guard lock(state_->mutex);
  if (entry.listed) {
    state_->unlink(entry);
  }
}

ClientWatchTimer::Clock::duration ClientWatchTimer::delay() const {
  return state_->delay;
}

}  // namespace keygate::gateway
