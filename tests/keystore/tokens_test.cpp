#include <catch2/catch.hpp>

#include "keystore/base62.hpp"
#include "keystore/tokens.hpp"

using namespace keygate;

TEST_CASE("generated tokens have the documented shape and pass their own checksum", "[tokens]") {
  REQUIRE(crypto_init().has_value());
  std::string t = generate_token();
  CHECK(t.starts_with("kg_"));
  CHECK(t.size() == kTokenLength);
  CHECK(is_base62(t.substr(3)));
  CHECK(parse_token(t).has_value());
  CHECK(generate_token() != t);
}

TEST_CASE("parse_token rejects malformed tokens and bad checksums", "[tokens]") {
  REQUIRE(crypto_init().has_value());
  std::string t = generate_token();
  std::string typo = t;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';  // a single-character typo in the body
  auto bad = parse_token(typo);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().status == 401);
  CHECK(bad.error().message.find("checksum") != std::string::npos);

  CHECK_FALSE(parse_token("").has_value());
  CHECK_FALSE(parse_token("sk-" + t.substr(3)).has_value());
  CHECK_FALSE(parse_token(t.substr(0, t.size() - 1)).has_value());
  CHECK_FALSE(parse_token(t + "x").has_value());
  std::string punct = t;
  punct[5] = '-';
  CHECK(parse_token(punct).error().message.find("characters") != std::string::npos);
}

TEST_CASE("hash_token is keyed", "[tokens]") {
  REQUIRE(crypto_init().has_value());
  std::string t = generate_token();
  SecretKey k1 = SecretKey::random(32);
  SecretKey k2 = SecretKey::random(32);
  CHECK(hash_token(t, k1) == hash_token(t, k1));
  CHECK(hash_token(t, k1) != hash_token(t, k2));
}

TEST_CASE("token_cache_key is keyed and tells tokens one byte apart", "[tokens]") {
  REQUIRE(crypto_init().has_value());
  const std::string t = generate_token();
  SecretKey k1 = SecretKey::random(kTokenCacheKeyBytes);
  SecretKey k2 = SecretKey::random(kTokenCacheKeyBytes);
  CHECK(token_cache_key(t, k1) == token_cache_key(t, k1));
  CHECK(token_cache_key(t, k1) != token_cache_key(t, k2));
  for (std::size_t i = 0; i < t.size(); ++i) {
    std::string other = t;
    other[i] = static_cast<char>(other[i] ^ 1);
    CHECK(token_cache_key(other, k1) != token_cache_key(t, k1));
  }
  CHECK(token_cache_key(t + "x", k1) != token_cache_key(t, k1));
}

TEST_CASE("masking shows a vendor prefix and the last four characters only", "[tokens]") {
  CHECK(mask_token("kg_abcdefghijklmnopqrstuvwxyz") == "kg_...wxyz");
  CHECK(mask_key("sk-abcdefghijklmnopqrstuvwxyz1234") == "sk-...1234");
  CHECK(mask_key("sk-ant-api03-abcdefghijklmnopqrstuvwxyz9876") == "sk-ant-...9876");
  CHECK(mask_key("sk-proj-abcdefghijklmnopqrstuvwxyz5555") == "sk-...5555");
  CHECK(mask_key("AIzaSyA-bcdefghijklmnopqrstuvwxyz4321") == "AIza...4321");
  CHECK(mask_key("gsk_abcdefghijklmnopqrstuvwxyz7777") == "gsk_...7777");
  CHECK(mask_key("short") == "...");
  CHECK(mask_key("abcdefghijk") == "...");          // 11 chars
  CHECK(mask_key("sk-abcdefgh1234") == "...1234");  // under 20: no prefix
}
