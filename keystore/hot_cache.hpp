#pragma once
// Short-lived in-process caches that keep the request path off the database:
//   token cache key     -> the caller's identity (tokens.hpp: token_cache_key)
//   (user, provider)    -> the SEALED key row a request would use (or "no key")
// Plaintext never enters them: a cached key row is still ciphertext, sealed again under this
// process's own cache key (cache_sealer.hpp), and is opened per request.
// Lookups build no key string and copy no row: entries are immutable and handed out as
// shared_ptr<const ...>, so a reader keeps its row alive even if clear() runs meanwhile.
// Every keystore write in this process clears them at once. On PostgreSQL, a write also tells
// the other processes on the database to clear theirs (keystore.hpp, announce_change). Entries
// also expire after a short TTL, which bounds how stale they can be after a write by another
// process on a SQLite file (the CLI), or if a notification is lost with its connection.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "keystore/cache_sealer.hpp"
#include "keystore/store.hpp"

namespace keygate {

struct CachedKeyRow {
  std::string key_id;
  std::string source;                  // "user" | "system"
  std::optional<std::string> user_id;  // owner, part of the associated data
  std::string provider;
  CacheSealed sealed;  // under the process's cache key, not the master key
  std::optional<int64_t> expires_at;
};

class HotCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit HotCache(std::chrono::milliseconds ttl = std::chrono::seconds(5)) : ttl_(ttl) {}

  // Which clear() the cache is at. A caller reads it before it reads the database and hands
  // it to put_*(): an entry read before a clear() that happened meanwhile (another instance's
  // write, heard on the listener's thread) is stale and is not stored.
  uint64_t generation() const;

  // Null: not cached (or past its TTL or the token's expiry).
  std::shared_ptr<const Identity> identity(std::string_view token_key, int64_t now_unix) const;
  void put_identity(std::string_view token_key, const Identity& identity,
                    std::optional<int64_t> token_expires_at, uint64_t read_at_generation);

  // nullopt: not cached. A cached "no key" is an engaged optional holding a null pointer.
  std::optional<std::shared_ptr<const CachedKeyRow>> key(std::string_view user_id,
                                                         std::string_view provider,
                                                         int64_t now_unix) const;
  void put_key(std::string_view user_id, std::string_view provider, std::optional<CachedKeyRow> row,
               uint64_t read_at_generation);

  void clear();

 private:
  static constexpr std::size_t kMaxEntries = 100'000;  // bounded memory
  struct IdentityEntry {
    std::shared_ptr<const Identity> identity;
    std::optional<int64_t> expires_at;
    Clock::time_point cached_at;
  };
  struct KeyEntry {
    std::shared_ptr<const CachedKeyRow> row;  // null: the user has no key for the provider
    Clock::time_point cached_at;
  };
  // Transparent hashing and equality (C++20 heterogeneous lookup), so find() takes views.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct UserProviderView {
    std::string_view user_id, provider;
  };
  struct UserProvider {
    std::string user_id, provider;
    operator UserProviderView() const { return {user_id, provider}; }
  };
  struct UserProviderHash {
    using is_transparent = void;
    std::size_t operator()(UserProviderView k) const;
  };
  struct UserProviderEqual {
    using is_transparent = void;
    bool operator()(UserProviderView a, UserProviderView b) const {
      return a.user_id == b.user_id && a.provider == b.provider;
    }
  };

  std::chrono::milliseconds ttl_;
  mutable std::shared_mutex mu_;
  uint64_t generation_ = 0;  // clear() calls so far (under mu_)
  std::unordered_map<std::string, IdentityEntry, StringHash, std::equal_to<>> identities_;
  std::unordered_map<UserProvider, KeyEntry, UserProviderHash, UserProviderEqual> keys_;
};

}  // namespace keygate
