#include "providers/chunk_keys.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// The window of kLength bytes at `pos`: one of the keys, with a non-null value?
void check_window(std::string_view data, std::size_t pos, ChunkKeys& found) {
  const char* at = data.data() + pos;
  if (!found.error && std::memcmp(at, kError.data(), kLength) == 0) {
    found.error = non_null_value_at(data, pos + kLength);
  } else if (!found.usage && std::memcmp(at, kUsage.data(), kLength) == 0) {
    found.usage = non_null_value_at(data, pos + kLength);
  }
}

}  // namespace

ChunkKeys scan_chunk_keys(std::string_view data) {
  ChunkKeys found;
  std::size_t pos = 0;
#if defined(__SSE2__)
  // Sixteen windows a step (SSE2 is part of x86-64): a window can hold a key only if its first
  // and last bytes are quotes and its second is 'e' or 'u', which few windows of a chunk pass
  // (about half the instructions of the skip loop below on the benchmark's chunks).
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i e = _mm_set1_epi8('e');
  const __m128i u = _mm_set1_epi8('u');
  for (; pos + 16 + kLength - 1 <= data.size(); pos += 16) {
    const char* p = data.data() + pos;
    const __m128i first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i second = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
    const __m128i last = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kLength - 1));
    const __m128i quotes = _mm_and_si128(_mm_cmpeq_epi8(first, quote), _mm_cmpeq_epi8(last, quote));
    const __m128i letter = _mm_or_si128(_mm_cmpeq_epi8(second, e), _mm_cmpeq_epi8(second, u));
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(quotes, letter)));
    while (mask != 0) {
      check_window(data, pos + static_cast<std::size_t>(__builtin_ctz(mask)), found);
      if (found.error && found.usage) {
        return found;
      }
      mask &= mask - 1;
    }
  }
#endif
  // The windows left (all of them without SSE2), by the skip table.
  while (pos + kLength <= data.size()) {
    const auto last = static_cast<unsigned char>(data[pos + kLength - 1]);
    if (last == '"') {  // both keys end in a quote
      check_window(data, pos, found);
      if (found.error && found.usage) {
        break;
      }
    }
    pos += kSkip[last];
  }
  return found;
}

}  // namespace keygate::providers
