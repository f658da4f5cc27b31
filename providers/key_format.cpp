#include "providers/key_format.hpp"

namespace keygate::providers {

Result<void> validate_provider_key(const Provider& provider, std::string_view key) {
  constexpr std::size_t kMin = 8, kMax = 512;
  if (key.size() < kMin || key.size() > kMax) {
    return fail(Error::invalid_request("'api_key' must be " + std::to_string(kMin) + " to " +
                                           std::to_string(kMax) + " characters long.",
                                       "api_key", "invalid_api_key_format"));
  }
  for (unsigned char c : key) {
    if (c <= 0x20 || c >= 0x7f) {
      return fail(
          Error::invalid_request("'api_key' must be printable ASCII with no spaces or line breaks.",
                                 "api_key", "invalid_api_key_format"));
    }
  }
  if (provider.key_prefixes.empty()) {
    return {};
  }
  for (const auto& prefix : provider.key_prefixes) {
    if (key.starts_with(prefix)) {
      return {};
    }
  }
  std::string expected;
  for (const auto& prefix : provider.key_prefixes) {
    expected += expected.empty() ? "'" : " or '";
    expected += prefix + "'";
  }
  return fail(Error::invalid_request("This does not look like a " + provider.display_name +
                                         " key: it should start with " + expected + ".",
                                     "api_key", "invalid_api_key_format"));
}

}  // namespace keygate::providers
