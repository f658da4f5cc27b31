#include "keystore/hot_cache.hpp"

#include <mutex>

namespace keygate {

std::string HotCache::key_of(std::string_view user_id, std::string_view provider) {
  std::string k;
  k.reserve(user_id.size() + provider.size() + 1);
  k.append(user_id).push_back('\0');
  k.append(provider);
  return k;
}

std::optional<Identity> HotCache::identity(std::string_view token_hash, int64_t now_unix) const {
  std::shared_lock lock(mu_);
  auto it = identities_.find(std::string(token_hash));
  if (it == identities_.end() || Clock::now() - it->second.cached_at > ttl_) {
    return std::nullopt;
  }
  if (it->second.expires_at && *it->second.expires_at <= now_unix) {
    return std::nullopt;  // expired tokens take the slow path, which says why
  }
  return it->second.identity;
}

void HotCache::put_identity(std::string_view token_hash, const Identity& identity,
                            std::optional<int64_t> token_expires_at) {
  std::unique_lock lock(mu_);
  if (identities_.size() >= kMaxEntries) {
    identities_.clear();
  }
  identities_[std::string(token_hash)] = IdentityEntry{identity, token_expires_at, Clock::now()};
}

std::optional<std::optional<CachedKeyRow>> HotCache::key(std::string_view user_id,
                                                         std::string_view provider,
                                                         int64_t now_unix) const {
  std::shared_lock lock(mu_);
  auto it = keys_.find(key_of(user_id, provider));
  if (it == keys_.end() || Clock::now() - it->second.cached_at > ttl_) {
    return std::nullopt;
  }
  const auto& row = it->second.row;
  if (row && row->expires_at && *row->expires_at <= now_unix) {
    return std::nullopt;  // the key expired since: resolve again
  }
  return row;
}

void HotCache::put_key(std::string_view user_id, std::string_view provider,
                       std::optional<CachedKeyRow> row) {
  std::unique_lock lock(mu_);
  if (keys_.size() >= kMaxEntries) {
    keys_.clear();
  }
  keys_[key_of(user_id, provider)] = KeyEntry{std::move(row), Clock::now()};
}

void HotCache::clear() {
  std::unique_lock lock(mu_);
  identities_.clear();
  keys_.clear();
}

}  // namespace keygate
