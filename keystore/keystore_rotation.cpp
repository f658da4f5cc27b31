// Keystore: master key rotation. The protocol and its crash behaviour are described in
// keystore.hpp; the invariant is that every row is, at every instant, sealed under exactly the
// version its master_key_version column names, and meta names the key that opens the pepper.

#include "keystore/keystore.hpp"
#include "keystore/meta.hpp"
#include "keystore/pepper.hpp"
#include "schema/try.hpp"

namespace keygate {

namespace {

struct Row {
  std::string id;
  std::optional<std::string> user_id;
  std::string provider;
  Sealed sealed;
};

Result<std::optional<Row>> read_row(db::Database& db, const std::string& id) {
  KG_TRY(stmt, db.prepare("SELECT user_id, provider, ciphertext, nonce, master_key_version "
                          "FROM provider_keys WHERE id = ?"));
  stmt->bind(1, id);
  KG_TRY(found, stmt->step());
  if (!*found) {
    return std::optional<Row>{};  // deleted since the id list was read
  }
  return std::optional<Row>(
      Row{id, stmt->column_opt_text(0), stmt->column_text(1),
          Sealed{stmt->column_blob(2), stmt->column_blob(3), stmt->column_int(4)}});
}

SealContext context_of(const Row& row) {
  return {row.id, row.user_id.value_or("system"), row.provider};
}

}  // namespace

Result<RotationReport> Keystore::rotate_master_key(MasterKeyMaterial new_key,
                                                   int64_t test_stop_after_rows) {
  std::lock_guard lock(mu_);
  KG_CHECK(require_ready());
  RotationReport report;
  report.from_version = sealer_->version();
  std::string new_check = master_key_check_value(new_key.key);
  if (new_check == master_key_check_value(master_->key)) {
    return fail(Error::invalid_request("The new master key is the current master key."));
  }

  // Step 1: record the target, or resume the recorded one. A different new key while a rotation
  // is unfinished would leave rows sealed under two different "next" keys, so it is refused.
  KG_TRY(pending_version, meta::get_int(db_, meta::kRotationVersion));
  KG_TRY(pending_check, meta::get_text(db_, meta::kRotationCheck));
  if (*pending_version) {
    if (!*pending_check || **pending_check != new_check) {
      return fail(Error::conflict(
          "An unfinished rotation to master key version " + std::to_string(**pending_version) +
          " used a different key file; re-run with that key file to finish it first."));
    }
    report.to_version = **pending_version;
  } else {
    report.to_version = report.from_version + 1;
    KG_TRY(tx, db::transaction(db_));
    KG_CHECK(meta::put_text(db_, meta::kRotationVersion, std::to_string(report.to_version)));
    KG_CHECK(meta::put_text(db_, meta::kRotationCheck, new_check));
    KG_CHECK(tx->commit());
  }
  Sealer next(new_key.key, report.to_version);

  // Step 2: each row in its own transaction, so a crash loses at most the row in flight (which
  // then simply still carries the old version).
  std::vector<std::string> ids;
  {
    KG_TRY(stmt, db_.prepare("SELECT id, master_key_version FROM provider_keys ORDER BY id"));
    while (true) {
      KG_TRY(row, stmt->step());
      if (!*row) {
        break;
      }
      if (stmt->column_int(1) == report.to_version) {
        ++report.skipped;
      } else {
        ids.push_back(stmt->column_text(0));
      }
    }
  }
  for (const std::string& id : ids) {
    if (test_stop_after_rows >= 0 && report.resealed >= test_stop_after_rows) {
      return report;  // finished == false: simulated crash
    }
    KG_TRY(tx, db::transaction(db_));
    KG_TRY(row, read_row(db_, id));
    if (!*row || (*row)->sealed.master_key_version == report.to_version) {
      continue;
    }
    KG_TRY(plain, sealer_->open((*row)->sealed, context_of(**row)));
    Sealed resealed = next.seal(*plain, context_of(**row));
    KG_TRY(update, db_.prepare("UPDATE provider_keys SET ciphertext = ?, nonce = ?, "
                               "master_key_version = ? WHERE id = ?"));
    update->bind(1, resealed.ciphertext)
        .bind(2, resealed.nonce)
        .bind(3, resealed.master_key_version)
        .bind(4, id);
    KG_CHECK(update->run());
    KG_CHECK(tx->commit());
    ++report.resealed;
  }

  // Step 3: one transaction switches the pepper, version and check value together.
  KG_TRY(stored_pepper, meta::get(db_, meta::kTokenPepper));
  if (!*stored_pepper) {
    return fail(Error::internal("database meta lacks the token pepper"));
  }
  KG_TRY(pepper, open_pepper(*sealer_, **stored_pepper));
  {
    KG_TRY(tx, db::transaction(db_));
    KG_CHECK(meta::put(db_, meta::kTokenPepper, seal_pepper(next, *pepper)));
    KG_CHECK(meta::put_text(db_, meta::kMasterKeyVersion, std::to_string(report.to_version)));
    KG_CHECK(meta::put_text(db_, meta::kMasterKeyCheck, new_check));
    KG_CHECK(meta::erase(db_, meta::kRotationVersion));
    KG_CHECK(meta::erase(db_, meta::kRotationCheck));
    KG_CHECK(tx->commit());
  }
  {
    std::unique_lock material(material_mu_);
    sealer_ = std::make_unique<Sealer>(std::move(next));
  }
  announce_change();  // every instance: rows sealed under the old key are gone
  master_ = std::move(new_key);
  status_ = KeystoreStatus{true, "", report.to_version};
  report.finished = true;
  return report;
}

}  // namespace keygate
