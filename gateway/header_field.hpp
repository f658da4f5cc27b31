#pragma once
// What an HTTP header field may hold, for the heads keygate writes itself (responses, upstream
// requests): a name is a token (RFC 9110, 5.6.2); a value holds no control but tab (a CR or LF
// would end the field and start another). Checked on every field of every request, so by a
// byte table, once per byte, and values eight bytes at a time where they hold no tab.

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace keygate::gateway {

namespace header_field_detail {

inline constexpr unsigned char kNameByte = 1;   // a token character
inline constexpr unsigned char kValueByte = 2;  // anything but a control (tab allowed)

inline constexpr std::array<unsigned char, 256> kBytes = [] {
  std::array<unsigned char, 256> table{};
  for (unsigned c = 0; c < 256; ++c) {
    const bool control = c < 0x20 || c == 0x7f;
    table[c] = (control && c != '\t') ? 0 : kValueByte;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      table[c] |= kNameByte;
    }
  }
  return table;
}();

inline bool all_have(std::string_view text, unsigned char what) {
  unsigned char all = what;
  for (char c : text) {
    all &= kBytes[static_cast<unsigned char>(c)];
  }
  return all == what;
}

// Whether none of a word's eight bytes is below 0x20 or is 0x7f (so all are value bytes). A tab,
// also below 0x20, makes it false: the byte table then decides.
inline bool no_control_in(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighs;
  const uint64_t del = word ^ (kOnes * 0x7f);
  const uint64_t is_del = (del - kOnes) & ~del & kHighs;
  return (below_space | is_del) == 0;
}

}  // namespace header_field_detail

inline bool valid_field_name(std::string_view name) {
  return !name.empty() && header_field_detail::all_have(name, header_field_detail::kNameByte);
}

inline bool valid_field_value(std::string_view value) {
  std::size_t i = 0;
  for (; i + 8 <= value.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, value.data() + i, sizeof word);
    if (!header_field_detail::no_control_in(word)) {
      break;
    }
  }
  return header_field_detail::all_have(value.substr(i), header_field_detail::kValueByte);
}

}  // namespace keygate::gateway
