#include <catch2/catch.hpp>

#include <set>

#include "keystore/sealer.hpp"
#include "test_support.hpp"

using namespace keygate;

TEST_CASE("seal/open round trip", "[sealer]") {
  REQUIRE(crypto_init().has_value());
  auto mk = testing::test_master_key(1);
  Sealer sealer(mk.key, 1);
  SealContext ctx{"key_1", "usr_a", "openai"};
  Sealed s = sealer.seal(SecretKey(std::string_view("sk-round-trip-0001")), ctx);
  CHECK(s.nonce.size() == 24);
  CHECK(s.master_key_version == 1);
  auto opened = sealer.open(s, ctx);
  REQUIRE(opened.has_value());
  CHECK(opened->expose() == "sk-round-trip-0001");
}

TEST_CASE("nonces never repeat across 1000 seals of the same plaintext", "[sealer]") {
  REQUIRE(crypto_init().has_value());
  auto mk = testing::test_master_key(1);
  Sealer sealer(mk.key, 1);
  SecretKey plain(std::string_view("sk-same"));
  std::set<std::vector<unsigned char>> nonces;
  std::set<std::vector<unsigned char>> ciphertexts;
  for (int i = 0; i < 1000; ++i) {
    Sealed s = sealer.seal(plain, {"key_1", "system", "openai"});
    nonces.insert(s.nonce);
    ciphertexts.insert(s.ciphertext);
  }
  CHECK(nonces.size() == 1000);
  CHECK(ciphertexts.size() == 1000);
}

TEST_CASE("a ciphertext moved to another row, owner, provider or version fails closed",
          "[sealer]") {
  REQUIRE(crypto_init().has_value());
  auto mk = testing::test_master_key(1);
  Sealer sealer(mk.key, 1);
  SealContext ctx{"key_1", "usr_a", "openai"};
  Sealed s = sealer.seal(SecretKey(std::string_view("sk-bound-to-row")), ctx);
  CHECK_FALSE(sealer.open(s, {"key_2", "usr_a", "openai"}).has_value());
  CHECK_FALSE(sealer.open(s, {"key_1", "usr_b", "openai"}).has_value());
  CHECK_FALSE(sealer.open(s, {"key_1", "system", "openai"}).has_value());
  CHECK_FALSE(sealer.open(s, {"key_1", "usr_a", "anthropic"}).has_value());
  Sealer v2(mk.key, 2);
  Sealed relabelled = s;
  relabelled.master_key_version = 2;
  CHECK_FALSE(v2.open(relabelled, ctx).has_value());
  auto wrong_version = v2.open(s, ctx);
  REQUIRE_FALSE(wrong_version.has_value());
  CHECK(wrong_version.error().status == 503);
}

TEST_CASE("a flipped byte in ciphertext or nonce fails; a wrong key fails", "[sealer]") {
  REQUIRE(crypto_init().has_value());
  auto mk = testing::test_master_key(1);
  Sealer sealer(mk.key, 1);
  SealContext ctx{"key_1", "system", "openai"};
  Sealed s = sealer.seal(SecretKey(std::string_view("sk-flip")), ctx);
  for (size_t i = 0; i < s.ciphertext.size(); ++i) {
    Sealed t = s;
    t.ciphertext[i] ^= 0x01;
    auto r = sealer.open(t, ctx);
    CHECK_FALSE(r.has_value());
  }
  Sealed n = s;
  n.nonce[0] ^= 0x80;
  CHECK_FALSE(sealer.open(n, ctx).has_value());
  Sealed truncated = s;
  truncated.ciphertext.resize(3);
  CHECK_FALSE(sealer.open(truncated, ctx).has_value());
  auto other = testing::test_master_key(9);
  CHECK_FALSE(Sealer(other.key, 1).open(s, ctx).has_value());
}

TEST_CASE("associated data keeps its exact format, for short and long contexts", "[sealer]") {
  // Guards against: the stack-buffer associated data changing a byte (every stored key would
  // then fail to open) or cutting a context longer than its buffer.
  CHECK(associated_data(SealContext{"key_1", "usr_a", "openai"}, 7) ==
        "keygate:v1|key_1|usr_a|openai|7");
  CHECK(associated_data({"key_1", "system", "openai"}, -3) == "keygate:v1|key_1|system|openai|-3");
  const std::string long_id(300, 'k');
  CHECK(associated_data({long_id, "usr_a", "openai"}, 9223372036854775807) ==
        "keygate:v1|" + long_id + "|usr_a|openai|9223372036854775807");
}

TEST_CASE("a key sealed with a context opens with a view of the same fields only", "[sealer]") {
  // Guards against: the request path (which opens with views of a cached row) binding the
  // ciphertext to other associated data than the SealContext it was sealed with, at any length.
  REQUIRE(crypto_init().has_value());
  auto mk = testing::test_master_key(1);
  Sealer sealer(mk.key, 1);
  for (const std::string& id : {std::string("key_1"), std::string(250, 'x')}) {
    const SealContext ctx{id, "usr_a", "openai"};
    Sealed s = sealer.seal(SecretKey(std::string_view("sk-view-0001")), ctx);
    const std::string owner = "usr_a";
    auto opened = sealer.open(s, SealContextView{id, owner, "openai"});
    REQUIRE(opened.has_value());
    CHECK(opened->expose() == "sk-view-0001");
    CHECK_FALSE(sealer.open(s, SealContextView{id, "usr_b", "openai"}).has_value());
    CHECK_FALSE(sealer.open(s, SealContextView{id + "2", owner, "openai"}).has_value());
  }
}
