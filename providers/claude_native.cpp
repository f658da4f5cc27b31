#include "providers/claude_native.hpp"

#include <random>

namespace keygate::providers {

namespace {

// "<name>_<16 hex digits>", the digits from the OS's random source (getrandom on Linux).
std::string keyed(std::string_view name) {
  std::random_device os;
  std::string key(name);
  key += '_';
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 4; ++i) {
    const unsigned bits = os();
    for (int shift = 0; shift < 16; shift += 4) {
      key += kHex[(bits >> shift) & 0xf];
    }
  }
  return key;
}

}  // namespace

const std::string& claude_message_key() {
  static const std::string key = keyed("keygate_claude_message");
  return key;
}

const std::string& claude_event_key() {
  static const std::string key = keyed("keygate_claude_event");
  return key;
}

}  // namespace keygate::providers
