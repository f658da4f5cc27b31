#pragma once
// Base62 (0-9A-Za-z) for tokens and ids: no punctuation, so a token double-clicks as one word and
// survives shells, URLs and YAML unquoted.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace keygate {

// Big-endian base62 of `bytes`, left-padded with '0' to exactly `width` characters. `width`
// must be large enough for the value (43 for 32 bytes, 6 for 4 bytes).
std::string base62_encode(std::span<const unsigned char> bytes, size_t width);

bool is_base62(std::string_view text);

// `length` uniformly random base62 characters (for ids such as usr_..., key_...).
std::string random_base62(size_t length);

// prefix + 20 random base62 characters (~119 bits): "usr_", "tok_", "key_".
std::string random_id(std::string_view prefix);

}  // namespace keygate
