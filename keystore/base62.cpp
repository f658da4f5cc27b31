#include "keystore/base62.hpp"

#include <sodium.h>

#include <algorithm>
#include <vector>

namespace keygate {

namespace {
constexpr std::string_view kAlphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
}

std::string base62_encode(std::span<const unsigned char> bytes, size_t width) {
  // Schoolbook long division of the big-endian number by 62, least significant digit first.
  std::vector<unsigned> number(bytes.begin(), bytes.end());
  std::string out;
  auto non_zero = [&] {
    return std::any_of(number.begin(), number.end(), [](unsigned d) { return d != 0; });
  };
  while (non_zero()) {
    unsigned remainder = 0;
    for (unsigned& digit : number) {
      unsigned acc = remainder * 256 + digit;
      digit = acc / 62;
      remainder = acc % 62;
    }
    out.push_back(kAlphabet[remainder]);
  }
  while (out.size() < width) {
    out.push_back('0');
  }
  std::reverse(out.begin(), out.end());
  // `number` held secret token bytes.
  sodium_memzero(number.data(), number.size() * sizeof(unsigned));
  return out;
}

bool is_base62(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return kAlphabet.find(c) != std::string_view::npos; });
}

std::string random_base62(size_t length) {
  std::string out(length, '0');
  for (char& c : out) {
    c = kAlphabet[randombytes_uniform(62)];
  }
  return out;
}

std::string random_id(std::string_view prefix) {
  return std::string(prefix) + random_base62(20);
}

}  // namespace keygate
