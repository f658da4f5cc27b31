#include "providers/pricing.hpp"

#include <algorithm>
#include <cstdint>

namespace keygate::providers {

namespace {

// A count the provider did not report (-1) is none; a part is never more than what holds it
// (a provider's cached count above its prompt count must not make the fresh part negative).
int64_t part(int64_t count, int64_t whole) {
  return std::clamp<int64_t>(count, 0, whole);
}

}  // namespace

std::optional<double> call_cost_usd(const Provider& provider, const ModelInfo& model,
                                    const Usage& usage) {
  if (!usage.reported()) {
    return std::nullopt;
  }
  const int64_t prompt = std::max<int64_t>(usage.prompt_tokens, 0);
  const int64_t cached = part(usage.cached_tokens, prompt);
  const int64_t written = part(usage.cache_write_tokens, prompt - cached);
  const int64_t written_1h = part(usage.cache_write_1h_tokens, written);
  const int64_t fresh = prompt - cached - written;
  const int64_t output = std::max<int64_t>(usage.completion_tokens, 0);

  const bool long_prompt = model.long_context && prompt > model.long_context->above_input_tokens;
  const TokenPrices& p = long_prompt ? model.long_context->prices : model.prices;
  const double write_5m = p.cache_write.value_or(p.input);
  const double per_mtok = static_cast<double>(fresh) * p.input +
                          static_cast<double>(cached) * p.cached_input.value_or(p.input) +
                          static_cast<double>(written - written_1h) * write_5m +
                          static_cast<double>(written_1h) * p.cache_write_1h.value_or(write_5m) +
                          static_cast<double>(output) * p.output;
  const double searches = static_cast<double>(std::max<int64_t>(usage.web_search_requests, 0));
  return per_mtok / 1e6 + searches * provider.web_search_usd_per_request;
}

}  // namespace keygate::providers
