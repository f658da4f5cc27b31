#include "gateway/rate_limits.hpp"

#include <algorithm>

namespace keygate::gateway {

namespace {

// One request, or one token, is a minute's milliseconds of units: a bucket refills `limit` units
// a millisecond.
constexpr int64_t kUnitsPerRequest = 60'000;
constexpr int64_t kUnitsPerToken = kUnitsPerRequest;
// The most debt a token bucket keeps, far past any model's answer: keeps units in range.
constexpr int64_t kMaxDebtUnits = 1'000'000'000 * kUnitsPerToken;

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

RateLimits::RateLimits(RatePolicy policy)
    : policy_(policy),
      any_limit_(policy.requests_per_minute.has_value() || policy.tokens_per_minute.has_value()) {}

void RateLimits::update_flag() {
  any_limit_.store(policy_.requests_per_minute.has_value() ||
                       policy_.tokens_per_minute.has_value() || !own_.empty() ||
                       !own_tokens_.empty(),
                   std::memory_order_relaxed);
}

std::optional<int64_t> RateLimits::token_limit_locked(std::string_view user_id) const {
  auto own = own_tokens_.find(user_id);
  return own != own_tokens_.end() ? std::optional<int64_t>(own->second) : policy_.tokens_per_minute;
}

// The user's bucket, refilled up to `now_ms`. Whole numbers only: a bucket holds 1/60000ths of a
// request (or token), so a minute refills exactly `limit` of them, `limit` units a millisecond,
// and a client that waits the retry-after-ms it was given is never refused again for a rounding
// error.
template <class Buckets>
RateLimits::Bucket& RateLimits::refilled(Buckets& buckets, std::string_view user_id, int64_t limit,
                                         int64_t now_ms) {
  const int64_t capacity = limit * kUnitsPerRequest;
  auto it = buckets.find(user_id);
  if (it == buckets.end()) {
    it = buckets.emplace(std::string(user_id), Bucket{capacity, now_ms, limit}).first;
  }
  Bucket& b = it->second;
  if (b.limit != limit) {
    // A raised limit adds its extra minute's worth at once; a lowered one keeps no more than its
    // new capacity (below). Never a fresh full bucket: lowering an abuser's limit must bite.
    b.units += std::max<int64_t>(0, limit - b.limit) * kUnitsPerRequest;
    b.limit = limit;
  }
  if (now_ms > b.refilled_at_ms) {
    // Full once the time to fill it has passed; only a shorter time is multiplied out (a long
    // idle times a large limit would overflow).
    const int64_t to_full = ceil_div(std::max<int64_t>(0, capacity - b.units), limit);
    const int64_t elapsed = now_ms - b.refilled_at_ms;
    b.units = elapsed >= to_full ? capacity : std::min(capacity, b.units + elapsed * limit);
    b.refilled_at_ms = now_ms;
  }
  b.units = std::min(b.units, capacity);
  return b;
}

std::optional<RateDecision> RateLimits::take(std::string_view user_id, int64_t now_ms) {
  if (!any_limit_.load(std::memory_order_relaxed)) {
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  auto own = own_.find(user_id);
  const std::optional<int64_t> limit =
      own != own_.end() ? std::optional<int64_t>(own->second) : policy_.requests_per_minute;
  const std::optional<int64_t> token_limit = token_limit_locked(user_id);
  if (!limit && !token_limit) {
    return std::nullopt;
  }
  RateDecision d;
  if (token_limit) {
    // Checked first: a call refused for its tokens does not use up a request.
    Bucket& t = refilled(token_buckets_, user_id, *token_limit, now_ms);
    d.counts_tokens = true;
    d.token_limit = *token_limit;
    d.tokens_remaining = std::max<int64_t>(0, t.units / kUnitsPerToken);
    d.token_reset_ms = ceil_div(*token_limit * kUnitsPerToken - t.units, *token_limit);
    if (t.units < kUnitsPerToken) {
      d.allowed = false;
      d.refused_for_tokens = true;
      d.retry_after_ms = ceil_div(kUnitsPerToken - t.units, *token_limit);
    }
  }
  if (limit) {
    Bucket& b = refilled(buckets_, user_id, *limit, now_ms);
    d.counts_requests = true;
    d.limit = *limit;
    if (d.allowed && b.units >= kUnitsPerRequest) {
      b.units -= kUnitsPerRequest;
    } else if (b.units < kUnitsPerRequest) {
      // Refused (or refused for tokens already): the retry waits for whichever comes last, so a
      // client that waits as told is not refused again.
      d.allowed = false;
      d.retry_after_ms = std::max(d.retry_after_ms, ceil_div(kUnitsPerRequest - b.units, *limit));
    }
    d.remaining = b.units / kUnitsPerRequest;
    d.reset_ms = ceil_div(*limit * kUnitsPerRequest - b.units, *limit);
  }
  if (!d.allowed) {
    refusals_.fetch_add(1, std::memory_order_relaxed);
  }
  return d;
}

void RateLimits::spend_tokens(std::string_view user_id, int64_t tokens, int64_t now_ms) {
  if (tokens <= 0 || !any_limit_.load(std::memory_order_relaxed)) {
    return;
  }
  std::lock_guard lock(mutex_);
  const std::optional<int64_t> token_limit = token_limit_locked(user_id);
  if (!token_limit) {
    return;
  }
  Bucket& t = refilled(token_buckets_, user_id, *token_limit, now_ms);
  t.units = std::max(-kMaxDebtUnits,
                     t.units - std::min(tokens, kMaxDebtUnits / kUnitsPerToken) * kUnitsPerToken);
}

void RateLimits::set_limit(const std::string& user_id, std::optional<int64_t> rpm) {
  std::lock_guard lock(mutex_);
  if (rpm) {
    own_[user_id] = *rpm;
  } else {
    own_.erase(user_id);
  }
  if (reloading_) {
    set_while_reloading_.insert(user_id);
  }
  update_flag();
}

void RateLimits::set_token_limit(const std::string& user_id, std::optional<int64_t> tpm) {
  std::lock_guard lock(mutex_);
  if (tpm) {
    own_tokens_[user_id] = *tpm;
  } else {
    own_tokens_.erase(user_id);
  }
  if (reloading_) {
    set_while_reloading_.insert(user_id);
  }
  update_flag();
}

std::pair<std::optional<int64_t>, bool> RateLimits::token_limit_of(std::string_view user_id) {
  std::lock_guard lock(mutex_);
  const bool own = own_tokens_.contains(user_id);
  return {token_limit_locked(user_id), own};
}

std::pair<std::optional<int64_t>, bool> RateLimits::limit_of(std::string_view user_id) {
  std::lock_guard lock(mutex_);
  if (auto own = own_.find(user_id); own != own_.end()) {
    return {own->second, true};
  }
  return {policy_.requests_per_minute, false};
}

void RateLimits::begin_reload() {
  std::lock_guard lock(mutex_);
  reloading_ = true;
  set_while_reloading_.clear();
}

void RateLimits::finish_reload(const std::vector<OwnRateLimits>& own_limits) {
  std::lock_guard lock(mutex_);
  Map<int64_t> requests;
  Map<int64_t> tokens;
  for (const auto& own : own_limits) {
    if (set_while_reloading_.contains(own.user_id)) {
      continue;  // an operator's change since the query began wins
    }
    if (own.requests_per_minute) {
      requests[own.user_id] = *own.requests_per_minute;
    }
    if (own.tokens_per_minute) {
      tokens[own.user_id] = *own.tokens_per_minute;
    }
  }
  for (const auto& id : set_while_reloading_) {
    if (auto it = own_.find(id); it != own_.end()) {
      requests[id] = it->second;
    }
    if (auto it = own_tokens_.find(id); it != own_tokens_.end()) {
      tokens[id] = it->second;
    }
  }
  own_ = std::move(requests);
  own_tokens_ = std::move(tokens);
  set_while_reloading_.clear();
  reloading_ = false;
  update_flag();
}

void RateLimits::abandon_reload() {
  std::lock_guard lock(mutex_);
  set_while_reloading_.clear();
  reloading_ = false;
}

}  // namespace keygate::gateway
