#include "providers/chunk_keys.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace keygate::providers {

namespace {

constexpr std::string_view kError = "\"error\"";
constexpr std::string_view kUsage = "\"usage\"";
constexpr std::size_t kLength = 7;  // both keys, quotes included
static_assert(kError.size() == kLength && kUsage.size() == kLength);

// Horspool's skip table for both keys at once: the two have the same length and end in the same
// character, so one pass finds either (each byte is looked at about once per 5, rather than once
// per 7 in each of two passes).
constexpr std::array<unsigned char, 256> kSkip = [] {
  std::array<unsigned char, 256> skip{};
  skip.fill(kLength);
  for (std::string_view key : {kError, kUsage}) {
    for (std::size_t i = 0; i + 1 < kLength; ++i) {
      const auto c = static_cast<unsigned char>(key[i]);
      skip[c] = std::min<unsigned char>(skip[c], static_cast<unsigned char>(kLength - 1 - i));
    }
  }
  return skip;
}();

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// After a key: a colon, then a value that does not start with 'n' (null).
bool non_null_value_at(std::string_view data, std::size_t i) {
  while (i < data.size() && is_space(data[i])) {
    ++i;
  }
  if (i >= data.size() || data[i] != ':') {
    return false;
  }
  ++i;
  while (i < data.size() && is_space(data[i])) {
    ++i;
  }
  return i < data.size() && data[i] != 'n';
}

}  // namespace

ChunkKeys scan_chunk_keys(std::string_view data) {
  ChunkKeys found;
  for (std::size_t pos = 0; pos + kLength <= data.size();) {
    const auto last = static_cast<unsigned char>(data[pos + kLength - 1]);
    if (last == '"') {  // both keys end in a quote
      const char* at = data.data() + pos;
      if (!found.error && std::memcmp(at, kError.data(), kLength) == 0) {
        found.error = non_null_value_at(data, pos + kLength);
      } else if (!found.usage && std::memcmp(at, kUsage.data(), kLength) == 0) {
        found.usage = non_null_value_at(data, pos + kLength);
      }
      if (found.error && found.usage) {
        break;
      }
    }
    pos += kSkip[last];
  }
  return found;
}

}  // namespace keygate::providers
