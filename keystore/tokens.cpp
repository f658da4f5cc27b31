#include "keystore/tokens.hpp"

#include <sodium.h>

#include "keystore/base62.hpp"

namespace keygate {

namespace {

std::string checksum(std::string_view body) {
  unsigned char digest[crypto_generichash_BYTES];
  crypto_generichash(digest, sizeof(digest), reinterpret_cast<const unsigned char*>(body.data()),
                     body.size(), nullptr, 0);
  return base62_encode(std::span<const unsigned char>(digest, 4), kTokenChecksumLength);
}

// Length of the vendor prefix to keep visible, see mask_key().
size_t vendor_prefix_length(std::string_view key) {
  // The first separator must come early ("sk-", "gsk_", "xai-"); a later one is part of the
  // random body and must not widen the reveal.
  size_t first = key.find_first_of("-_");
  if (first == std::string_view::npos || first > 4) {
    return std::min<size_t>(4, key.size());  // "AIza..." (Gemini) and other prefix-less keys
  }
  size_t len = first + 1;
  // One more short segment ("sk-ant-", "sk-or-"), but never a long one ("sk-proj-" stays "sk-").
  size_t second = key.find_first_of("-_", len);
  if (second != std::string_view::npos && second - len <= 3) {
    len = second + 1;
  }
  return len;
}

}  // namespace

std::string generate_token() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof(raw));
  std::string body = base62_encode(raw, kTokenBodyLength);
  sodium_memzero(raw, sizeof(raw));
  std::string token = std::string(kTokenPrefix) + body + checksum(body);
  sodium_memzero(body.data(), body.size());
  return token;
}

Result<void> parse_token(std::string_view token) {
  if (!token.starts_with(kTokenPrefix)) {
    return fail(Error::unauthorized("Malformed token: keygate tokens start with 'kg_'."));
  }
  if (token.size() != kTokenLength || !is_base62(token.substr(kTokenPrefix.size()))) {
    return fail(Error::unauthorized("Malformed token: wrong length or characters."));
  }
  std::string_view body = token.substr(kTokenPrefix.size(), kTokenBodyLength);
  std::string_view sum = token.substr(kTokenPrefix.size() + kTokenBodyLength);
  std::string expected = checksum(body);
  if (sodium_memcmp(expected.data(), sum.data(), kTokenChecksumLength) != 0) {
    return fail(Error::unauthorized("Malformed token: checksum mismatch (was it copied whole?)."));
  }
  return {};
}

TokenHash hash_token(std::string_view token, const SecretKey& key) {
  TokenHash out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), key.bytes().data(), key.size());
  return out;
}

static_assert(kTokenCacheKeyBytes == crypto_shorthash_siphashx24_KEYBYTES);
static_assert(sizeof(TokenCacheKey) == crypto_shorthash_siphashx24_BYTES);

TokenCacheKey token_cache_key(std::string_view token, const SecretKey& key) {
  TokenCacheKey out{};
  crypto_shorthash_siphashx24(out.data(), reinterpret_cast<const unsigned char*>(token.data()),
                              token.size(), key.bytes().data());
  return out;
}

std::string mask_token(std::string_view token) {
  if (token.size() < 12) {
    return "kg_...";
  }
  return std::string(kTokenPrefix) + "..." + std::string(token.substr(token.size() - 4));
}

std::string mask_key(std::string_view key) {
  if (key.size() < 12) {
    return "...";
  }
  std::string last4(key.substr(key.size() - 4));
  if (key.size() < 20) {
    return "..." + last4;
  }
  return std::string(key.substr(0, vendor_prefix_length(key))) + "..." + last4;
}

}  // namespace keygate
