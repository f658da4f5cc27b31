// The request-path caches: what they may serve, and when they must not.

#include <catch2/catch.hpp>

#include <thread>

#include "keystore/hot_cache.hpp"

using namespace keygate;
using namespace std::chrono_literals;

TEST_CASE("a cached identity is served until the TTL, never past the token's expiry",
          "[hot_cache]") {
  HotCache cache(200ms);
  Identity alice{"usr_1", "alice", false, "tok_1"};
  cache.put_identity("hash-a", alice, /*token_expires_at=*/1000, cache.generation());
  REQUIRE(cache.identity("hash-a", 999));
  CHECK(cache.identity("hash-a", 999)->user_name == "alice");
  // Guards against serving a token from cache after it expired.
  CHECK_FALSE(cache.identity("hash-a", 1000));
  CHECK_FALSE(cache.identity("hash-b", 0));
  std::this_thread::sleep_for(250ms);
  // Guards against unbounded staleness after another process revoked the token.
  CHECK_FALSE(cache.identity("hash-a", 0));
}

TEST_CASE("a cached key row is a sealed row, a cached miss is remembered, clear() forgets all",
          "[hot_cache]") {
  HotCache cache(5s);
  CachedKeyRow row{
      "key_1",     "user", std::string("usr_1"), "openai", CacheSealed{{1, 2, 3}, {4, 5, 6}},
      std::nullopt};
  cache.put_key("usr_1", "openai", row, cache.generation());
  cache.put_key("usr_1", "anthropic", std::nullopt, cache.generation());
  auto hit = cache.key("usr_1", "openai", 0);
  REQUIRE(hit);
  REQUIRE(*hit);
  CHECK((*hit)->key_id == "key_1");
  auto none = cache.key("usr_1", "anthropic", 0);
  REQUIRE(none);
  CHECK_FALSE(*none);
  // Another user's entry is separate (guards against a key served to the wrong user).
  CHECK_FALSE(cache.key("usr_2", "openai", 0));
  cache.clear();
  CHECK_FALSE(cache.key("usr_1", "openai", 0));
}

TEST_CASE("a cached key past its expiry is not served", "[hot_cache]") {
  HotCache cache(5s);
  CachedKeyRow row{"key_1", "user", std::string("usr_1"), "openai", CacheSealed{}, int64_t{100}};
  cache.put_key("usr_1", "openai", row, cache.generation());
  CHECK(cache.key("usr_1", "openai", 99));
  CHECK_FALSE(cache.key("usr_1", "openai", 100));
}

TEST_CASE("a row handed out stays whole and unchanged after clear() and a new put", "[hot_cache]") {
  // Guards against a reader (an I/O thread unsealing a cached row) seeing its row freed or
  // overwritten by a concurrent keystore write: rows are shared and immutable, never copied.
  HotCache cache(5s);
  cache.put_key("usr_1", "openai",
                CachedKeyRow{"key_old", "user", std::string("usr_1"), "openai",
                             CacheSealed{{1, 2, 3}, {4, 5, 6}}, std::nullopt},
                cache.generation());
  Identity alice{"usr_1", "alice", false, "tok_1"};
  cache.put_identity("hash-a", alice, std::nullopt, cache.generation());
  auto row = cache.key("usr_1", "openai", 0);
  auto identity = cache.identity("hash-a", 0);
  REQUIRE(row);
  REQUIRE(*row);
  REQUIRE(identity);
  cache.clear();
  cache.put_key("usr_1", "openai",
                CachedKeyRow{"key_new", "user", std::string("usr_1"), "openai",
                             CacheSealed{{7, 8}, {9}}, std::nullopt},
                cache.generation());
  CHECK((*row)->key_id == "key_old");
  CHECK((*row)->sealed.ciphertext == std::vector<unsigned char>{1, 2, 3});
  CHECK(identity->user_name == "alice");
  CHECK_FALSE(cache.identity("hash-a", 0));
  auto fresh = cache.key("usr_1", "openai", 0);
  REQUIRE(fresh);
  REQUIRE(*fresh);
  CHECK((*fresh)->key_id == "key_new");
}

TEST_CASE("an entry read before a clear() is not stored after it", "[hot_cache]") {
  // Guards against a stale refill: a request reads a token or key from the database, another
  // instance revokes it and this process's listener clears the cache, then the request stores
  // what it read, and the revoked entry would be served until the TTL.
  HotCache cache(5s);
  Identity alice{"usr_1", "alice", false, "tok_1"};
  const uint64_t read_at = cache.generation();  // the database read starts
  cache.clear();                                // a write elsewhere is heard meanwhile
  cache.put_identity("hash-a", alice, std::nullopt, read_at);
  cache.put_key("usr_1", "openai", std::nullopt, read_at);
  CHECK_FALSE(cache.identity("hash-a", 0));
  CHECK_FALSE(cache.key("usr_1", "openai", 0));
  // Read after the clear: stored.
  cache.put_identity("hash-a", alice, std::nullopt, cache.generation());
  CHECK(cache.identity("hash-a", 0));
}
