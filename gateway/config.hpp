#pragma once
// keygate's runtime configuration: defaults, the JSON config file (comments and trailing commas
// allowed), then command-line flags, each overriding the one before.

#include <rapidjson/document.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "gateway/rate_limits.hpp"
#include "gateway/spend_limits.hpp"
#include "router/circuit_breaker.hpp"
#include "router/retry_policy.hpp"
#include "schema/error.hpp"

namespace keygate::gateway {

using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

struct ServerLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  Millis header_read_timeout{10'000};  // whole request header must arrive within this (slowloris)
  Millis body_read_timeout{60'000};
  Millis idle_timeout{75'000};   // keep-alive connection with no request
  Millis write_timeout{60'000};  // a client that stops reading is dropped
  std::size_t max_connections = 10'000;
  Millis shutdown_grace{30'000};
};

struct UpstreamLimits {
  Millis connect_timeout{10'000};
  Millis first_byte_timeout{120'000};  // request sent → response header (models can think long)
  Millis idle_timeout{120'000};        // between two body reads; no total timeout for streams
  std::size_t max_response_bytes = 64 * 1024 * 1024;  // non-stream bodies and error bodies
  std::size_t max_idle_per_host = 512;
  Millis pool_idle_ttl{60'000};
  Millis dns_ttl{30'000};
};

struct Config {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  int threads = 0;  // 0: one per core
  std::string data_dir = "./data";
  // Where users, tokens, keys, agents and usage live: empty for DATA/keygate.db (SQLite), or a
  // postgres:// URI for a PostgreSQL server that several instances share (keystore/database.hpp).
  // A password in it never reaches a log or a message (pg::redact_target); libpq also reads
  // PGPASSWORD and ~/.pgpass.
  std::string database;
  std::string master_key_file;
  ServerLimits server;
  UpstreamLimits upstream;
  // The config file's "providers" object, applied to the catalog at start (see the contract).
  std::shared_ptr<rapidjson::Document> providers;
  std::map<std::string, std::string> model_aliases;  // "fast" -> "openai/gpt-4o-mini"
  // "routing": retries and the per-provider circuit breaker (router/).
  router::RetryPolicy retry;
  router::CircuitBreakerOptions breaker;
  // "system_key_budget": what the operator's keys may spend for each user a period
  // (gateway/spend_limits.hpp); users' own budgets are set through the admin API.
  SpendPolicy system_key_budget;
  // "rate_limit": model calls a user may start a minute (gateway/rate_limits.hpp).
  RatePolicy rate_limit;
};

// Parses a config file's text. Unknown top-level keys are an error (typos must not be silent).
Result<Config> parse_config(std::string_view json, Config base = {});
Result<Config> load_config_file(const std::string& path, Config base = {});
// "HOST:PORT", "[::1]:PORT" or ":PORT".
Result<void> apply_listen(Config& config, std::string_view host_port);
int effective_threads(const Config& config);
// The database the keystore, the usage writer and the reports open: `database`, or else the
// SQLite file in the data directory.
std::string database_target(const Config& config);

}  // namespace keygate::gateway
