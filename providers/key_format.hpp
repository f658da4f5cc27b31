#pragma once
// Checks a provider key's shape before it is sealed: a typo or a pasted key of the wrong provider
// gets a clear 400 at once instead of a confusing upstream 401 later.

#include <string_view>

#include "providers/catalog.hpp"
#include "schema/error.hpp"

namespace keygate::providers {

// Printable ASCII, no whitespace, 8 to 512 characters, and one of the provider's documented
// prefixes (OpenAI "sk-", Anthropic "sk-ant-", Gemini "AIza", ...) when the catalog lists any.
// The message never repeats the key.
Result<void> validate_provider_key(const Provider& provider, std::string_view key);

}  // namespace keygate::providers
