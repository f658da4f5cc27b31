#pragma once
// Short-lived in-process caches that keep the request path off the database:
//   token hash          -> the caller's identity
//   (user, provider)    -> the SEALED key row a request would use (or "no key")
// Plaintext never enters them: a cached key row is still ciphertext and is opened per request.
// Every keystore write in this process clears them at once; entries also expire after a short
// TTL, which bounds how stale they can be after a write by another process (the CLI, or another
// keygate instance sharing the database).

#include <chrono>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "keystore/sealer.hpp"
#include "keystore/store.hpp"

namespace keygate {

struct CachedKeyRow {
  std::string key_id;
  std::string source;                  // "user" | "system"
  std::optional<std::string> user_id;  // owner, part of the associated data
  std::string provider;
  Sealed sealed;
  std::optional<int64_t> expires_at;
};

class HotCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit HotCache(std::chrono::milliseconds ttl = std::chrono::seconds(5)) : ttl_(ttl) {}

  std::optional<Identity> identity(std::string_view token_hash, int64_t now_unix) const;
  void put_identity(std::string_view token_hash, const Identity& identity,
                    std::optional<int64_t> token_expires_at);

  // nullopt: not cached. A cached "no key" is an engaged optional holding nullopt.
  std::optional<std::optional<CachedKeyRow>> key(std::string_view user_id,
                                                 std::string_view provider, int64_t now_unix) const;
  void put_key(std::string_view user_id, std::string_view provider,
               std::optional<CachedKeyRow> row);

  void clear();

 private:
  static constexpr std::size_t kMaxEntries = 100'000;  // bounded memory
  struct IdentityEntry {
    Identity identity;
    std::optional<int64_t> expires_at;
    Clock::time_point cached_at;
  };
  struct KeyEntry {
    std::optional<CachedKeyRow> row;
    Clock::time_point cached_at;
  };
  static std::string key_of(std::string_view user_id, std::string_view provider);

  std::chrono::milliseconds ttl_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, IdentityEntry> identities_;
  std::unordered_map<std::string, KeyEntry> keys_;
};

// Clears the cache when a write ends (declared after the write's lock, so it runs under it).
struct ClearCacheOnExit {
  HotCache& cache;
  ~ClearCacheOnExit() { cache.clear(); }
};

}  // namespace keygate
