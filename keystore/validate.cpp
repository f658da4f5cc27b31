#include "keystore/validate.hpp"

#include <algorithm>
#include <string>

namespace keygate {

namespace {
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}
}  // namespace

Result<void> validate_name(std::string_view value, std::string_view field) {
  if (value.empty() || value.size() > 64 ||
      !std::all_of(value.begin(), value.end(), is_name_char)) {
    return fail(Error::invalid_request(
        "'" + std::string(field) + "' must be 1-64 characters of letters, digits, '_', '.', '-'.",
        std::string(field)));
  }
  return {};
}

Result<void> validate_provider(std::string_view value) {
  bool ok = !value.empty() && value.size() <= 64 &&
            std::all_of(value.begin(), value.end(),
                        [](char c) { return is_name_char(c) && !(c >= 'A' && c <= 'Z'); });
  if (!ok) {
    return fail(Error::invalid_request(
        "'provider' must be 1-64 characters of lowercase letters, digits, '_', '.', '-'.",
        "provider"));
  }
  return {};
}

Result<void> validate_text(std::string_view value, std::string_view field, size_t max) {
  bool ok = value.size() <= max && std::none_of(value.begin(), value.end(), [](char c) {
              return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
            });
  if (!ok) {
    return fail(Error::invalid_request("'" + std::string(field) + "' must be at most " +
                                           std::to_string(max) +
                                           " characters without control characters.",
                                       std::string(field)));
  }
  return {};
}

}  // namespace keygate
