#pragma once
// Rate limits per user: how many model calls (chat completions, messages, responses, embeddings)
// a user may start a minute, and how many tokens their calls may use a minute. Each is a bucket
// that holds a minute's worth and refills evenly, so a burst up to the limit passes and a steady
// rate above it is refused. A refusal is a 429 that says when to come back (retry-after,
// retry-after-ms), which the official SDKs wait for and retry.
//
// A call's tokens are known only once it has ended: they are taken from the bucket then
// (spend_tokens), which may leave it in debt; a call is refused while the bucket holds less than
// a token, until the debt has refilled. One long answer can so hold a user back for more than a
// minute, as its tokens would have at the limit's pace.
//
// Each keygate instance keeps its own buckets: behind a load balancer with N instances a user can
// reach up to N times the limit. Users' own limits come from the database (users table) at start
// and, on PostgreSQL, every minute with the budgets (App::reload_limits).
//
// Thread-safe. With no limit configured anywhere, take() reads one atomic flag and nothing else.

#include <atomic>
#include <chrono>
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

// The clock rate limits count on, in milliseconds: steady, so a stepped wall clock neither refills
// nor drains a bucket.
inline int64_t rate_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

struct RatePolicy {
  // Every user's limit unless they have one of their own; nullopt: none.
  std::optional<int64_t> requests_per_minute;
  // Every user's token limit (prompt and completion tokens); nullopt: none.
  std::optional<int64_t> tokens_per_minute;
};

struct RateDecision {
  bool allowed = true;
  int64_t retry_after_ms = 0;  // refused: when what was missing has refilled
  // The request limit, when one applies to the user.
  bool counts_requests = false;
  int64_t limit = 0;      // requests a minute
  int64_t remaining = 0;  // whole requests left in the bucket now
  int64_t reset_ms = 0;   // until the bucket is full again
  // The token limit, when one applies.
  bool counts_tokens = false;
  bool refused_for_tokens = false;
  int64_t token_limit = 0;       // tokens a minute
  int64_t tokens_remaining = 0;  // whole tokens left (0 while in debt)
  int64_t token_reset_ms = 0;    // until the token bucket is full again
};

// A user's own limits as the database holds them (nullopt: the default applies).
struct OwnRateLimits {
  std::string user_id;
  std::optional<int64_t> requests_per_minute;
  std::optional<int64_t> tokens_per_minute;
};

class RateLimits {
 public:
  explicit RateLimits(RatePolicy policy);

  // One request by `user_id` at `now_ms` (steady milliseconds): nullopt when no limit applies to
  // the user, else whether it may go and what the rate-limit headers say.
  std::optional<RateDecision> take(std::string_view user_id, int64_t now_ms);
  // The tokens a call of `user_id` used, known once it ended (under a token limit; else
  // nothing).
  void spend_tokens(std::string_view user_id, int64_t tokens, int64_t now_ms);
  // Requests refused so far (/metrics).
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

  // The user's own limit (nullopt: the default), after an operator set it.
  void set_limit(const std::string& user_id, std::optional<int64_t> requests_per_minute);
  // The limit that applies to the user, and whether it is their own.
  std::pair<std::optional<int64_t>, bool> limit_of(std::string_view user_id);
  // The same for the user's token limit.
  void set_token_limit(const std::string& user_id, std::optional<int64_t> tokens_per_minute);
  std::pair<std::optional<int64_t>, bool> token_limit_of(std::string_view user_id);

  // Replacing every user's own limit with what the database holds, around its query (as
  // SpendLimits does): a limit set meanwhile keeps its new value.
  void begin_reload();
  void finish_reload(const std::vector<OwnRateLimits>& own_limits);
  void abandon_reload();

 private:
  struct Bucket {
    int64_t units = 0;  // 60000 a request or a token (rate_limits.cpp); below 0: in debt
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
  std::optional<int64_t> token_limit_locked(std::string_view user_id) const;
  template <class Buckets>
  Bucket& refilled(Buckets& buckets, std::string_view user_id, int64_t limit, int64_t now_ms);

  const RatePolicy policy_;
  std::atomic<bool> any_limit_;
  std::mutex mutex_;
  Map<int64_t> own_;         // users' own request limits
  Map<int64_t> own_tokens_;  // users' own token limits
  Map<Bucket> buckets_;
  Map<Bucket> token_buckets_;
  bool reloading_ = false;
  std::unordered_set<std::string> set_while_reloading_;
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace keygate::gateway
