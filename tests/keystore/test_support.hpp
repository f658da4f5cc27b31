#pragma once
// Shared by the keystore tests: a temporary directory that removes itself, and helpers that
// open a real SQLite keystore inside it.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

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

inline std::unique_ptr<Keystore> open_keystore(const std::string& db_path, unsigned char fill = 1) {
  auto ks = Keystore::open(db_path, test_master_key(fill));
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
