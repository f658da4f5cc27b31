#include "keystore/hot_cache.hpp"

#include <mutex>

namespace keygate {

std::size_t HotCache::UserProviderHash::operator()(UserProviderView k) const {
  const std::hash<std::string_view> hash;
  // Mixes the two hashes so that (a, b) and (b, a) land apart.
  const std::size_t h = hash(k.user_id);
  return h ^ (hash(k.provider) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

std::shared_ptr<const Identity> HotCache::identity(std::string_view token_key,
                                                   int64_t now_unix) const {
  std::shared_lock lock(mu_);
  auto it = identities_.find(token_key);
  if (it == identities_.end() || Clock::now() - it->second.cached_at > ttl_) {
    return nullptr;
  }
  if (it->second.expires_at && *it->second.expires_at <= now_unix) {
    return nullptr;  // expired tokens take the slow path, which says why
  }
  return it->second.identity;
}

uint64_t HotCache::generation() const {
  std::shared_lock lock(mu_);
  return generation_;
}

void HotCache::put_identity(std::string_view token_key, const Identity& identity,
                            std::optional<int64_t> token_expires_at, uint64_t read_at_generation) {
  auto entry =
      IdentityEntry{std::make_shared<const Identity>(identity), token_expires_at, Clock::now()};
  std::unique_lock lock(mu_);
  if (generation_ != read_at_generation) {
    return;  // cleared since it was read: it may be what the clear was about
  }
  if (identities_.size() >= kMaxEntries) {
    identities_.clear();
  }
  identities_.insert_or_assign(std::string(token_key), std::move(entry));
}

std::optional<std::shared_ptr<const CachedKeyRow>> HotCache::key(std::string_view user_id,
                                                                 std::string_view provider,
                                                                 int64_t now_unix) const {
  std::shared_lock lock(mu_);
  auto it = keys_.find(UserProviderView{user_id, provider});
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
                       std::optional<CachedKeyRow> row, uint64_t read_at_generation) {
  auto entry =
      KeyEntry{row ? std::make_shared<const CachedKeyRow>(std::move(*row)) : nullptr, Clock::now()};
  std::unique_lock lock(mu_);
  if (generation_ != read_at_generation) {
    return;  // cleared since it was read: it may be what the clear was about
  }
  if (keys_.size() >= kMaxEntries) {
    keys_.clear();
  }
  keys_.insert_or_assign(UserProvider{std::string(user_id), std::string(provider)},
                         std::move(entry));
}

void HotCache::clear() {
  std::unique_lock lock(mu_);
  ++generation_;
  identities_.clear();
  keys_.clear();
}

}  // namespace keygate
