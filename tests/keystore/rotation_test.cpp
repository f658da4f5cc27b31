#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace keygate;

namespace {

struct Fixture {
  testing::TempDir dir;
  std::string user;
  std::string token;
  std::vector<std::pair<std::string, std::string>> keys;  // id, plaintext

  Fixture() {
    auto ks = testing::open_keystore(dir.file("k.db"), 1);
    auto u = ks->create_user("alice", true);
    user = u->user.id;
    token = u->token;
    for (int i = 0; i < 6; ++i) {
      std::string plain = "sk-rotate-" + std::to_string(i) + "-abcdefghijklmnop";
      Owner owner = i % 2 == 0 ? Owner(user) : std::nullopt;
      auto k = ks->create_key(owner, i < 3 ? "openai" : "anthropic", SecretKey(plain), "", "",
                              std::nullopt, 100 + i);
      REQUIRE(k.has_value());
      keys.emplace_back(k->id, plain);
    }
  }

  void expect_all_keys_open(Keystore& ks) {
    for (size_t i = 0; i < keys.size(); ++i) {
      Owner owner = i % 2 == 0 ? Owner(user) : std::nullopt;
      auto s = ks.open_key(owner, keys[i].first);
      INFO(keys[i].first);
      REQUIRE(s.has_value());
      CHECK(s->expose() == keys[i].second);
    }
  }
};

}  // namespace

TEST_CASE("rotation re-seals every key and keeps tokens valid", "[rotation][store]") {
  Fixture f;
  {
    auto ks = testing::open_keystore(f.dir.file("k.db"), 1);
    auto report = ks->rotate_master_key(testing::test_master_key(2));
    REQUIRE(report.has_value());
    CHECK(report->finished);
    CHECK(report->from_version == 1);
    CHECK(report->to_version == 2);
    CHECK(report->resealed == 6);
    CHECK(ks->status().master_key_version == 2);
    f.expect_all_keys_open(*ks);  // the live keystore switched keys
  }
  auto old_key = testing::open_keystore(f.dir.file("k.db"), 1);
  CHECK_FALSE(old_key->status().ready);
  auto ks = testing::open_keystore(f.dir.file("k.db"), 2);
  REQUIRE(ks->status().ready);
  CHECK(ks->status().master_key_version == 2);
  f.expect_all_keys_open(*ks);
  CHECK(ks->authenticate(f.token).has_value());
  CHECK(ks->rotate_master_key(testing::test_master_key(2)).error().status == 400);
}

TEST_CASE("rotation killed half-way: old key still opens; re-run with the same key finishes",
          "[rotation][store]") {
  Fixture f;
  {
    auto ks = testing::open_keystore(f.dir.file("k.db"), 1);
    auto partial = ks->rotate_master_key(testing::test_master_key(2), 3);
    REQUIRE(partial.has_value());
    CHECK_FALSE(partial->finished);
    CHECK(partial->resealed == 3);
  }  // "crash": the keystore goes away with the rotation unfinished
  {
    // The new key alone is refused, with a message saying why.
    auto ks = testing::open_keystore(f.dir.file("k.db"), 2);
    CHECK_FALSE(ks->status().ready);
    CHECK(ks->status().message.find("unfinished rotation") != std::string::npos);
  }
  {
    auto ks = testing::open_keystore(f.dir.file("k.db"), 1);
    REQUIRE(ks->status().ready);
    CHECK(ks->status().message.find("unfinished") != std::string::npos);
    CHECK(ks->authenticate(f.token).has_value());
    // A different new key would strand the moved rows.
    CHECK(ks->rotate_master_key(testing::test_master_key(3)).error().status == 409);
    // Killed again, after one more row.
    REQUIRE(ks->rotate_master_key(testing::test_master_key(2), 1).has_value());
  }
  {
    auto ks = testing::open_keystore(f.dir.file("k.db"), 1);
    auto report = ks->rotate_master_key(testing::test_master_key(2));
    REQUIRE(report.has_value());
    CHECK(report->finished);
    CHECK(report->skipped == 4);
    CHECK(report->resealed == 2);
  }
  auto ks = testing::open_keystore(f.dir.file("k.db"), 2);
  REQUIRE(ks->status().ready);
  CHECK(ks->status().message.empty());
  f.expect_all_keys_open(*ks);
  CHECK(ks->authenticate(f.token).has_value());
  auto resolved = ks->resolve(f.user, "openai");
  REQUIRE(resolved.value().has_value());
}
