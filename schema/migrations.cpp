#include "schema/migrations.hpp"

#include <array>

namespace keygate {

namespace {

// Times are unix seconds (INTEGER) unless the column name ends in _ms. Secrets never appear in
// plaintext: tokens are stored as a keyed hash, provider keys as AEAD ciphertext.
constexpr std::string_view kInitial = R"sql(
CREATE TABLE users (
  id          TEXT PRIMARY KEY,                    -- usr_<random>
  name        TEXT NOT NULL UNIQUE,
  role        TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  created_at  INTEGER NOT NULL,
  disabled    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE tokens (
  id            TEXT PRIMARY KEY,                  -- tok_<random>
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  hash          BLOB NOT NULL UNIQUE,              -- keyed BLAKE2b-256 of the token
  masked        TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER,
  revoked_at    INTEGER,
  last_used_at  INTEGER
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE provider_keys (
  id                  TEXT PRIMARY KEY,            -- key_<random>
  scope               TEXT NOT NULL CHECK (scope IN ('user', 'system')),
  user_id             TEXT REFERENCES users(id) ON DELETE CASCADE,
  provider            TEXT NOT NULL,
  name                TEXT NOT NULL DEFAULT '',
  description         TEXT NOT NULL DEFAULT '',
  ciphertext          BLOB NOT NULL,               -- XChaCha20-Poly1305, tag included
  nonce               BLOB NOT NULL,
  master_key_version  INTEGER NOT NULL,
  masked              TEXT NOT NULL,
  status              TEXT NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'inactive', 'error', 'revoked')),
  priority            INTEGER NOT NULL DEFAULT 100,
  expires_at          INTEGER,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  last_used_at        INTEGER,
  last_tested_at      INTEGER,
  last_error          TEXT,
  CHECK ((scope = 'system') = (user_id IS NULL))
);
CREATE INDEX provider_keys_owner ON provider_keys(user_id, provider);
CREATE INDEX provider_keys_system ON provider_keys(scope, provider);

CREATE TABLE agents (
  user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name            TEXT NOT NULL,
  model           TEXT NOT NULL,
  params_json     TEXT NOT NULL DEFAULT '{}',
  fallbacks_json  TEXT NOT NULL DEFAULT '[]',
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (user_id, name)
);

-- Who did what. Never holds a secret: targets are ids, details are human text.
CREATE TABLE audit_log (
  id             INTEGER PRIMARY KEY,
  at             INTEGER NOT NULL,
  actor_user_id  TEXT,
  actor_name     TEXT,
  action         TEXT NOT NULL,
  target_type    TEXT,
  target_id      TEXT,
  remote_addr    TEXT,
  detail         TEXT
);

-- Master key check value and version, the sealed token pepper, rotation state.
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  BLOB
);

CREATE TABLE usage (
  request_id         TEXT PRIMARY KEY,
  started_at_ms      INTEGER NOT NULL,
  user_id            TEXT,
  token_id           TEXT,
  agent              TEXT,
  provider           TEXT,
  model_requested    TEXT,
  model_served       TEXT,
  key_source         TEXT,                         -- user | system | env | none
  key_id             TEXT,
  prompt_tokens      INTEGER NOT NULL DEFAULT 0,
  completion_tokens  INTEGER NOT NULL DEFAULT 0,
  cached_tokens      INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens   INTEGER NOT NULL DEFAULT 0,
  usage_known        TEXT NOT NULL DEFAULT 'unknown'
                     CHECK (usage_known IN ('reported', 'estimated', 'unknown')),
  cost_usd           REAL,
  latency_ms         INTEGER,
  ttft_ms            INTEGER,
  upstream_status    INTEGER,
  stream             INTEGER NOT NULL DEFAULT 0,
  outcome            TEXT,
  day                TEXT NOT NULL                 -- YYYY-MM-DD (UTC) of started_at_ms
);
CREATE INDEX usage_day ON usage(day);
CREATE INDEX usage_user_day ON usage(user_id, day);
CREATE INDEX usage_provider_model ON usage(provider, model_served);
)sql";

// Usage, rebuilt: one row per upstream call rather than per request (a request that falls back
// to a second provider makes two calls under one request_id, which the old primary key refused),
// and indexes for the report queries, which always filter on started_at_ms (optionally per user).
// Deliberately no index on request_id: every index costs each insert a B-tree update, and nothing
// looks rows up by request id yet.
constexpr std::string_view kUsagePerCall = R"sql(
CREATE TABLE usage_v2 (
  id                 INTEGER PRIMARY KEY,
  request_id         TEXT NOT NULL,
  started_at_ms      INTEGER NOT NULL,
  user_id            TEXT,
  token_id           TEXT,
  agent              TEXT,
  provider           TEXT,
  model_requested    TEXT,
  model_served       TEXT,
  key_source         TEXT,                         -- user | system | env | none
  key_id             TEXT,
  prompt_tokens      INTEGER NOT NULL DEFAULT 0,
  completion_tokens  INTEGER NOT NULL DEFAULT 0,
  cached_tokens      INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens   INTEGER NOT NULL DEFAULT 0,
  usage_known        TEXT NOT NULL DEFAULT 'unknown'
                     CHECK (usage_known IN ('reported', 'estimated', 'unknown')),
  cost_usd           REAL,
  latency_ms         INTEGER,
  ttft_ms            INTEGER,
  upstream_status    INTEGER,
  stream             INTEGER NOT NULL DEFAULT 0,
  outcome            TEXT,
  day                TEXT NOT NULL                 -- YYYY-MM-DD (UTC) of started_at_ms
);
INSERT INTO usage_v2 (request_id, started_at_ms, user_id, token_id, agent, provider,
                      model_requested, model_served, key_source, key_id, prompt_tokens,
                      completion_tokens, cached_tokens, reasoning_tokens, usage_known, cost_usd,
                      latency_ms, ttft_ms, upstream_status, stream, outcome, day)
  SELECT request_id, started_at_ms, user_id, token_id, agent, provider, model_requested,
         model_served, key_source, key_id, prompt_tokens, completion_tokens, cached_tokens,
         reasoning_tokens, usage_known, cost_usd, latency_ms, ttft_ms, upstream_status, stream,
         outcome, day
  FROM usage ORDER BY started_at_ms;
DROP TABLE usage;
ALTER TABLE usage_v2 RENAME TO usage;
CREATE INDEX usage_started ON usage(started_at_ms);
CREATE INDEX usage_user_started ON usage(user_id, started_at_ms);
)sql";

// Usage rows say what a call's cost was made of: prompt tokens written to the provider's cache
// (billed above plain input) and web searches (billed per search), next to cached_tokens.
constexpr std::string_view kUsageCacheWritesAndSearches = R"sql(
ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;
)sql";

// A user's own limit on what the operator's keys may spend for them a period (NULL: the
// configuration's default applies). gateway/spend_limits.hpp enforces it.
constexpr std::string_view kUserSystemKeyBudget = R"sql(
ALTER TABLE users ADD COLUMN system_key_budget_usd REAL;
)sql";

// A user's own limit on model calls a minute (NULL: the configuration's default applies).
// gateway/rate_limits.hpp enforces it.
constexpr std::string_view kUserRequestsPerMinute = R"sql(
ALTER TABLE users ADD COLUMN requests_per_minute INTEGER;
)sql";

// A user's own limit on the tokens their calls may use a minute (NULL: the configuration's
// default applies). gateway/rate_limits.hpp enforces it.
constexpr std::string_view kUserTokensPerMinute = R"sql(
ALTER TABLE users ADD COLUMN tokens_per_minute INTEGER;
)sql";

// PostgreSQL: the same tables as SQLite's schema at version 2, in PostgreSQL's types (BIGINT for
// SQLite's INTEGER, BYTEA for BLOB). provider_keys and usage get identity columns where SQLite
// uses its implicit rowid: `seq` orders keys created in the same second, as rowid does there.
constexpr std::string_view kPostgresInitial = R"sql(
CREATE TABLE users (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  role        TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  created_at  BIGINT NOT NULL,
  disabled    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE tokens (
  id            TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  hash          BYTEA NOT NULL UNIQUE,
  masked        TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT,
  revoked_at    BIGINT,
  last_used_at  BIGINT
);
CREATE INDEX tokens_user ON tokens(user_id);
CREATE TABLE provider_keys (
  id                  TEXT PRIMARY KEY,
  seq                 BIGINT GENERATED ALWAYS AS IDENTITY,
  scope               TEXT NOT NULL CHECK (scope IN ('user', 'system')),
  user_id             TEXT REFERENCES users(id) ON DELETE CASCADE,
  provider            TEXT NOT NULL,
  name                TEXT NOT NULL DEFAULT '',
  description         TEXT NOT NULL DEFAULT '',
  ciphertext          BYTEA NOT NULL,
  nonce               BYTEA NOT NULL,
  master_key_version  BIGINT NOT NULL,
  masked              TEXT NOT NULL,
  status              TEXT NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'inactive', 'error', 'revoked')),
  priority            BIGINT NOT NULL DEFAULT 100,
  expires_at          BIGINT,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL,
  last_used_at        BIGINT,
  last_tested_at      BIGINT,
  last_error          TEXT,
  CHECK ((scope = 'system') = (user_id IS NULL))
);
CREATE INDEX provider_keys_owner ON provider_keys(user_id, provider);
CREATE INDEX provider_keys_system ON provider_keys(scope, provider);
CREATE TABLE agents (
  user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name            TEXT NOT NULL,
  model           TEXT NOT NULL,
  params_json     TEXT NOT NULL DEFAULT '{}',
  fallbacks_json  TEXT NOT NULL DEFAULT '[]',
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  PRIMARY KEY (user_id, name)
);
CREATE TABLE audit_log (
  id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  at             BIGINT NOT NULL,
  actor_user_id  TEXT,
  actor_name     TEXT,
  action         TEXT NOT NULL,
  target_type    TEXT,
  target_id      TEXT,
  remote_addr    TEXT,
  detail         TEXT
);
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  BYTEA
);
CREATE TABLE usage (
  id                 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  request_id         TEXT NOT NULL,
  started_at_ms      BIGINT NOT NULL,
  user_id            TEXT,
  token_id           TEXT,
  agent              TEXT,
  provider           TEXT,
  model_requested    TEXT,
  model_served       TEXT,
  key_source         TEXT,
  key_id             TEXT,
  prompt_tokens      BIGINT NOT NULL DEFAULT 0,
  completion_tokens  BIGINT NOT NULL DEFAULT 0,
  cached_tokens      BIGINT NOT NULL DEFAULT 0,
  reasoning_tokens   BIGINT NOT NULL DEFAULT 0,
  usage_known        TEXT NOT NULL DEFAULT 'unknown'
                     CHECK (usage_known IN ('reported', 'estimated', 'unknown')),
  cost_usd           DOUBLE PRECISION,
  latency_ms         BIGINT,
  ttft_ms            BIGINT,
  upstream_status    BIGINT,
  stream             BIGINT NOT NULL DEFAULT 0,
  outcome            TEXT,
  day                TEXT NOT NULL
);
CREATE INDEX usage_started ON usage(started_at_ms);
CREATE INDEX usage_user_started ON usage(user_id, started_at_ms);
)sql";

constexpr std::string_view kPostgresUsageCacheWritesAndSearches = R"sql(
ALTER TABLE usage ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN web_search_requests BIGINT NOT NULL DEFAULT 0;
)sql";

constexpr std::string_view kPostgresUserSystemKeyBudget = R"sql(
ALTER TABLE users ADD COLUMN system_key_budget_usd DOUBLE PRECISION;
)sql";

constexpr std::string_view kPostgresUserRequestsPerMinute = R"sql(
ALTER TABLE users ADD COLUMN requests_per_minute BIGINT;
)sql";

constexpr std::string_view kPostgresUserTokensPerMinute = R"sql(
ALTER TABLE users ADD COLUMN tokens_per_minute BIGINT;
)sql";

constexpr std::array kMigrations = {
    Migration{1, "initial schema", kInitial},
    Migration{2, "usage rows per upstream call", kUsagePerCall},
    Migration{3, "usage cache writes and web searches", kUsageCacheWritesAndSearches},
    Migration{4, "per-user budget on the operator's keys", kUserSystemKeyBudget},
    Migration{5, "per-user request rate limit", kUserRequestsPerMinute},
    Migration{6, "per-user token rate limit", kUserTokensPerMinute},
};

constexpr std::array kPostgresMigrations = {
    Migration{1, "initial schema", kPostgresInitial},
    Migration{2, "usage cache writes and web searches", kPostgresUsageCacheWritesAndSearches},
    Migration{3, "per-user budget on the operator's keys", kPostgresUserSystemKeyBudget},
    Migration{4, "per-user request rate limit", kPostgresUserRequestsPerMinute},
    Migration{5, "per-user token rate limit", kPostgresUserTokensPerMinute},
};

}  // namespace

std::span<const Migration> postgres_migrations() {
  return kPostgresMigrations;
}

int latest_postgres_schema_version() {
  return kPostgresMigrations.back().version;
}

std::span<const Migration> migrations() {
  return kMigrations;
}

int latest_schema_version() {
  return kMigrations.back().version;
}

}  // namespace keygate
