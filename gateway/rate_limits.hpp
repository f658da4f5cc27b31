#pragma once
// Request rate limits per user: how many model calls (chat completions and messages) a user may
// start a minute, as a token bucket that holds a minute's worth and refills evenly, so a burst up
// to the limit passes and a steady rate above it is refused. A refusal is a 429 that says when to
// come back (retry-after, retry-after-ms), which the official SDKs wait for and retry.
//
// Each keygate instance keeps its own buckets: behind a load balancer with N instances a user can
// reach up to N times the limit. Users' own limits come from the database (users table) at start
// and, on PostgreSQL, every minute with the budgets (App::reload_limits).
//
// Thread-safe. With no limit configured anywhere, take() reads one atomic flag and nothing else.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace keygate::gateway {

struct RatePolicy {
  // Every user's limit unless they have one of their own; nullopt: none.
  std::optional<int64_t> requests_per_minute;
};

struct RateDecision {
  bool allowed = true;
  int64_t limit = 0;           // requests a minute
  int64_t remaining = 0;       // whole requests left in the bucket now
  int64_t retry_after_ms = 0;  // refused: when one request's worth has refilled
  int64_t reset_ms = 0;        // until the bucket is full again
};

class RateLimits {
 public:
  explicit RateLimits(RatePolicy policy);

  // One request by `user_id` at `now_ms` (steady milliseconds): nullopt when no limit applies to
  // the user, else whether it may go and what the rate-limit headers say.
  std::optional<RateDecision> take(std::string_view user_id, int64_t now_ms);
  // Requests refused so far (/metrics).
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

  // The user's own limit (nullopt: the default), after an operator set it.
  void set_limit(const std::string& user_id, std::optional<int64_t> requests_per_minute);
  // The limit that applies to the user, and whether it is their own.
  std::pair<std::optional<int64_t>, bool> limit_of(std::string_view user_id);

  // Replacing every user's own limit with what the database holds, around its query (as
  // SpendLimits does): a limit set meanwhile keeps its new value.
  void begin_reload();
  void finish_reload(const std::vector<std::pair<std::string, int64_t>>& own_limits);
  void abandon_reload();

 private:
  struct Bucket {
    int64_t units = 0;  // 60000 a request (rate_limits.cpp)
    int64_t refilled_at_ms = 0;
    int64_t limit = 0;  // the limit it last counted for
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using Map = std::unordered_map<std::string, V, Hash, std::equal_to<>>;

  void update_flag();

  const RatePolicy policy_;
  std::atomic<bool> any_limit_;
  std::mutex mutex_;
  Map<int64_t> own_;
  Map<Bucket> buckets_;
  bool reloading_ = false;
  std::unordered_set<std::string> set_while_reloading_;
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace keygate::gateway
