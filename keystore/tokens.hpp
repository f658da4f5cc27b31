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

// "kg_...abcd": enough to tell tokens apart in a list, useless to an attacker.
std::string mask_token(std::string_view token);

// Display form of a provider key: a recognisable vendor prefix ("sk-", "sk-ant-", "AIza", "gsk_")
// + "..." + the last 4 chars. Keys shorter than 12 chars become "..."; keys shorter than 20 chars
// show only "..." + the last 4, so at most a fifth of a short key is revealed.
std::string mask_key(std::string_view key);

}  // namespace keygate
