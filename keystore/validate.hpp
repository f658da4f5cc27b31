#pragma once
// Input checks shared by the keystore's entry points. 400 invalid_request naming the field.

#include <string_view>

#include "schema/error.hpp"

namespace keygate {

// Users and agents: 1-64 chars of [A-Za-z0-9_.-].
Result<void> validate_name(std::string_view value, std::string_view field);
// Provider ids: 1-64 chars of [a-z0-9_.-].
Result<void> validate_provider(std::string_view value);
// Free text (labels, descriptions): at most `max` bytes, no control characters.
Result<void> validate_text(std::string_view value, std::string_view field, size_t max);

}  // namespace keygate
