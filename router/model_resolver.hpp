#pragma once
// Which provider and upstream model a request's "model" names. The contract's forms:
// "provider/model", a bare catalog model name or prefix, or an operator alias ("fast").
// Agents ("agent:NAME", X-Agent-Id) are resolved before this, into one of these forms.

#include <map>
#include <string>
#include <string_view>

#include "providers/catalog.hpp"
#include "schema/error.hpp"

namespace keygate::router {

struct Target {
  const providers::Provider* provider = nullptr;
  std::string model;  // upstream model id, without the provider prefix
};

class ModelResolver {
 public:
  ModelResolver(const providers::Catalog& catalog, std::map<std::string, std::string> aliases)
      : catalog_(catalog), aliases_(std::move(aliases)) {}

  // 400 model_not_found with the ways to name a model when nothing matches.
  Result<Target> resolve(std::string_view model) const;
  const std::map<std::string, std::string>& aliases() const { return aliases_; }

 private:
  Result<Target> resolve_direct(std::string_view model) const;
  const providers::Catalog& catalog_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace keygate::router
