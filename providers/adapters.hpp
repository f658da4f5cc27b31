#pragma once
// Factories of the adapters, one per provider kind. make_adapter (adapter.cpp) dispatches on
// Provider::kind; the catalog calls it for every provider it loads. Each factory copies what it
// needs from `provider`: the Provider may move after the call.

#include <memory>

#include "providers/adapter.hpp"

namespace keygate::providers {

std::unique_ptr<Adapter> make_openai_compatible_adapter(const Provider& provider);
std::unique_ptr<Adapter> make_anthropic_adapter(const Provider& provider);
std::unique_ptr<Adapter> make_gemini_adapter(const Provider& provider);

}  // namespace keygate::providers
