#pragma once
// What one upstream call cost, from the catalog's prices and the usage the provider reported.

#include <optional>

#include "providers/adapter.hpp"
#include "providers/catalog.hpp"

namespace keygate::providers {

// USD for one call of `model` (the catalog entry Provider::priced_model found): its prompt tokens
// priced by where they came from (fresh, read from the cache, written to it for 5 minutes or an
// hour), its output tokens, at the long-context rates when the prompt is past their threshold,
// plus the web searches it ran. nullopt when the provider reported no usage.
std::optional<double> call_cost_usd(const Provider& provider, const ModelInfo& model,
                                    const Usage& usage);

}  // namespace keygate::providers
