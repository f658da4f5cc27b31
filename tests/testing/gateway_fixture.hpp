#pragma once
// A real keygate (the same App that `keygate serve` runs) in-process on 127.0.0.1, port 0, with a
// fresh data directory (real SQLite file, real master key), a user and an admin with tokens.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "gateway/app.hpp"

namespace keygate::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

struct GatewayOptions {
  // Provider name -> base_url (e.g. {"openai", mock.base_url("/v1")}).
  std::vector<std::pair<std::string, std::string>> base_urls;
  // Extra JSON members for the config file (e.g. R"("models": {"fast": "openai/gpt-4o-mini"})").
  std::string extra_config;
  std::function<void(gateway::Config&)> tweak;
  // A postgres:// URI (postgres_test_database()) instead of SQLite in the data directory.
  std::string database;
  // Another instance's master key file: two instances sharing one database need the same key.
  std::string master_key_file;
  // Create admin, alice and bob (their tokens fill the fields below); off for an instance that
  // joins a database another one set up.
  bool create_users = true;
};

// A database of its own on the PostgreSQL server in KEYGATE_TEST_POSTGRES (CTest's throwaway
// server, tests/postgres_server.sh): a fresh schema named `name`, as a URI whose search_path
// points at it. Throws when the variable is unset.
std::string postgres_test_database(const std::string& name);

class TestGateway {
 public:
  explicit TestGateway(GatewayOptions options = {});
  ~TestGateway();

  uint16_t port() const { return port_; }
  gateway::App& app() { return *app_; }
  Keystore& keystore() { return app_->keystore(); }
  const std::string& data_dir() const { return data_dir_; }
  // Stops the server (drain) and waits for it.
  void stop();
  // The first column of `sql`'s first row, read from the SQLite database file (throws when the
  // query fails or finds no row).
  int64_t query_int(const std::string& sql);
  // Usage rows are stored by the writer thread after the answer went out: waits (at most 5 s)
  // until the table holds `n` rows rather than racing it, and returns how many it holds.
  int64_t wait_usage_rows(int64_t n);

  std::string admin_token;
  std::string user_token;  // user "alice"
  std::string user_id;
  std::string other_token;  // user "bob"
  std::string other_id;

 private:
  TempDir dir_;
  std::string data_dir_;
  std::unique_ptr<gateway::App> app_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

// Options for a keygate that restarts on `data_dir` (another TestGateway's, stopped first): the
// same master key, and no users created (the first one's tokens still work).
GatewayOptions reopening(const std::string& data_dir);

std::string chat_body(const std::string& model = "openai/gpt-4o-mini", bool stream = false,
                      const std::string& extra = "");

}  // namespace keygate::testing
