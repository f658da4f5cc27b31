#pragma once
// Shared by the keystore tests: a temporary directory that removes itself, and helpers that
// open a real keystore inside it: a SQLite file, or, when KEYGATE_TEST_POSTGRES names a server
// (CTest's "postgres:" tests, tests/postgres_server.sh), a schema of its own on that server.

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "keystore/database.hpp"
#include "keystore/keystore.hpp"

namespace keygate::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "keygate-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A fixed key, so tests can reopen a database with "the same" master key.
inline MasterKeyMaterial test_master_key(unsigned char fill) {
  SecretKey key = SecretKey::zeroed(kMasterKeyBytes);
  for (size_t i = 0; i < key.size(); ++i) {
    key.mutable_data()[i] = static_cast<unsigned char>(fill + i);
  }
  return MasterKeyMaterial{std::move(key), "test key"};
}

// Where a test's database lives: `db_path` itself (SQLite), or on the PostgreSQL server in
// KEYGATE_TEST_POSTGRES, a schema named after `db_path`, so that opening the same path again
// reopens the same database and two paths are two databases.
inline std::string store_target(const std::string& db_path) {
  const char* server = std::getenv("KEYGATE_TEST_POSTGRES");
  if (server == nullptr || *server == '\0' || pg::is_postgres_target(db_path)) {
    return db_path;
  }
  std::string schema = "t_";
  for (char c : db_path) {
    schema +=
        std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  }
  schema = schema.substr(0, 63);  // PostgreSQL's name limit
  auto admin = pg::Connection::open(server);
  REQUIRE(admin.has_value());
  REQUIRE((*admin)->exec("CREATE SCHEMA IF NOT EXISTS " + schema).has_value());
  return std::string(server) + "&options=-c%20search_path%3D" + schema;
}

inline bool on_postgres() {
  const char* server = std::getenv("KEYGATE_TEST_POSTGRES");
  return server != nullptr && *server != '\0';
}

inline std::unique_ptr<Keystore> open_keystore(const std::string& db_path, unsigned char fill = 1) {
  auto ks = Keystore::open(store_target(db_path), test_master_key(fill));
  INFO((ks.has_value() ? std::string() : ks.error().message));
  REQUIRE(ks.has_value());
  return std::move(*ks);
}

// The id of a fresh user.
inline std::string make_user(Keystore& ks, const std::string& name, bool admin = false) {
  auto u = ks.create_user(name, admin);
  REQUIRE(u.has_value());
  return u->user.id;
}

}  // namespace keygate::testing
