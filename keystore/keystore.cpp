#include "keystore/keystore.hpp"

#include "keystore/meta.hpp"
#include "keystore/pepper.hpp"
#include "schema/time.hpp"
#include "schema/try.hpp"

namespace keygate {

Result<std::unique_ptr<Keystore>> Keystore::open(const std::string& db_path,
                                                 std::optional<MasterKeyMaterial> master_key) {
  KG_CHECK(crypto_init());
  KG_TRY(db, db::Database::open(db_path));
  KG_CHECK(db::apply_migrations(*db));
  std::unique_ptr<Keystore> ks(new Keystore(std::move(*db)));
  ks->clock_ = [] { return now_unix(); };
  KG_CHECK(ks->unlock(std::move(master_key)));
  ks->target_ = db_path;
  if (ks->db_.backend() == db::Backend::postgres) {
    // One channel per keystore: NOTIFY channels belong to the whole database, and keystores in
    // other schemas of it must not clear this one's caches (nor pass for its notifications).
    KG_TRY(channel, ks->db_.prepare("SELECT 'keygate_' || substr(md5(current_database() || '.' || "
                                    "current_schema()), 1, 16)"));
    KG_TRY(has_row, channel->step());
    if (!*has_row) {
      return fail(Error::internal("PostgreSQL did not name the current schema"));
    }
    ks->change_channel_ = channel->column_text(0);
  }
  return ks;
}

Result<void> Keystore::listen_for_changes() {
  std::lock_guard lock(mu_);
  if (change_channel_.empty() || listener_) {
    return {};  // SQLite (one process writes through this keystore), or already listening
  }
  KG_TRY(listener, pg::Listener::start(target_, change_channel_, [this] { cache_.clear(); }));
  listener_ = std::move(*listener);
  return {};
}

void Keystore::announce_change() {
  cache_.clear();
  if (!change_channel_.empty()) {
    // Delivered to every listener, this process's too, when no transaction is open (the write's
    // has ended by now). If it is lost, other instances' entries still expire with their TTL.
    (void)db_.exec("NOTIFY " + change_channel_);
  }
}

KeystoreStatus Keystore::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

Result<void> Keystore::ping() {
  std::lock_guard lock(mu_);
  return db_.exec("SELECT 1 FROM meta LIMIT 1");  // reads storage, not just the connection
}

std::optional<Keystore::ChangeListener> Keystore::change_listener() const {
  std::lock_guard lock(mu_);  // listener_ is set by listen_for_changes()
  if (!listener_) {
    return std::nullopt;
  }
  return ChangeListener{listener_->connected(), listener_->connections()};
}

void Keystore::set_clock_for_testing(std::function<int64_t()> clock) {
  std::lock_guard lock(mu_);
  clock_ = std::move(clock);
}

Result<void> Keystore::require_ready() const {
  if (!status_.ready) {
    return fail(Error::unavailable(status_.message, "keystore_sealed"));
  }
  return {};
}

// Decides, once at open, whether this master key is the database's; only then are the sealer
// and the token key made available. Every other outcome leaves the keystore sealed with a
// message an operator can act on.
Result<void> Keystore::unlock(std::optional<MasterKeyMaterial> master_key) {
  KG_TRY(version, meta::get_int(db_, meta::kMasterKeyVersion));
  KG_TRY(check, meta::get_text(db_, meta::kMasterKeyCheck));
  status_ = {};
  status_.master_key_version = version->value_or(0);
  if (!master_key) {
    status_.message =
        "no master key loaded: keygate cannot serve provider keys or authenticate anyone";
    return {};
  }
  std::string presented = master_key_check_value(master_key->key);

  if (!*check) {
    // Fresh database: adopt this key as version 1 and create the token pepper. A database that
    // already holds tokens or keys but lost its meta rows must not silently adopt a new key: its
    // rows would never open again.
    KG_TRY(tx, db::transaction(db_));
    KG_TRY(used, db_.prepare("SELECT (SELECT count(*) FROM tokens) + "
                             "(SELECT count(*) FROM provider_keys)"));
    KG_TRY(counted, used->step());
    if (*counted && used->column_int(0) > 0) {
      status_.message =
          "database holds tokens or keys but no master key check value; refusing "
          "to adopt a new master key";
      return {};
    }
    used->reset();
    Sealer sealer(master_key->key, 1);
    SecretKey pepper = SecretKey::random(32);
    KG_CHECK(meta::put_text(db_, meta::kMasterKeyVersion, "1"));
    KG_CHECK(meta::put_text(db_, meta::kMasterKeyCheck, presented));
    KG_CHECK(meta::put(db_, meta::kTokenPepper, seal_pepper(sealer, pepper)));
    KG_CHECK(tx->commit());
    *version = 1;
    *check = presented;
    status_.master_key_version = 1;
  }
  if (!*version) {
    return fail(Error::internal("database meta has a master key check value but no version"));
  }

  // The check value is a MAC, not a secret, so a plain comparison is fine.
  if (presented != **check) {
    KG_TRY(target_check, meta::get_text(db_, meta::kRotationCheck));
    if (*target_check && **target_check == presented) {
      status_.message =
          "this master key (" + master_key->origin +
          ") is the target of an unfinished rotation; open with the previous master key and "
          "re-run `keygate rotate-master-key` with this key file";
    } else {
      status_.message = "master key does not match this database (" + master_key->origin +
                        "): keygate cannot serve provider keys or authenticate anyone";
    }
    return {};
  }

  auto sealer = std::make_unique<Sealer>(master_key->key, **version);
  KG_TRY(sealed_pepper, meta::get(db_, meta::kTokenPepper));
  if (!*sealed_pepper) {
    status_.message = "database meta lacks the token pepper: tokens cannot be verified";
    return {};
  }
  auto pepper = open_pepper(*sealer, **sealed_pepper);
  if (!pepper) {
    status_.message = "token pepper cannot be opened: " + pepper.error().message;
    return {};
  }
  {
    std::unique_lock material(material_mu_);
    token_key_ = derive_subkey(*pepper, Subkey::token_hash);
    sealer_ = std::move(sealer);
  }
  cache_.clear();
  master_ = std::move(master_key);
  status_.ready = true;

  KG_TRY(target_version, meta::get_int(db_, meta::kRotationVersion));
  if (*target_version) {
    status_.message = "master key rotation to version " + std::to_string(**target_version) +
                      " is unfinished: keys already re-sealed cannot be used until "
                      "`keygate rotate-master-key` is re-run with the same new key file";
  }
  return {};
}

}  // namespace keygate
