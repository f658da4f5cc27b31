#include "router/circuit_breaker.hpp"

namespace keygate::router {

std::string_view to_string(CircuitState state) {
  switch (state) {
    case CircuitState::closed:
      return "closed";
    case CircuitState::open:
      return "open";
    case CircuitState::half_open:
      return "half_open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options,
                               std::function<Clock::time_point()> clock)
    : options_(options), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] { return Clock::now(); };
  }
}

CircuitBreaker::Entry& CircuitBreaker::entry(std::string_view provider) {
  auto it = entries_.find(provider);
  if (it == entries_.end()) {
    it = entries_.emplace(std::string(provider), Entry{}).first;
  }
  return it->second;
}

CircuitState CircuitBreaker::state_locked(const Entry& e) const {
  if (!e.open) {
    return CircuitState::closed;
  }
  return clock_() - e.opened_at >= options_.open_for ? CircuitState::half_open : CircuitState::open;
}

bool CircuitBreaker::allow(std::string_view provider) {
  std::lock_guard lock(mutex_);
  auto& e = entry(provider);
  switch (state_locked(e)) {
    case CircuitState::closed:
      return true;
    case CircuitState::open:
      return false;
    case CircuitState::half_open:
      if (e.probe_in_flight) {
        return false;
      }
      e.probe_in_flight = true;
      return true;
  }
  return true;
}

void CircuitBreaker::record_success(std::string_view provider) {
  std::lock_guard lock(mutex_);
  auto& e = entry(provider);
  e = Entry{};
}

void CircuitBreaker::record_failure(std::string_view provider) {
  std::lock_guard lock(mutex_);
  auto& e = entry(provider);
  const bool probing = e.open;  // a failure while open/half-open re-opens for a full period
  e.probe_in_flight = false;
  ++e.consecutive_failures;
  if (probing || e.consecutive_failures >= options_.failure_threshold) {
    e.open = true;
    e.opened_at = clock_();
  }
}

void CircuitBreaker::release_probe(std::string_view provider) {
  std::lock_guard lock(mutex_);
  entry(provider).probe_in_flight = false;
}

CircuitState CircuitBreaker::state(std::string_view provider) {
  std::lock_guard lock(mutex_);
  return state_locked(entry(provider));
}

}  // namespace keygate::router
