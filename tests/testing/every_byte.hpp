#pragma once
// For tests of the word-at-a-time fast paths (header values, JSON string escapes): every byte
// value at every position of texts of 1 to `max_length` bytes, set among fillers of plain text,
// high bytes and blanks (a high byte must not borrow into a neighbour's lane). Returns on how many
// of those texts `agrees(text)` said the fast path and its byte-by-byte reference differ.

#include <cstddef>
#include <string>

namespace keygate::testing {

template <class Agrees>
int count_disagreements(std::size_t max_length, Agrees agrees) {
  int disagreements = 0;
  for (std::size_t length = 1; length <= max_length; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (unsigned b = 0; b < 256; ++b) {
        for (char filler : {'a', '\xff', '\x80', ' '}) {
          std::string text(length, filler);
          text[at] = static_cast<char>(b);
          if (!agrees(text)) {
            ++disagreements;
          }
        }
      }
    }
  }
  return disagreements;
}

}  // namespace keygate::testing
