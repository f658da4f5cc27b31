// Keystore: users, tokens and authentication.

#include "keystore/base62.hpp"
#include "keystore/keystore.hpp"
#include "keystore/tokens.hpp"
#include "keystore/validate.hpp"
#include "schema/try.hpp"

namespace keygate {

namespace {

constexpr std::string_view kUserColumns =
    "id, name, role, created_at, disabled, system_key_budget_usd, requests_per_minute, "
    "tokens_per_minute";
constexpr std::string_view kTokenColumns =
    "id, user_id, name, masked, created_at, expires_at, revoked_at, last_used_at";

// last_used_at is advisory; writing it on every request would turn each authenticated call into
// a write transaction.
constexpr int64_t kLastUsedGranularity = 60;

User read_user(const db::Statement& s) {
  User u{s.column_text(0), s.column_text(1),     s.column_text(2) == "admin",
         s.column_int(3),  s.column_int(4) != 0, std::nullopt};
  if (!s.is_null(5)) {
    u.system_key_budget_usd = s.column_double(5);
  }
  u.requests_per_minute = s.column_opt_int(6);
  u.tokens_per_minute = s.column_opt_int(7);
  return u;
}

TokenInfo read_token(const db::Statement& s) {
  return TokenInfo{s.column_text(0), s.column_text(1),    s.column_text(2),    s.column_text(3),
                   s.column_int(4),  s.column_opt_int(5), s.column_opt_int(6), s.column_opt_int(7)};
}

std::span<const unsigned char> as_span(const TokenHash& h) {
  return {h.data(), h.size()};
}

}  // namespace

Result<CreatedToken> Keystore::create_token_locked(std::string_view user_id, std::string_view name,
                                                   std::optional<int64_t> expires_at) {
  KG_CHECK(validate_text(name, "name", 64));
  int64_t t = now();
  if (expires_at && *expires_at <= t) {
    return fail(Error::invalid_request("'expires_at' is in the past.", "expires_at"));
  }
  CreatedToken out;
  out.token = generate_token();
  out.info = TokenInfo{
      random_id("tok_"), std::string(user_id), std::string(name), mask_token(out.token), t,
      expires_at,        std::nullopt,         std::nullopt};
  KG_TRY(stmt, db_.prepare("INSERT INTO tokens(id, user_id, name, hash, masked, created_at, "
                           "expires_at) VALUES(?, ?, ?, ?, ?, ?, ?)"));
  stmt->bind(1, out.info.id)
      .bind(2, out.info.user_id)
      .bind(3, out.info.name)
      .bind(4, as_span(hash_token(out.token, *token_key_)))
      .bind(5, out.info.masked)
      .bind(6, t)
      .bind(7, expires_at);
  KG_CHECK(stmt->run());
  return out;
}

Result<CreatedUser> Keystore::create_user(std::string_view name, bool admin) {
  KG_CHECK(validate_name(name, "name"));
  std::lock_guard lock(mu_);
  KG_CHECK(require_ready());
  CreatedUser out;
  out.user = User{random_id("usr_"), std::string(name), admin, now(), false};
  KG_TRY(tx, db::transaction(db_));
  KG_TRY(stmt, db_.prepare("INSERT INTO users(id, name, role, created_at) VALUES(?, ?, ?, ?)"));
  stmt->bind(1, out.user.id)
      .bind(2, out.user.name)
      .bind(3, admin ? "admin" : "user")
      .bind(4, out.user.created_at);
  if (auto r = stmt->run(); !r) {
    if (r.error().status == 409) {
      return fail(Error::conflict("A user named '" + out.user.name + "' already exists."));
    }
    return fail(r.error());
  }
  KG_TRY(token, create_token_locked(out.user.id, "default", std::nullopt));
  KG_CHECK(tx->commit());
  out.token_info = std::move(token->info);
  out.token = std::move(token->token);
  return out;
}

Result<std::vector<User>> Keystore::list_users() {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kUserColumns) + " FROM users ORDER BY name"));
  std::vector<User> out;
  while (true) {
    KG_TRY(row, stmt->step());
    if (!*row) {
      return out;
    }
    out.push_back(read_user(*stmt));
  }
}

Result<std::optional<User>> Keystore::find_user_by_name(std::string_view name) {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE name = ?"));
  stmt->bind(1, name);
  KG_TRY(row, stmt->step());
  if (!*row) {
    return std::optional<User>{};
  }
  return std::optional<User>(read_user(*stmt));
}

Result<User> Keystore::get_user(std::string_view user_id) {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE id = ?"));
  stmt->bind(1, user_id);
  KG_TRY(row, stmt->step());
  if (!*row) {
    return fail(Error::not_found("No user with id '" + std::string(user_id) + "'."));
  }
  return read_user(*stmt);
}

Result<User> Keystore::set_system_key_budget(std::string_view user_id, std::optional<double> usd) {
  return update_user_limits(user_id, UserLimitsPatch{usd, std::nullopt, std::nullopt});
}

Result<User> Keystore::update_user_limits(std::string_view user_id, const UserLimitsPatch& patch) {
  std::lock_guard lock(mu_);
  // One statement: both changes or neither.
  std::string set;
  if (patch.system_key_budget_usd) {
    set += "system_key_budget_usd = ?";
  }
  if (patch.requests_per_minute) {
    set += std::string(set.empty() ? "" : ", ") + "requests_per_minute = ?";
  }
  if (patch.tokens_per_minute) {
    set += std::string(set.empty() ? "" : ", ") + "tokens_per_minute = ?";
  }
  if (!set.empty()) {
    KG_TRY(stmt, db_.prepare("UPDATE users SET " + set + " WHERE id = ?"));
    int i = 0;
    if (const auto& usd = patch.system_key_budget_usd) {
      if (*usd) {
        stmt->bind(++i, **usd);
      } else {
        stmt->bind(++i, nullptr);
      }
    }
    for (const auto* per_minute : {&patch.requests_per_minute, &patch.tokens_per_minute}) {
      if (*per_minute) {
        if (**per_minute) {
          stmt->bind(++i, ***per_minute);
        } else {
          stmt->bind(++i, nullptr);
        }
      }
    }
    stmt->bind(++i, user_id);
    KG_CHECK(stmt->run());
  }
  KG_TRY(read, db_.prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE id = ?"));
  read->bind(1, user_id);
  KG_TRY(row, read->step());
  if (!*row) {
    return fail(Error::not_found("No user with id '" + std::string(user_id) + "'."));
  }
  return read_user(*read);
}

Result<CreatedToken> Keystore::create_token(std::string_view user_id, std::string_view name,
                                            std::optional<int64_t> expires_at) {
  std::lock_guard lock(mu_);
  KG_CHECK(require_ready());
  KG_TRY(tx, db::transaction(db_));
  KG_TRY(exists, db_.prepare("SELECT 1 FROM users WHERE id = ?"));
  exists->bind(1, user_id);
  KG_TRY(row, exists->step());
  if (!*row) {
    return fail(Error::not_found("No user with id '" + std::string(user_id) + "'."));
  }
  KG_TRY(token, create_token_locked(user_id, name, expires_at));
  KG_CHECK(tx->commit());
  return std::move(*token);
}

Result<std::vector<TokenInfo>> Keystore::list_tokens(std::string_view user_id) {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kTokenColumns) +
                           " FROM tokens WHERE user_id = ? ORDER BY created_at, id"));
  stmt->bind(1, user_id);
  std::vector<TokenInfo> out;
  while (true) {
    KG_TRY(row, stmt->step());
    if (!*row) {
      return out;
    }
    out.push_back(read_token(*stmt));
  }
}

Result<TokenInfo> Keystore::get_token(std::string_view token_id) {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kTokenColumns) + " FROM tokens WHERE id = ?"));
  stmt->bind(1, token_id);
  KG_TRY(row, stmt->step());
  if (!*row) {
    return fail(Error::not_found("No token with id '" + std::string(token_id) + "'."));
  }
  return read_token(*stmt);
}

Result<void> Keystore::revoke_token(std::string_view token_id) {
  std::lock_guard lock(mu_);
  AnnounceChangeOnExit changed{*this};  // a write: every instance's caches start over
  // COALESCE keeps the first revocation time when revoking twice.
  KG_TRY(stmt, db_.prepare("UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?"));
  stmt->bind(1, now()).bind(2, token_id);
  KG_CHECK(stmt->run());
  if (db_.changes() == 0) {
    return fail(Error::not_found("No token with id '" + std::string(token_id) + "'."));
  }
  return {};
}

Result<Identity> Keystore::authenticate(std::string_view token) {
  // Shape and checksum first: garbage never reaches the database.
  KG_CHECK(parse_token(token));
  std::lock_guard lock(mu_);
  KG_CHECK(require_ready());
  const uint64_t generation = cache_.generation();  // before the read: see put_identity
  TokenHash hash = hash_token(token, *token_key_);
  KG_TRY(stmt,
         db_.prepare("SELECT t.id, t.user_id, t.expires_at, t.revoked_at, t.last_used_at, u.name, "
                     "u.role, u.disabled FROM tokens t JOIN users u ON u.id = t.user_id "
                     "WHERE t.hash = ?"));
  stmt->bind(1, as_span(hash));
  KG_TRY(row, stmt->step());
  if (!*row) {
    return fail(Error::unauthorized("Unknown token.", "invalid_api_key"));
  }
  int64_t t = now();
  if (!stmt->is_null(3)) {
    return fail(Error::unauthorized("This token has been revoked.", "token_revoked"));
  }
  if (auto exp = stmt->column_opt_int(2); exp && *exp <= t) {
    return fail(Error::unauthorized("This token has expired.", "token_expired"));
  }
  if (stmt->column_int(7) != 0) {
    return fail(Error::unauthorized("This token's user is disabled.", "user_disabled"));
  }
  Identity id{stmt->column_text(1), stmt->column_text(5), stmt->column_text(6) == "admin",
              stmt->column_text(0)};
  auto last_used = stmt->column_opt_int(4);
  auto expires_at = stmt->column_opt_int(2);
  stmt->reset();
  const TokenCacheKey cache_key = token_cache_key(token, cache_key_);
  cache_.put_identity(
      std::string_view(reinterpret_cast<const char*>(cache_key.data()), cache_key.size()), id,
      expires_at, generation);
  if (!last_used || t - *last_used >= kLastUsedGranularity) {
    KG_TRY(touch, db_.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?"));
    touch->bind(1, t).bind(2, id.token_id);
    KG_CHECK(touch->run());
  }
  return id;
}

std::optional<Result<Identity>> Keystore::authenticate_cached(std::string_view token) const {
  // The cache first: only a well-formed token was ever cached, and a hit on its cache key means
  // this is that token, so the shape check (a checksum and a base62 scan, half of this lookup's
  // cost) is only needed on a miss.
  {
    std::shared_lock material(material_mu_);
    if (!token_key_) {
      return std::nullopt;  // sealed: the slow path explains why
    }
  }
  const TokenCacheKey key = token_cache_key(token, cache_key_);
  auto identity = cache_.identity(
      std::string_view(reinterpret_cast<const char*>(key.data()), key.size()), now());
  if (identity) {
    return Result<Identity>(*identity);  // the cached one is shared: the caller gets its own copy
  }
  if (auto shape = parse_token(token); !shape) {
    return Result<Identity>(fail(shape.error()));  // refused without a database lookup
  }
  return std::nullopt;
}

}  // namespace keygate
