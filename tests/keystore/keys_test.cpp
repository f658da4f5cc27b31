#include <catch2/catch.hpp>

#include "schema/time.hpp"
#include "test_support.hpp"

using namespace keygate;

namespace {

SecretKey secret(const char* s) {
  return SecretKey(std::string_view(s));
}

std::string resolved_id(Keystore& ks, const std::string& user, const char* provider) {
  auto r = ks.resolve(user, provider);
  REQUIRE(r.has_value());
  return *r ? (*r)->key_id : std::string("none");
}

}  // namespace

TEST_CASE("key CRUD: create, get, list, update, delete by the owner", "[keys][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  std::string alice = testing::make_user(*ks, "alice");
  auto k = ks->create_key(alice, "openai", secret("sk-alice-abcdefghijklmnop1234"), "mine", "desc",
                          std::nullopt);
  REQUIRE(k.has_value());
  CHECK(k->id.starts_with("key_"));
  CHECK(k->scope == "user");
  CHECK(k->user_id == alice);
  CHECK(k->masked == "sk-...1234");
  CHECK(k->status == "active");
  CHECK(k->priority == 100);

  CHECK(ks->get_key(alice, k->id)->name == "mine");
  CHECK(ks->list_keys(alice)->size() == 1);

  KeyPatch patch;
  patch.name = "renamed";
  patch.is_active = false;
  patch.api_key = secret("sk-alice-new-secret-zzzzzzz9999");
  auto updated = ks->update_key(alice, k->id, std::move(patch));
  REQUIRE(updated.has_value());
  CHECK(updated->name == "renamed");
  CHECK(updated->status == "inactive");
  CHECK(updated->masked == "sk-...9999");
  CHECK(ks->open_key(alice, k->id)->expose() == "sk-alice-new-secret-zzzzzzz9999");

  KeyPatch expiry;
  expiry.expires_at = std::optional<int64_t>(now_unix() + 100);
  CHECK(ks->update_key(alice, k->id, std::move(expiry))->expires_at.has_value());
  KeyPatch clear;
  clear.expires_at = std::optional<int64_t>();
  CHECK_FALSE(ks->update_key(alice, k->id, std::move(clear))->expires_at.has_value());

  REQUIRE(ks->delete_key(alice, k->id).has_value());
  CHECK(ks->get_key(alice, k->id).error().status == 404);
  CHECK(ks->list_keys(alice)->empty());
}

TEST_CASE("another user's key is a 404 for get, update, delete and open, and stays unchanged",
          "[keys][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  std::string alice = testing::make_user(*ks, "alice");
  std::string mallory = testing::make_user(*ks, "mallory");
  auto k = ks->create_key(alice, "openai", secret("sk-alice-private-key-00001111"), "a", "",
                          std::nullopt);
  REQUIRE(k.has_value());

  CHECK(ks->get_key(mallory, k->id).error().status == 404);
  CHECK(ks->get_key(std::nullopt, k->id).error().status == 404);  // not a system key either
  KeyPatch patch;
  patch.name = "stolen";
  patch.api_key = secret("sk-mallory-overwrites-0000000");
  CHECK(ks->update_key(mallory, k->id, std::move(patch)).error().status == 404);
  CHECK(ks->delete_key(mallory, k->id).error().status == 404);
  CHECK(ks->open_key(mallory, k->id).error().status == 404);
  CHECK(ks->list_keys(mallory)->empty());

  auto after = ks->get_key(alice, k->id);
  REQUIRE(after.has_value());
  CHECK(after->name == "a");
  CHECK(after->updated_at == k->updated_at);
  CHECK(ks->open_key(alice, k->id)->expose() == "sk-alice-private-key-00001111");
}

TEST_CASE("create_key validates input", "[keys][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  std::string u = testing::make_user(*ks, "u");
  CHECK(ks->create_key(u, "OpenAI", secret("sk-xxxxxxxxxxxxxxxxxxxx"), "", "", std::nullopt)
            .error()
            .status == 400);
  CHECK(ks->create_key(u, "openai", SecretKey(), "", "", std::nullopt).error().status == 400);
  CHECK(ks->create_key(u, "openai", secret("sk-xxxxxxxxxxxxxxxxxxxx"), "", "", 1).error().status ==
        400);
  CHECK(ks->create_key(std::string("usr_missing"), "openai", secret("sk-xxxxxxxxxxxxxxxxxxxx"), "",
                       "", std::nullopt)
            .error()
            .status == 404);
}

TEST_CASE(
    "resolution: personal lowest priority, then newest, then system; inactive and expired "
    "skipped",
    "[keys][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  int64_t clock = 1'800'000'000;
  ks->set_clock_for_testing([&clock] { return clock; });
  std::string alice = testing::make_user(*ks, "alice");
  std::string bob = testing::make_user(*ks, "bob");

  CHECK(resolved_id(*ks, alice, "openai") == "none");
  auto sys = ks->create_key(std::nullopt, "openai", secret("sk-system-key-000000000001"), "sys", "",
                            std::nullopt);
  REQUIRE(sys.has_value());
  CHECK(sys->scope == "system");
  CHECK(resolved_id(*ks, alice, "openai") == sys->id);

  auto low = ks->create_key(alice, "openai", secret("sk-alice-low-000000000002"), "low", "",
                            std::nullopt, 10);
  clock += 1;
  auto high = ks->create_key(alice, "openai", secret("sk-alice-high-00000000003"), "high", "",
                             std::nullopt, 50);
  REQUIRE(low.has_value());
  REQUIRE(high.has_value());
  auto r = ks->resolve(alice, "openai");
  REQUIRE(r.value().has_value());
  CHECK((*r)->key_id == low->id);
  CHECK((*r)->source == "user");
  CHECK((*r)->secret.expose() == "sk-alice-low-000000000002");
  CHECK(ks->get_key(alice, low->id)->last_used_at == clock);

  // Same priority: the newest wins.
  clock += 1;
  auto newer = ks->create_key(alice, "openai", secret("sk-alice-newer-0000000004"), "newer", "",
                              std::nullopt, 10);
  CHECK(resolved_id(*ks, alice, "openai") == newer->id);

  // Bob has no personal key: the system key; other providers: none.
  auto for_bob = ks->resolve(bob, "openai");
  CHECK((*for_bob)->source == "system");
  CHECK(resolved_id(*ks, alice, "anthropic") == "none");

  KeyPatch off;
  off.is_active = false;
  REQUIRE(ks->update_key(alice, newer->id, std::move(off)).has_value());
  CHECK(resolved_id(*ks, alice, "openai") == low->id);

  REQUIRE(ks->set_key_status(low->id, "error", clock, "401 from upstream").has_value());
  CHECK(ks->get_key(alice, low->id)->last_error == "401 from upstream");
  CHECK(resolved_id(*ks, alice, "openai") == high->id);

  KeyPatch expiring;
  expiring.expires_at = std::optional<int64_t>(clock + 10);
  REQUIRE(ks->update_key(alice, high->id, std::move(expiring)).has_value());
  CHECK(resolved_id(*ks, alice, "openai") == high->id);
  clock += 10;
  CHECK(ks->get_key(alice, high->id)->effective_status(clock) == "expired");
  CHECK(resolved_id(*ks, alice, "openai") == sys->id);

  REQUIRE(ks->set_key_status(sys->id, "revoked", std::nullopt, std::nullopt).has_value());
  CHECK(resolved_id(*ks, alice, "openai") == "none");
  CHECK(ks->set_key_status(sys->id, "bogus", std::nullopt, std::nullopt).error().status == 400);
}

TEST_CASE("a ciphertext swapped between two rows fails closed on resolve", "[keys][store]") {
  testing::TempDir dir;
  std::string alice, bob, alice_key;
  {
    auto ks = testing::open_keystore(dir.file("k.db"));
    alice = testing::make_user(*ks, "alice");
    bob = testing::make_user(*ks, "bob");
    alice_key =
        ks->create_key(alice, "openai", secret("sk-alice-000000000000000001"), "", "", std::nullopt)
            ->id;
    REQUIRE(
        ks->create_key(bob, "openai", secret("sk-bob-00000000000000000002"), "", "", std::nullopt)
            .has_value());
  }
  {
    // An attacker with write access to the file copies Bob's ciphertext and nonce into Alice's row.
    auto db = db::Database::open(testing::store_target(dir.file("k.db")));
    REQUIRE(db->exec("UPDATE provider_keys SET (ciphertext, nonce) = (SELECT ciphertext, nonce "
                     "FROM provider_keys WHERE user_id = '" +
                     bob + "') WHERE user_id = '" + alice + "'")
                .has_value());
  }
  auto ks = testing::open_keystore(dir.file("k.db"));
  auto r = ks->resolve(alice, "openai");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("failed authentication") != std::string::npos);
  CHECK(ks->resolve(bob, "openai").value().has_value());
  CHECK_FALSE(ks->open_key(alice, alice_key).has_value());
}
