#include "gateway/rate_limits.hpp"

#include <algorithm>
#include <cmath>

namespace keygate::gateway {

namespace {
constexpr double kMsPerMinute = 60'000.0;
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
  const double per_ms = static_cast<double>(*limit) / kMsPerMinute;
  auto it = buckets_.find(user_id);
  if (it == buckets_.end()) {
    it = buckets_.emplace(std::string(user_id), Bucket{}).first;
  }
  Bucket& b = it->second;
  if (b.capacity != *limit) {
    b = Bucket{static_cast<double>(*limit), now_ms, *limit};  // a first request, or a new limit
  } else if (now_ms > b.refilled_at_ms) {
    b.tokens = std::min(static_cast<double>(*limit),
                        b.tokens + static_cast<double>(now_ms - b.refilled_at_ms) * per_ms);
    b.refilled_at_ms = now_ms;
  }
  RateDecision d;
  d.limit = *limit;
  d.allowed = b.tokens >= 1.0;
  if (d.allowed) {
    b.tokens -= 1.0;
  } else {
    d.retry_after_ms = static_cast<int64_t>(std::ceil((1.0 - b.tokens) / per_ms));
  }
  d.remaining = static_cast<int64_t>(std::floor(b.tokens));
  d.reset_ms = static_cast<int64_t>(std::ceil((static_cast<double>(*limit) - b.tokens) / per_ms));
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
