#pragma once
// When a failed attempt may be tried again, on the same target or the next one. Fallback and
// retries only happen while nothing reached the client: after the first byte the answer is
// committed (a half-streamed reply cannot be replaced by another provider's).

#include <chrono>
#include <random>

#include "schema/error.hpp"

namespace keygate::router {

struct RetryPolicy {
  int max_retries_per_target = 1;
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{200};

  // Connect errors, timeouts, 429 and 5xx (Error::retryable), and only before the client saw
  // anything.
  static bool can_move_on(const Error& error, bool client_answered) {
    return error.retryable && !client_answered;
  }
  // Failures that say the provider is unhealthy (they count for its circuit breaker). A 429 is
  // about one key's quota, not the provider's health.
  static bool counts_against_provider(const Error& error) {
    return error.retryable && error.status != 429;
  }
  // Uniform in [backoff_min, backoff_max]: jitter keeps retries from many requests apart.
  template <class Rng>
  std::chrono::milliseconds backoff(Rng& rng) const {
    std::uniform_int_distribution<long> d(backoff_min.count(), backoff_max.count());
    return std::chrono::milliseconds(d(rng));
  }
};

}  // namespace keygate::router
