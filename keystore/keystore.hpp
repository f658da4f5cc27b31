#pragma once
// Keystore: users, tokens, sealed provider keys, agents and the audit log, in one SQLite file or
// in a PostgreSQL database that several instances share (database.hpp: the same SQL on both).
//
// Threading: synchronous and thread-safe. The gateway calls it from its database thread pool,
// never from I/O threads. One connection guarded by a mutex, because (1) SQLite serialises
// writers anyway, so more connections would only add SQLITE_BUSY retries between our own
// threads; (2) every operation is a few indexed statements (tens of microseconds), so the lock is
// never held long; (3) one connection keeps multi-statement transactions and the in-memory
// key material (sealer, token key) trivially consistent. Readers elsewhere (usage reports) can
// open their own connection: WAL lets them read while we write.
//
// Master key and tokens: provider keys are sealed with a subkey of the master key. Tokens are
// hashed with a subkey of a random 32-byte *token pepper* that is stored in meta, sealed under
// the master key. Rotating the master key re-seals the pepper, so tokens stay valid across a
// rotation; a wrong master key cannot open the pepper, so nobody can authenticate (status() and
// readyz say why).
//
// Rotation (rotate_master_key): first records the target version and the new key's check value
// in meta, then re-seals each provider key in its own transaction (the row carries its new
// master_key_version), and last, in one transaction, re-seals the pepper and switches the current
// version and check value. Killed at any point, the database still opens with the OLD key
// (status() warns that a rotation is unfinished; keys already moved cannot be served until it
// finishes); running the rotation again with the SAME new key file skips moved rows and finishes.
// Opening with the new key before the rotation finished is refused with a message saying so.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "keystore/database.hpp"
#include "keystore/hot_cache.hpp"
#include "keystore/master_key.hpp"
#include "keystore/postgres_listener.hpp"
#include "keystore/sealer.hpp"
#include "keystore/store.hpp"
#include "keystore/tokens.hpp"
#include "schema/error.hpp"

namespace keygate {

// A provider key's owner: a user id, or nullopt for the system scope.
using Owner = std::optional<std::string>;

class Keystore {
 public:
  // Opens (creating and migrating if needed) the database: a SQLite file's path, or a
  // postgres:// URI. A fresh database is initialised with
  // this master key. With no master key or the wrong one, the keystore still opens, in a sealed
  // state: listing works; authentication and key material fail with 503 (see status()).
  static Result<std::unique_ptr<Keystore>> open(const std::string& db_path,
                                                std::optional<MasterKeyMaterial> master_key);

  KeystoreStatus status() const;

  // Whether the database answers now (a trivial query; it reconnects a dropped PostgreSQL
  // connection). Blocking: call it off the I/O threads.
  Result<void> ping();

  // PostgreSQL: starts hearing other instances' keystore writes (a connection and a thread of
  // its own, keystore/postgres_listener.hpp), which clear this process's caches at once instead
  // of after their TTL. For a serving instance; one-shot CLI commands need not. No-op on SQLite.
  Result<void> listen_for_changes();

  // PostgreSQL: whether this process hears other instances' keystore writes now (its NOTIFY
  // listener is connected), and how many times it has connected. nullopt when not listening.
  struct ChangeListener {
    bool connected = false;
    int connections = 0;
  };
  std::optional<ChangeListener> change_listener() const;

  // Tests move time instead of sleeping. Default: now_unix().
  void set_clock_for_testing(std::function<int64_t()> clock);

  // --- users and tokens -------------------------------------------------------------------
  // name: 1-64 of [A-Za-z0-9_.-]; 409 if taken. Also issues a first token named "default".
  Result<CreatedUser> create_user(std::string_view name, bool admin);
  Result<std::vector<User>> list_users();
  Result<std::optional<User>> find_user_by_name(std::string_view name);
  Result<User> get_user(std::string_view user_id);  // 404 if absent
  // Sets (a number) or clears (nullopt: the configured default applies) the user's own budget on
  // the operator's keys; the user as it now is, or 404.
  Result<User> set_system_key_budget(std::string_view user_id, std::optional<double> usd);
  // Applies an operator's change to the user's budget and rate limit in one statement.
  Result<User> update_user_limits(std::string_view user_id, const UserLimitsPatch& patch);
  Result<CreatedToken> create_token(std::string_view user_id, std::string_view name,
                                    std::optional<int64_t> expires_at);
  Result<std::vector<TokenInfo>> list_tokens(std::string_view user_id);
  Result<TokenInfo> get_token(std::string_view token_id);  // 404 if absent
  Result<void> revoke_token(std::string_view token_id);    // idempotent; 404 if absent
  // 401 for malformed / unknown / revoked / expired tokens and disabled users, each with its own
  // message; 503 when sealed. Records last_used_at at most once a minute per token.
  Result<Identity> authenticate(std::string_view token);
  // The request path's fast versions: no database, no blocking beyond a shared lock, so they may
  // run on an I/O thread. nullopt: not in the cache, call authenticate()/resolve() on the
  // database pool. A malformed token is refused here without any lookup.
  std::optional<Result<Identity>> authenticate_cached(std::string_view token) const;
  std::optional<Result<std::optional<ResolvedKey>>> resolve_cached(std::string_view user_id,
                                                                   std::string_view provider) const;

  // --- provider keys ----------------------------------------------------------------------
  Result<KeyRecord> create_key(const Owner& owner, std::string_view provider, SecretKey api_key,
                               std::string_view name, std::string_view description,
                               std::optional<int64_t> expires_at, int64_t priority = 100);
  Result<std::vector<KeyRecord>> list_keys(const Owner& owner);
  // 404 unless the key exists and belongs to `owner` (a user never sees another's key).
  Result<KeyRecord> get_key(const Owner& owner, std::string_view key_id);
  Result<KeyRecord> update_key(const Owner& owner, std::string_view key_id, KeyPatch patch);
  Result<void> delete_key(const Owner& owner, std::string_view key_id);
  // After a key test: status is active | inactive | error | revoked.
  Result<void> set_key_status(std::string_view key_id, std::string_view status,
                              std::optional<int64_t> tested_at,
                              std::optional<std::string> last_error);
  // Decrypts one key of `owner` (for POST /v1/keys/{id}/test).
  Result<SecretKey> open_key(const Owner& owner, std::string_view key_id);
  // The key a request by `user_id` to `provider` uses: the user's active, unexpired key with the
  // lowest priority (then newest), else the system's. nullopt if neither exists (the environment
  // fallback and the provider_key_missing error are the gateway's). Decrypts on every call;
  // plaintext is never cached. Records last_used_at (at most once a minute).
  Result<std::optional<ResolvedKey>> resolve(std::string_view user_id, std::string_view provider);

  // --- agents -----------------------------------------------------------------------------
  Result<Agent> put_agent(const Agent& agent);  // insert or replace; keeps created_at
  Result<Agent> get_agent(std::string_view user_id, std::string_view name);
  Result<std::vector<Agent>> list_agents(std::string_view user_id);
  Result<void> delete_agent(std::string_view user_id, std::string_view name);

  // --- audit ------------------------------------------------------------------------------
  Result<int64_t> record_audit(const AuditEntry& entry);
  // Newest first; `before_id` pages backwards.
  Result<std::vector<AuditEntry>> list_audit(int limit, std::optional<int64_t> before_id);

  // --- master key rotation ----------------------------------------------------------------
  // See the header comment. `test_stop_after_rows` >= 0 stops after re-sealing that many rows,
  // as if the process had been killed (tests only).
  Result<RotationReport> rotate_master_key(MasterKeyMaterial new_key,
                                           int64_t test_stop_after_rows = -1);

 private:
  explicit Keystore(db::Database db) : db_(std::move(db)) {}

  Result<void> unlock(std::optional<MasterKeyMaterial> master_key);
  Result<void> require_ready() const;
  int64_t now() const { return clock_(); }
  Result<KeyRecord> get_key_locked(const Owner& owner, std::string_view key_id);
  Result<SecretKey> open_row_locked(std::string_view key_id);
  Result<CreatedToken> create_token_locked(std::string_view user_id, std::string_view name,
                                           std::optional<int64_t> expires_at);

  // After a write: clears this process's request-path caches and, on PostgreSQL, tells every
  // instance on the database to clear theirs (NOTIFY, heard by listener_). Runs under mu_.
  void announce_change();
  // Declared after a write's lock, so that it runs under it when the write ends.
  struct AnnounceChangeOnExit {
    Keystore& keystore;
    ~AnnounceChangeOnExit() { keystore.announce_change(); }
  };

  // Opens a row of the hot cache (sealed under cache_sealer_).
  Result<SecretKey> open_cached_row(const CachedKeyRow& row) const;

  mutable std::mutex mu_;
  // Guards sealer_ and token_key_ for the cached paths, which do not take mu_ (a database call
  // holding mu_ must not stall an I/O thread). Written only by unlock() and rotation.
  mutable std::shared_mutex material_mu_;
  HotCache cache_;
  db::Database db_;
  std::function<int64_t()> clock_;
  std::optional<MasterKeyMaterial> master_;
  std::unique_ptr<Sealer> sealer_;      // current master key version; null when sealed
  std::optional<SecretKey> token_key_;  // token-hash subkey (from the pepper); null when sealed
  // The token cache's own key (tokens.hpp, token_cache_key): random, for this process only.
  const SecretKey cache_key_ = SecretKey::random(kTokenCacheKeyBytes);
  // The key cache's own seal: random, for this process only (cache_sealer.hpp).
  const CacheSealer cache_sealer_;
  KeystoreStatus status_;
  std::string target_;          // what open() was given (the listener connects to it)
  std::string change_channel_;  // PostgreSQL: this keystore's NOTIFY channel; empty on SQLite
  // PostgreSQL only: hears other instances' announce_change(). Last, so that it stops first.
  std::unique_ptr<pg::Listener> listener_;
};

}  // namespace keygate
