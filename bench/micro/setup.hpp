#pragma once
// What the benchmarks share, built once per process: the built-in provider catalog and the model
// resolver the gateway routes with (no aliases). A failure here is a broken build, not a result.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

#include "providers/catalog.hpp"
#include "router/model_resolver.hpp"

namespace keygate::bench {

[[noreturn]] inline void die(const char* what, const Error& error) {
  std::fprintf(stderr, "keygate_micro: %s: %s\n", what, error.message.c_str());
  std::abort();
}

inline const providers::Catalog& catalog() {
  static const providers::Catalog instance = [] {
    auto c = providers::Catalog::builtin();
    if (!c) {
      die("built-in catalog", c.error());
    }
    return std::move(*c);
  }();
  return instance;
}

inline const router::ModelResolver& resolver() {
  static const router::ModelResolver instance(catalog(), {});
  return instance;
}

inline const providers::Adapter& adapter_of(const char* provider_id) {
  const providers::Provider* p = catalog().find(provider_id);
  if (p == nullptr) {
    die("catalog", Error::internal(std::string("no provider ") + provider_id));
  }
  return *p->adapter;
}

}  // namespace keygate::bench
