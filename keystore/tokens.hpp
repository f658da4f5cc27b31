#pragma once
// keygate API tokens and the masking of secrets for display.
//
// A token is "kg_" + 43 base62 chars (32 random bytes) + 6 base62 chars of checksum (the first 4
// bytes of an unkeyed BLAKE2b of the 43-char body). The checksum lets parse_token() reject typos
// and garbage without a database lookup, and lets secret scanners recognise real tokens.
// The database stores only hash_token(): a keyed BLAKE2b-256, so a stolen database file does not
// yield usable tokens and cannot be brute-forced without the key.

#include <array>
#include <string>
#include <string_view>

#include "keystore/secret.hpp"
#include "schema/error.hpp"

namespace keygate {

inline constexpr std::string_view kTokenPrefix = "kg_";
inline constexpr size_t kTokenBodyLength = 43;
inline constexpr size_t kTokenChecksumLength = 6;
inline constexpr size_t kTokenLength = 3 + kTokenBodyLength + kTokenChecksumLength;

using TokenHash = std::array<unsigned char, 32>;

// A fresh random token. The caller shows it once and drops it.
std::string generate_token();

// Checks shape and checksum only (no I/O). 401 unauthorized with a message that says which.
Result<void> parse_token(std::string_view token);

// Keyed BLAKE2b-256 of the whole token text. `key` is the 32-byte token-hash subkey.
TokenHash hash_token(std::string_view token, const SecretKey& key);

// What the in-process token cache is keyed by: SipHash-128 of the token under a random key
// made per process (kTokenCacheKeyBytes). A keyed hash, so the cache holds no token, and one that
// costs a tenth of hash_token's BLAKE2b on every request (callgrind: ~1.9k -> ~0.2k
// instructions). Finding two tokens with one cache key needs the process's key, which never
// leaves its memory; the database is still looked up by hash_token.
inline constexpr size_t kTokenCacheKeyBytes = 16;
using TokenCacheKey = std::array<unsigned char, 16>;
TokenCacheKey token_cache_key(std::string_view token, const SecretKey& key);

// "kg_...abcd": enough to tell tokens apart in a list, useless to an attacker.
std::string mask_token(std::string_view token);

// Display form of a provider key: a recognisable vendor prefix ("sk-", "sk-ant-", "AIza", "gsk_")
// + "..." + the last 4 chars. Keys shorter than 12 chars become "..."; keys shorter than 20 chars
// show only "..." + the last 4, so at most a fifth of a short key is revealed.
std::string mask_key(std::string_view key);

}  // namespace keygate
