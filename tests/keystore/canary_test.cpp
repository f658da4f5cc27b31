#include <catch2/catch.hpp>

#include <sodium.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>

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

void expect_absent(const testing::TempDir& dir, const std::vector<std::string>& secrets) {
  // Positive control: the reader does see what was written (the user's name and a masked key),
  // so an empty or unread file cannot make this test pass.
  std::string all = read_all(dir.file("k.db")) + read_all(dir.file("k.db-wal"));
  CHECK(all.find("canary-user") != std::string::npos);
  CHECK(all.find("sk-...2Gf4") != std::string::npos);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string bytes = read_all(dir.file(std::string("k.db") + suffix));
    for (const std::string& secret : secrets) {
      for (const std::string& form : encodings(secret)) {
        INFO("file k.db" << suffix << " form " << form.size() << " bytes");
        CHECK(bytes.find(form) == std::string::npos);
      }
    }
  }
}

}  // namespace

TEST_CASE("canary: no provider key or token reaches the .db, -wal or -shm files", "[canary]") {
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
