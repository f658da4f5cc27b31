#pragma once
// Plain records the keystore hands out. None of them holds a secret: tokens and provider keys
// appear only masked. Times are unix seconds.

#include <cstdint>
#include <optional>
#include <string>

#include "keystore/secret.hpp"

namespace keygate {

struct User {
  std::string id;  // usr_...
  std::string name;
  bool admin = false;
  int64_t created_at = 0;
  bool disabled = false;
  // What the operator's keys may spend for this user a period; nullopt: the configuration's
  // default (gateway/spend_limits.hpp).
  std::optional<double> system_key_budget_usd;
  // Model calls this user may start a minute; nullopt: the configuration's default
  // (gateway/rate_limits.hpp).
  std::optional<int64_t> requests_per_minute;
  // Tokens this user's calls may use a minute; nullopt: the configuration's default.
  std::optional<int64_t> tokens_per_minute;
};

// An operator's change to a user's limits: a member that is set changes (to its value, or back
// to the configured default when that value is nullopt).
struct UserLimitsPatch {
  std::optional<std::optional<double>> system_key_budget_usd;
  std::optional<std::optional<int64_t>> requests_per_minute;
  std::optional<std::optional<int64_t>> tokens_per_minute;
};

struct TokenInfo {
  std::string id;  // tok_...
  std::string user_id;
  std::string name;
  std::string masked;  // kg_...abcd
  int64_t created_at = 0;
  std::optional<int64_t> expires_at;
  std::optional<int64_t> revoked_at;
  std::optional<int64_t> last_used_at;
};

struct KeyRecord {
  std::string id;                      // key_...
  std::string scope;                   // "user" | "system"
  std::optional<std::string> user_id;  // nullopt for system keys
  std::string provider;
  std::string name;
  std::string description;
  std::string masked;      // sk-...1234
  std::string status;      // stored: active | inactive | error | revoked
  int64_t priority = 100;  // lower wins
  std::optional<int64_t> expires_at;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> last_used_at;
  std::optional<int64_t> last_tested_at;
  std::optional<std::string> last_error;

  // The status API clients see: "expired" once past expires_at (unless revoked).
  std::string effective_status(int64_t now) const {
    if (status != "revoked" && expires_at && *expires_at <= now) {
      return "expired";
    }
    return status;
  }
};

struct Agent {
  std::string user_id;
  std::string name;
  std::string model;  // provider/model, alias or bare name, resolved by the router
  std::string params_json = "{}";
  std::string fallbacks_json = "[]";
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct AuditEntry {
  int64_t id = 0;  // assigned by record_audit
  int64_t at = 0;  // 0: now
  std::optional<std::string> actor_user_id;
  std::optional<std::string> actor_name;
  std::string action;  // e.g. "key.create", "token.revoke"
  std::optional<std::string> target_type;
  std::optional<std::string> target_id;
  std::optional<std::string> remote_addr;
  std::optional<std::string> detail;  // human text; never a secret
};

// Who a request is, once its token is authenticated.
struct Identity {
  std::string user_id;
  std::string user_name;
  bool admin = false;
  std::string token_id;
};

// A new user and the plaintext of their first token (shown once).
struct CreatedUser {
  User user;
  TokenInfo token_info;
  std::string token;
};

struct CreatedToken {
  TokenInfo info;
  std::string token;  // shown once
};

// The decrypted key a request will use. Live only while the upstream request is built.
struct ResolvedKey {
  SecretKey secret;
  std::string source;  // "user" | "system"
  std::string key_id;
};

struct KeyPatch {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<bool> is_active;
  std::optional<std::optional<int64_t>> expires_at;  // set: new value; set to nullopt: clear
  std::optional<int64_t> priority;
  std::optional<SecretKey> api_key;  // replaces the secret (fresh nonce)
};

struct KeystoreStatus {
  bool ready = false;   // provider keys can be served and tokens authenticated
  std::string message;  // why not, or a warning (unfinished rotation)
  int64_t master_key_version = 0;
};

struct RotationReport {
  int64_t from_version = 0;
  int64_t to_version = 0;
  int64_t resealed = 0;   // rows re-sealed by this run
  int64_t skipped = 0;    // rows already at the new version (an earlier, interrupted run)
  bool finished = false;  // false only when stopped by the test hook
};

}  // namespace keygate
