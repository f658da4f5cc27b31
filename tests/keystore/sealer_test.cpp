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
