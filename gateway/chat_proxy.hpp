#pragma once
// POST /v1/chat/completions and GET /v1/models: validate the OpenAI request, resolve the model
// and the key, forward through the provider's adapter, and relay the answer — streamed events the
// moment they arrive.

#include "gateway/api_context.hpp"
#include "router/circuit_breaker.hpp"
#include "router/retry_policy.hpp"

namespace keygate::gateway {

// Also registers GET /v1/providers (providers_api.cpp).
// `retry` and `breaker`: the configuration's "routing" section.
void register_proxy_routes(RouteTable& routes, ApiContext& api, const router::RetryPolicy& retry,
                           const router::CircuitBreakerOptions& breaker);
// GET /v1/providers: the catalog as users need it to add keys and pick models.
void register_provider_routes(RouteTable& routes, ApiContext& api);

// Checks the parts of an OpenAI chat request keygate relies on: "model" a non-empty string,
// "messages" a non-empty array of objects with a string "role", "stream" a boolean.
Result<void> validate_chat_request(const rapidjson::Document& request);

}  // namespace keygate::gateway
