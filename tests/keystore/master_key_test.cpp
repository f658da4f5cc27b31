#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "keystore/master_key.hpp"
#include "test_support.hpp"

using namespace keygate;

namespace {
// Every test here sets or clears the environment variable the loader reads first.
struct EnvGuard {
  EnvGuard() { ::unsetenv(kMasterKeyEnv); }
  ~EnvGuard() { ::unsetenv(kMasterKeyEnv); }
};
}  // namespace

TEST_CASE("create_master_key_file writes 0600 base64 and refuses to overwrite", "[master_key]") {
  REQUIRE(crypto_init().has_value());
  EnvGuard env;
  testing::TempDir dir;
  std::string path = dir.file("master.key");
  REQUIRE(create_master_key_file(path).has_value());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = create_master_key_file(path);
  CHECK_FALSE(again.has_value());

  auto loaded = load_master_key(MasterKeySource{dir.path(), ""});
  REQUIRE(loaded.has_value());
  CHECK(loaded->key.size() == 32);
  CHECK(loaded->origin == path);
}

TEST_CASE("a group/world readable key file is refused with a clear error", "[master_key]") {
  REQUIRE(crypto_init().has_value());
  EnvGuard env;
  testing::TempDir dir;
  std::string path = dir.file("master.key");
  REQUIRE(create_master_key_file(path).has_value());
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  auto r = read_master_key_file(path);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("chmod 600") != std::string::npos);
  CHECK(r.error().code == "master_key_insecure");
}

TEST_CASE("load order: env beats --master-key-file beats DATA/master.key", "[master_key]") {
  REQUIRE(crypto_init().has_value());
  EnvGuard env;
  testing::TempDir dir;
  REQUIRE(create_master_key_file(dir.file("master.key")).has_value());
  REQUIRE(create_master_key_file(dir.file("other.key")).has_value());

  auto from_data = load_master_key(MasterKeySource{dir.path(), ""});
  auto from_file = load_master_key(MasterKeySource{dir.path(), dir.file("other.key")});
  REQUIRE(from_data.has_value());
  REQUIRE(from_file.has_value());
  CHECK(from_file->origin == dir.file("other.key"));
  CHECK(from_file->key.expose() != from_data->key.expose());

  ::setenv(kMasterKeyEnv, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
  auto from_env = load_master_key(MasterKeySource{dir.path(), dir.file("other.key")});
  REQUIRE(from_env.has_value());
  CHECK(from_env->origin.find("environment") != std::string::npos);
  CHECK(static_cast<unsigned char>(from_env->key.expose()[31]) == 31);
}

TEST_CASE("bad base64 and missing keys give actionable errors", "[master_key]") {
  REQUIRE(crypto_init().has_value());
  EnvGuard env;
  testing::TempDir dir;
  auto missing = load_master_key(MasterKeySource{dir.path(), ""});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == "master_key_missing");
  CHECK(missing.error().status == 503);

  CHECK_FALSE(master_key_from_base64("not base64!", "x").has_value());
  CHECK_FALSE(master_key_from_base64("AAECAw==", "x").has_value());  // 4 bytes
  // 33 bytes
  CHECK_FALSE(
      master_key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", "x").has_value());
  CHECK(master_key_from_base64(" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "x").has_value());
}

TEST_CASE("subkeys differ by id and the check value identifies the key", "[master_key]") {
  REQUIRE(crypto_init().has_value());
  auto a = testing::test_master_key(1);
  auto b = testing::test_master_key(2);
  CHECK(derive_subkey(a.key, Subkey::seal).expose() !=
        derive_subkey(a.key, Subkey::token_hash).expose());
  CHECK(master_key_check_value(a.key) == master_key_check_value(testing::test_master_key(1).key));
  CHECK(master_key_check_value(a.key) != master_key_check_value(b.key));
}
