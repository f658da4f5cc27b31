#pragma once
// Shared by the adapter tests that call the built-in catalog's adapters directly.

#include <catch2/catch.hpp>

#include <string_view>

#include "providers/catalog.hpp"
#include "schema/json.hpp"

namespace keygate::testing {

// The adapter of a built-in provider ("openai", "anthropic", "google", ...).
inline const providers::Adapter& builtin_adapter(std::string_view id) {
  static const providers::Catalog catalog = *providers::Catalog::builtin();
  const providers::Provider* provider = catalog.find(id);
  REQUIRE(provider != nullptr);
  return *provider->adapter;
}

// A JSON object the test wrote: parsed, or the test fails.
inline rapidjson::Document parse_object(std::string_view json) {
  auto doc = parse_json_object(json);
  REQUIRE(doc.has_value());
  return std::move(*doc);
}

}  // namespace keygate::testing
