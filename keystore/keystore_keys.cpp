// Keystore: provider keys (sealed at rest) and per-request key resolution.

#include "keystore/base62.hpp"
#include "keystore/keystore.hpp"
#include "keystore/tokens.hpp"
#include "keystore/validate.hpp"
#include "schema/try.hpp"

namespace keygate {

namespace {

constexpr std::string_view kKeyColumns =
    "id, scope, user_id, provider, name, description, masked, status, priority, expires_at, "
    "created_at, updated_at, last_used_at, last_tested_at, last_error";

// Matches the rows `owner` may see: its own user-scope keys, or system keys for nullopt.
constexpr std::string_view kOwnerFilter = "scope = ? AND user_id IS NOT DISTINCT FROM ?";

constexpr int64_t kLastUsedGranularity = 60;
constexpr size_t kMaxSecretBytes = 8192;

KeyRecord read_key(const db::Statement& s) {
  KeyRecord k;
  k.id = s.column_text(0);
  k.scope = s.column_text(1);
  k.user_id = s.column_opt_text(2);
  k.provider = s.column_text(3);
  k.name = s.column_text(4);
  k.description = s.column_text(5);
  k.masked = s.column_text(6);
  k.status = s.column_text(7);
  k.priority = s.column_int(8);
  k.expires_at = s.column_opt_int(9);
  k.created_at = s.column_int(10);
  k.updated_at = s.column_int(11);
  k.last_used_at = s.column_opt_int(12);
  k.last_tested_at = s.column_opt_int(13);
  k.last_error = s.column_opt_text(14);
  return k;
}

// Binds kOwnerFilter's two parameters starting at `index`.
void bind_owner(db::Statement& s, int index, const Owner& owner) {
  s.bind(index, owner ? "user" : "system").bind(index + 1, owner);
}

SealContext seal_context(std::string_view key_id, const std::optional<std::string>& user_id,
                         std::string_view provider) {
  return {std::string(key_id), user_id.value_or("system"), std::string(provider)};
}

Error key_not_found(std::string_view key_id) {
  return Error::not_found("No key with id '" + std::string(key_id) + "'.");
}

Result<void> validate_secret(const SecretKey& secret) {
  if (secret.empty() || secret.size() > kMaxSecretBytes) {
    return fail(Error::invalid_request("'api_key' must be 1-8192 bytes.", "api_key"));
  }
  return {};
}

bool is_stored_status(std::string_view s) {
  return s == "active" || s == "inactive" || s == "error" || s == "revoked";
}

}  // namespace

Result<KeyRecord> Keystore::get_key_locked(const Owner& owner, std::string_view key_id) {
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kKeyColumns) +
                           " FROM provider_keys WHERE id = ? AND " + std::string(kOwnerFilter)));
  stmt->bind(1, key_id);
  bind_owner(*stmt, 2, owner);
  KG_TRY(row, stmt->step());
  if (!*row) {
    return fail(key_not_found(key_id));
  }
  return read_key(*stmt);
}

Result<SecretKey> Keystore::open_row_locked(std::string_view key_id) {
  KG_TRY(stmt, db_.prepare("SELECT user_id, provider, ciphertext, nonce, master_key_version "
                           "FROM provider_keys WHERE id = ?"));
  stmt->bind(1, key_id);
  KG_TRY(row, stmt->step());
  if (!*row) {
    return fail(key_not_found(key_id));
  }
  Sealed sealed{stmt->column_blob(2), stmt->column_blob(3), stmt->column_int(4)};
  return sealer_->open(sealed,
                       seal_context(key_id, stmt->column_opt_text(0), stmt->column_text(1)));
}

Result<KeyRecord> Keystore::create_key(const Owner& owner, std::string_view provider,
                                       SecretKey api_key, std::string_view name,
                                       std::string_view description,
                                       std::optional<int64_t> expires_at, int64_t priority) {
  KG_CHECK(validate_provider(provider));
  KG_CHECK(validate_text(name, "name", 128));
  KG_CHECK(validate_text(description, "description", 1024));
  KG_CHECK(validate_secret(api_key));
  std::lock_guard lock(mu_);
  AnnounceChangeOnExit changed{*this};  // a write: every instance's caches start over
  KG_CHECK(require_ready());
  int64_t t = now();
  if (expires_at && *expires_at <= t) {
    return fail(Error::invalid_request("'expires_at' is in the past.", "expires_at"));
  }
  KG_TRY(tx, db::transaction(db_));
  if (owner) {
    KG_TRY(exists, db_.prepare("SELECT 1 FROM users WHERE id = ?"));
    exists->bind(1, *owner);
    KG_TRY(row, exists->step());
    if (!*row) {
      return fail(Error::not_found("No user with id '" + *owner + "'."));
    }
  }
  std::string id = random_id("key_");
  // The id is part of the associated data, so it is chosen before sealing.
  Sealed sealed = sealer_->seal(api_key, seal_context(id, owner, provider));
  KG_TRY(stmt,
         db_.prepare("INSERT INTO provider_keys(id, scope, user_id, provider, name, description, "
                     "ciphertext, nonce, master_key_version, masked, status, priority, expires_at, "
                     "created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, "
                     "?, ?)"));
  stmt->bind(1, id)
      .bind(2, owner ? "user" : "system")
      .bind(3, owner)
      .bind(4, provider)
      .bind(5, name)
      .bind(6, description)
      .bind(7, sealed.ciphertext)
      .bind(8, sealed.nonce)
      .bind(9, sealed.master_key_version)
      .bind(10, mask_key(api_key.expose()))
      .bind(11, priority)
      .bind(12, expires_at)
      .bind(13, t)
      .bind(14, t);
  KG_CHECK(stmt->run());
  KG_TRY(record, get_key_locked(owner, id));
  KG_CHECK(tx->commit());
  return std::move(*record);
}

Result<std::vector<KeyRecord>> Keystore::list_keys(const Owner& owner) {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kKeyColumns) + " FROM provider_keys WHERE " +
                           std::string(kOwnerFilter) + " ORDER BY provider, priority, created_at"));
  bind_owner(*stmt, 1, owner);
  std::vector<KeyRecord> out;
  while (true) {
    KG_TRY(row, stmt->step());
    if (!*row) {
      return out;
    }
    out.push_back(read_key(*stmt));
  }
}

Result<KeyRecord> Keystore::get_key(const Owner& owner, std::string_view key_id) {
  std::lock_guard lock(mu_);
  return get_key_locked(owner, key_id);
}

Result<KeyRecord> Keystore::update_key(const Owner& owner, std::string_view key_id,
                                       KeyPatch patch) {
  if (patch.name) {
    KG_CHECK(validate_text(*patch.name, "name", 128));
  }
  if (patch.description) {
    KG_CHECK(validate_text(*patch.description, "description", 1024));
  }
  if (patch.api_key) {
    KG_CHECK(validate_secret(*patch.api_key));
  }
  std::lock_guard lock(mu_);
  AnnounceChangeOnExit changed{*this};  // a write: every instance's caches start over
  if (patch.api_key) {
    KG_CHECK(require_ready());
  }
  KG_TRY(tx, db::transaction(db_));
  KG_TRY(current, get_key_locked(owner, key_id));  // 404 for anyone but the owner
  KeyRecord k = std::move(*current);
  int64_t t = now();
  if (patch.name) {
    k.name = *patch.name;
  }
  if (patch.description) {
    k.description = *patch.description;
  }
  if (patch.is_active) {
    k.status = *patch.is_active ? "active" : "inactive";
  }
  if (patch.expires_at) {
    if (*patch.expires_at && **patch.expires_at <= t) {
      return fail(Error::invalid_request("'expires_at' is in the past.", "expires_at"));
    }
    k.expires_at = *patch.expires_at;
  }
  if (patch.priority) {
    k.priority = *patch.priority;
  }
  KG_TRY(stmt, db_.prepare("UPDATE provider_keys SET name = ?, description = ?, status = ?, "
                           "expires_at = ?, priority = ?, updated_at = ? WHERE id = ?"));
  stmt->bind(1, k.name)
      .bind(2, k.description)
      .bind(3, k.status)
      .bind(4, k.expires_at)
      .bind(5, k.priority)
      .bind(6, t)
      .bind(7, k.id);
  KG_CHECK(stmt->run());
  if (patch.api_key) {
    // A new secret gets a fresh nonce and the current master key version; its old test result
    // no longer says anything.
    Sealed sealed = sealer_->seal(*patch.api_key, seal_context(k.id, k.user_id, k.provider));
    KG_TRY(
        reseal,
        db_.prepare("UPDATE provider_keys SET ciphertext = ?, nonce = ?, master_key_version = ?, "
                    "masked = ?, last_error = NULL, last_tested_at = NULL WHERE id = ?"));
    reseal->bind(1, sealed.ciphertext)
        .bind(2, sealed.nonce)
        .bind(3, sealed.master_key_version)
        .bind(4, mask_key(patch.api_key->expose()))
        .bind(5, k.id);
    KG_CHECK(reseal->run());
  }
  KG_TRY(updated, get_key_locked(owner, key_id));
  KG_CHECK(tx->commit());
  return std::move(*updated);
}

Result<void> Keystore::delete_key(const Owner& owner, std::string_view key_id) {
  std::lock_guard lock(mu_);
  AnnounceChangeOnExit changed{*this};  // a write: every instance's caches start over
  // secure_delete=ON overwrites the freed ciphertext in the file.
  KG_TRY(stmt,
         db_.prepare("DELETE FROM provider_keys WHERE id = ? AND " + std::string(kOwnerFilter)));
  stmt->bind(1, key_id);
  bind_owner(*stmt, 2, owner);
  KG_CHECK(stmt->run());
  if (db_.changes() == 0) {
    return fail(key_not_found(key_id));
  }
  return {};
}

Result<void> Keystore::set_key_status(std::string_view key_id, std::string_view status,
                                      std::optional<int64_t> tested_at,
                                      std::optional<std::string> last_error) {
  if (!is_stored_status(status)) {
    return fail(
        Error::invalid_request("status must be active, inactive, error or revoked.", "status"));
  }
  std::lock_guard lock(mu_);
  AnnounceChangeOnExit changed{*this};  // a write: every instance's caches start over
  KG_TRY(stmt, db_.prepare("UPDATE provider_keys SET status = ?, last_tested_at = "
                           "COALESCE(?, last_tested_at), last_error = ?, updated_at = ? "
                           "WHERE id = ?"));
  stmt->bind(1, status).bind(2, tested_at).bind(3, last_error).bind(4, now()).bind(5, key_id);
  KG_CHECK(stmt->run());
  if (db_.changes() == 0) {
    return fail(key_not_found(key_id));
  }
  return {};
}

Result<SecretKey> Keystore::open_key(const Owner& owner, std::string_view key_id) {
  std::lock_guard lock(mu_);
  KG_CHECK(require_ready());
  KG_CHECK(get_key_locked(owner, key_id));
  return open_row_locked(key_id);
}

Result<std::optional<ResolvedKey>> Keystore::resolve(std::string_view user_id,
                                                     std::string_view provider) {
  std::lock_guard lock(mu_);
  KG_CHECK(require_ready());
  const uint64_t generation = cache_.generation();  // before the read: see put_key
  int64_t t = now();
  // Personal keys before system keys, then lowest priority, then newest. One statement reads the
  // sealed row too, so the choice and the ciphertext come from the same snapshot.
  KG_TRY(stmt, db_.prepare("SELECT id, scope, last_used_at, user_id, ciphertext, nonce, "
                           "master_key_version, expires_at FROM provider_keys "
                           "WHERE provider = ? AND status = 'active' "
                           "AND (expires_at IS NULL OR expires_at > ?) "
                           "AND ((scope = 'user' AND user_id = ?) OR scope = 'system') "
                           "ORDER BY scope = 'user' DESC, priority ASC, created_at DESC, " +
                           std::string(db_.insertion_order()) + " DESC LIMIT 1"));
  stmt->bind(1, provider).bind(2, t).bind(3, user_id);
  KG_TRY(row, stmt->step());
  if (!*row) {
    cache_.put_key(user_id, provider, std::nullopt, generation);
    return std::optional<ResolvedKey>{};
  }
  const std::string key_id = stmt->column_text(0);
  const std::string source = stmt->column_text(1);
  const std::optional<std::string> owner_id = stmt->column_opt_text(3);
  const Sealed sealed{stmt->column_blob(4), stmt->column_blob(5), stmt->column_int(6)};
  const std::optional<int64_t> expires_at = stmt->column_opt_int(7);
  const auto last_used = stmt->column_opt_int(2);
  stmt->reset();
  const SealContextView context{key_id, owner_id ? std::string_view(*owner_id) : "system",
                                provider};
  // Fails closed: a row that does not authenticate is an error, never a silent fallback to
  // another key the caller did not choose.
  KG_TRY(secret, sealer_->open(sealed, context));
  if (!last_used || t - *last_used >= kLastUsedGranularity) {
    KG_TRY(touch, db_.prepare("UPDATE provider_keys SET last_used_at = ? WHERE id = ?"));
    touch->bind(1, t).bind(2, key_id);
    KG_CHECK(touch->run());
  }
  // The cache keeps the key sealed again, under the process's cache key, which opens faster.
  cache_.put_key(user_id, provider,
                 CachedKeyRow{key_id, source, owner_id, std::string(provider),
                              cache_sealer_.seal(*secret, context), expires_at},
                 generation);
  return std::optional<ResolvedKey>(ResolvedKey{std::move(*secret), source, key_id});
}

Result<SecretKey> Keystore::open_cached_row(const CachedKeyRow& row) const {
  std::shared_lock material(material_mu_);
  if (!sealer_) {
    return fail(
        Error::unavailable("The keystore is sealed: no master key is loaded.", "keystore_sealed"));
  }
  // Viewed, not copied: this runs on every proxied request.
  const std::string_view owner = row.user_id ? std::string_view(*row.user_id) : "system";
  return cache_sealer_.open(row.sealed, SealContextView{row.key_id, owner, row.provider});
}

std::optional<Result<std::optional<ResolvedKey>>> Keystore::resolve_cached(
    std::string_view user_id, std::string_view provider) const {
  auto cached = cache_.key(user_id, provider, now());
  if (!cached) {
    return std::nullopt;
  }
  if (!*cached) {
    return Result<std::optional<ResolvedKey>>(std::optional<ResolvedKey>{});
  }
  const CachedKeyRow& row = **cached;
  auto secret = open_cached_row(row);
  if (!secret) {
    return Result<std::optional<ResolvedKey>>(fail(secret.error()));
  }
  return Result<std::optional<ResolvedKey>>(
      std::optional<ResolvedKey>(ResolvedKey{std::move(*secret), row.source, row.key_id}));
}

}  // namespace keygate
