#pragma once
// A circuit breaker per provider, shared by all requests of one gateway: after `failure_threshold`
// consecutive failures a provider's circuit opens and requests skip it (to their next fallback)
// for `open_for`; then it is half-open: one request may probe it, and its outcome closes the
// circuit or opens it again. Thread-safe (a mutex held only for map updates).

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace keygate::router {

enum class CircuitState { closed, open, half_open };
std::string_view to_string(CircuitState state);

struct CircuitBreakerOptions {
  int failure_threshold = 5;
  std::chrono::milliseconds open_for{30'000};
};

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CircuitBreaker(CircuitBreakerOptions options = {},
                          std::function<Clock::time_point()> clock = {});

  // Whether a request may go to `provider` now. In half-open state only the first caller gets
  // true (the probe); the others are refused until the probe reports.
  bool allow(std::string_view provider);
  void record_success(std::string_view provider);
  void record_failure(std::string_view provider);
  // A probe that ended without a verdict (client went away): let the next request probe.
  void release_probe(std::string_view provider);
  CircuitState state(std::string_view provider);

 private:
  struct Entry {
    int consecutive_failures = 0;
    bool open = false;
    Clock::time_point opened_at{};
    bool probe_in_flight = false;
  };
  CircuitState state_locked(const Entry& e) const;
  Entry& entry(std::string_view provider);

  CircuitBreakerOptions options_;
  std::function<Clock::time_point()> clock_;
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace keygate::router
