#include "gateway/rate_limits.hpp"

#include <algorithm>

namespace keygate::gateway {

namespace {

constexpr int64_t kUnitsPerRequest = 60'000;  // one request = a minute's milliseconds

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

RateLimits::RateLimits(RatePolicy policy)
    : policy_(policy), any_limit_(policy.requests_per_minute.has_value()) {}

void RateLimits::update_flag() {
  any_limit_.store(policy_.requests_per_minute.has_value() || !own_.empty(),
                   std::memory_order_relaxed);
}

std::optional<RateDecision> RateLimits::take(std::string_view user_id, int64_t now_ms) {
  if (!any_limit_.load(std::memory_order_relaxed)) {
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  auto own = own_.find(user_id);
  const std::optional<int64_t> limit =
      own != own_.end() ? std::optional<int64_t>(own->second) : policy_.requests_per_minute;
  if (!limit) {
    return std::nullopt;
  }
  // Whole numbers only: a bucket holds tokens in 1/60000ths of a request, so a minute refills
  // exactly `limit` requests, `limit` units a millisecond, and a client that waits the
  // retry-after-ms it was given is never refused again for a rounding error.
  const int64_t capacity = *limit * kUnitsPerRequest;
  auto it = buckets_.find(user_id);
  if (it == buckets_.end()) {
    it = buckets_.emplace(std::string(user_id), Bucket{capacity, now_ms, *limit}).first;
  }
  Bucket& b = it->second;
  if (b.limit != *limit) {
    // A raised limit adds its extra minute's worth at once; a lowered one keeps no more than its
    // new capacity (below). Never a fresh full bucket: lowering an abuser's limit must bite.
    b.units += std::max<int64_t>(0, *limit - b.limit) * kUnitsPerRequest;
    b.limit = *limit;
  }
  if (now_ms > b.refilled_at_ms) {
    b.units = std::min(capacity, b.units + (now_ms - b.refilled_at_ms) * *limit);
    b.refilled_at_ms = now_ms;
  }
  b.units = std::min(b.units, capacity);
  RateDecision d;
  d.limit = *limit;
  d.allowed = b.units >= kUnitsPerRequest;
  if (d.allowed) {
    b.units -= kUnitsPerRequest;
  } else {
    refusals_.fetch_add(1, std::memory_order_relaxed);
    d.retry_after_ms = ceil_div(kUnitsPerRequest - b.units, *limit);
  }
  d.remaining = b.units / kUnitsPerRequest;
  d.reset_ms = ceil_div(capacity - b.units, *limit);
  return d;
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

void RateLimits::finish_reload(const std::vector<std::pair<std::string, int64_t>>& own_limits) {
  std::lock_guard lock(mutex_);
  Map<int64_t> fresh;
  for (const auto& [id, rpm] : own_limits) {
    if (!set_while_reloading_.contains(id)) {
      fresh[id] = rpm;
    }
  }
  for (const auto& id : set_while_reloading_) {
    if (auto it = own_.find(id); it != own_.end()) {
      fresh[id] = it->second;
    }
  }
  own_ = std::move(fresh);
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
