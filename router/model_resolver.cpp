#include "router/model_resolver.hpp"

namespace keygate::router {
namespace {

Error unknown_model(std::string_view model) {
  return Error::invalid_request(
      "Unknown model '" + std::string(model) +
          "'. Name a model as 'provider/model' (e.g. 'openai/gpt-4o-mini', "
          "'anthropic/claude-sonnet-4-5'), a known model name, a configured alias, or "
          "'agent:NAME'. GET /v1/models lists what you can use.",
      "model", "model_not_found");
}

}  // namespace

Result<Target> ModelResolver::resolve(std::string_view model) const {
  if (model.empty()) {
    return fail(unknown_model(model));
  }
  // Aliases first: an operator alias may shadow a model name on purpose.
  if (auto it = aliases_.find(std::string(model)); it != aliases_.end()) {
    return resolve_direct(it->second);
  }
  return resolve_direct(model);
}

Result<Target> ModelResolver::resolve_direct(std::string_view model) const {
  auto slash = model.find('/');
  if (slash != std::string_view::npos && slash > 0) {
    // "provider/model"; model ids may themselves hold slashes (openrouter/meta-llama/...).
    if (const auto* provider = catalog_.find(model.substr(0, slash))) {
      auto rest = model.substr(slash + 1);
      if (rest.empty()) {
        return fail(unknown_model(model));
      }
      return Target{provider, std::string(rest)};
    }
  }
  if (const auto* provider = catalog_.provider_for_model(model)) {
    return Target{provider, std::string(model)};
  }
  return fail(unknown_model(model));
}

}  // namespace keygate::router
