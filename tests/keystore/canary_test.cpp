// Canaries: distinctive provider keys and tokens go through every keystore write (create,
// replace, delete, rotate the master key), then every byte the database stored is searched for
// them in every plausible encoding: SQLite's files, or the PostgreSQL cluster's.

#include <catch2/catch.hpp>

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "keystore/postgres.hpp"
#include "test_support.hpp"

using namespace keygate;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string to_base64(std::string_view s, int variant) {
  std::string out(sodium_base64_ENCODED_LEN(s.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()),
                    s.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string to_hex(std::string_view s, bool upper) {
  std::string out(s.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()),
                 s.size());
  out.resize(s.size() * 2);
  if (upper) {
    for (char& c : out) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

// Every form in which a leaked secret could plausibly sit in the file.
std::vector<std::string> encodings(const std::string& secret) {
  return {secret,
          to_base64(secret, sodium_base64_VARIANT_ORIGINAL),
          to_base64(secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
          to_hex(secret, false),
          to_hex(secret, true),
          secret.substr(8, 16)};  // a distinctive middle part, in case of partial writes
}

// Everything the database wrote: SQLite's .db, -wal and -shm files; on PostgreSQL (the
// "postgres: " pass), every file of the throwaway cluster after a CHECKPOINT (tables, indexes,
// WAL, the server's log), this test's rows among every other test's.
std::vector<std::string> stored_files(const testing::TempDir& dir) {
  if (!testing::on_postgres()) {
    return {dir.file("k.db"), dir.file("k.db-wal"), dir.file("k.db-shm")};
  }
  const std::string server = std::getenv("KEYGATE_TEST_POSTGRES");
  auto admin = pg::Connection::open(server);
  REQUIRE(admin.has_value());
  REQUIRE((*admin)->exec("CHECKPOINT").has_value());  // dirty pages out of shared memory
  // The URI's host is the cluster's socket directory, DIR/socket (tests/postgres_server.sh).
  const auto host = server.find("host=");
  REQUIRE(host != std::string::npos);
  const std::string socket_dir = server.substr(host + 5, server.find('&', host) - host - 5);
  // Other tests run on the same cluster meanwhile: a temporary directory that vanishes during
  // the walk ends it early instead of throwing; the positive controls in expect_absent() show
  // that the files holding this test's rows were read.
  std::vector<std::string> files;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(
      std::filesystem::path(socket_dir).parent_path(),
      std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      files.push_back(it->path().string());
    }
  }
  CHECK(files.size() > 10);  // the walk did reach the cluster's files
  return files;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(),
                     std::boyer_moore_horspool_searcher(needle.begin(), needle.end())) !=
         haystack.end();
}

void expect_absent(const testing::TempDir& dir, const std::vector<std::string>& secrets) {
  // Positive control: the reader does see what was written (the user's name and a masked key),
  // so an empty or unread file cannot make this test pass.
  bool saw_user = false, saw_masked = false;
  for (const std::string& file : stored_files(dir)) {
    const std::string bytes = read_all(file);
    saw_user = saw_user || contains(bytes, "canary-user");
    saw_masked = saw_masked || contains(bytes, "sk-...2Gf4");
    for (const std::string& secret : secrets) {
      for (const std::string& form : encodings(secret)) {
        INFO("file " << file << " form " << form.size() << " bytes");
        CHECK_FALSE(contains(bytes, form));
      }
    }
  }
  CHECK(saw_user);
  CHECK(saw_masked);
}

}  // namespace

TEST_CASE("canary: no provider key or token reaches the database's files", "[canary][store]") {
  testing::TempDir dir;
  std::vector<std::string> secrets;
  {
    auto ks = testing::open_keystore(dir.file("k.db"));
    auto u = ks->create_user("canary-user", true);
    REQUIRE(u.has_value());
    secrets.push_back(u->token);
    auto t = ks->create_token(u->user.id, "second", std::nullopt);
    secrets.push_back(t->token);
    REQUIRE(ks->authenticate(t->token).has_value());

    std::string personal = "sk-CANARYpersonalQ7w9Zx3Vb5Nm1Lk8Jh2Gf4";
    std::string system = "sk-ant-CANARYsystemP0o9I8u7Y6t5R4e3W2q1";
    std::string replaced = "AIzaCANARYreplacedMn8Bv7Cx6Za5Sd4Fg3";
    std::string deleted = "gsk_CANARYdeletedTy6Ui7Op8As9Df0Gh1Jk";
    secrets.insert(secrets.end(), {personal, system, replaced, deleted});

    auto k1 = ks->create_key(u->user.id, "openai", SecretKey(personal), "", "", std::nullopt);
    REQUIRE(k1.has_value());
    REQUIRE(ks->create_key(std::nullopt, "anthropic", SecretKey(system), "", "", std::nullopt)
                .has_value());
    auto k3 = ks->create_key(u->user.id, "google", SecretKey(replaced), "", "", std::nullopt);
    KeyPatch patch;
    patch.api_key = SecretKey(std::string_view("AIzaCANARYnewvalue000000000000000000"));
    secrets.push_back("AIzaCANARYnewvalue000000000000000000");
    REQUIRE(ks->update_key(u->user.id, k3->id, std::move(patch)).has_value());
    auto k4 = ks->create_key(u->user.id, "groq", SecretKey(deleted), "", "", std::nullopt);
    REQUIRE(ks->delete_key(u->user.id, k4->id).has_value());
    REQUIRE(ks->resolve(u->user.id, "openai").value().has_value());
    REQUIRE(ks->rotate_master_key(testing::test_master_key(7)).has_value());

    expect_absent(dir, secrets);  // while open: the WAL holds recent pages
  }
  expect_absent(dir, secrets);  // after close and checkpoint
}
