#include <catch2/catch.hpp>

#include <sodium.h>

#include <set>

#include "keystore/cache_sealer.hpp"

using namespace keygate;

namespace {

// Both ciphers, whatever this CPU has: the ChaCha20-Poly1305 path is the one a CPU without AES
// instructions takes, and must be as correct as the fast one.
CacheSealer::Cipher cipher_under_test() {
  return GENERATE(CacheSealer::Cipher::aes256gcm, CacheSealer::Cipher::chacha20poly1305);
}

}  // namespace

TEST_CASE("the cache seal round-trips a key, with each cipher", "[cache_sealer]") {
  REQUIRE(crypto_init().has_value());
  const CacheSealer sealer(cipher_under_test());
  const SealContext ctx{"key_1", "usr_a", "openai"};
  const CacheSealed s = sealer.seal(SecretKey(std::string_view("sk-cache-round-trip-0001")), ctx);
  CHECK(s.ciphertext.size() == std::string_view("sk-cache-round-trip-0001").size() + 16);
  auto opened = sealer.open(s, ctx);
  REQUIRE(opened.has_value());
  CHECK(opened->expose() == "sk-cache-round-trip-0001");
}

TEST_CASE("the cache seal picks AES-256-GCM where the CPU has AES instructions", "[cache_sealer]") {
  REQUIRE(crypto_init().has_value());
  const CacheSealer sealer;
  const bool aes = crypto_aead_aes256gcm_is_available() != 0;
  CHECK(sealer.cipher() ==
        (aes ? CacheSealer::Cipher::aes256gcm : CacheSealer::Cipher::chacha20poly1305));
}

TEST_CASE("cache seals never reuse a nonce and never repeat a ciphertext", "[cache_sealer]") {
  // Guards against a nonce reused under one key, which breaks both ciphers.
  REQUIRE(crypto_init().has_value());
  const CacheSealer sealer(cipher_under_test());
  const SecretKey plain(std::string_view("sk-same"));
  std::set<std::array<unsigned char, 12>> nonces;
  std::set<std::vector<unsigned char>> ciphertexts;
  for (int i = 0; i < 1000; ++i) {
    const CacheSealed s = sealer.seal(plain, {"key_1", "system", "openai"});
    nonces.insert(s.nonce);
    ciphertexts.insert(s.ciphertext);
  }
  CHECK(nonces.size() == 1000);
  CHECK(ciphertexts.size() == 1000);
}

TEST_CASE("a cached key opened for another row, owner or provider fails closed", "[cache_sealer]") {
  // Guards against a cache mix-up serving one user's key for another's request.
  REQUIRE(crypto_init().has_value());
  const CacheSealer sealer(cipher_under_test());
  const SealContext ctx{"key_1", "usr_a", "openai"};
  const CacheSealed s = sealer.seal(SecretKey(std::string_view("sk-bound-to-row")), ctx);
  CHECK_FALSE(sealer.open(s, {"key_2", "usr_a", "openai"}).has_value());
  CHECK_FALSE(sealer.open(s, {"key_1", "usr_b", "openai"}).has_value());
  CHECK_FALSE(sealer.open(s, {"key_1", "system", "openai"}).has_value());
  auto moved = sealer.open(s, {"key_1", "usr_a", "anthropic"});
  REQUIRE_FALSE(moved.has_value());
  CHECK(moved.error().status == 500);
  CHECK(moved.error().message.find("sk-bound") == std::string::npos);
}

TEST_CASE("a flipped byte, a cut ciphertext or another process's key fails", "[cache_sealer]") {
  REQUIRE(crypto_init().has_value());
  const auto cipher = cipher_under_test();
  const CacheSealer sealer(cipher);
  const SealContext ctx{"key_1", "usr_a", "openai"};
  const CacheSealed s = sealer.seal(SecretKey(std::string_view("sk-tamper-me")), ctx);
  for (std::size_t i = 0; i < s.ciphertext.size(); ++i) {
    CacheSealed flipped = s;
    flipped.ciphertext[i] ^= 0x01;
    CHECK_FALSE(sealer.open(flipped, ctx).has_value());
  }
  for (std::size_t i = 0; i < s.nonce.size(); ++i) {
    CacheSealed flipped = s;
    flipped.nonce[i] ^= 0x80;
    CHECK_FALSE(sealer.open(flipped, ctx).has_value());
  }
  CacheSealed cut = s;
  cut.ciphertext.resize(15);
  CHECK_FALSE(sealer.open(cut, ctx).has_value());
  // Each sealer draws its own random key: another instance (another process) cannot open it.
  const CacheSealer other(cipher);
  CHECK_FALSE(other.open(s, ctx).has_value());
}
