#pragma once
// POST /v1/chat/completions and GET /v1/models: validate the OpenAI request, resolve the model
// and the key, forward through the provider's adapter, and relay the answer — streamed events the
// moment they arrive.

#include "gateway/key_resolver.hpp"
#include "gateway/routes.hpp"
#include "gateway/upstream_client.hpp"
#include "router/model_resolver.hpp"

namespace keygate::gateway {

struct ProxyServices {
  const providers::Catalog& catalog;
  const router::ModelResolver& models;
  KeyResolver& keys;
  UpstreamClient& upstream;
};

void register_proxy_routes(RouteTable& routes, ProxyServices& services);

// Checks the parts of an OpenAI chat request keygate relies on: "model" a non-empty string,
// "messages" a non-empty array of objects with a string "role", "stream" a boolean.
Result<void> validate_chat_request(const rapidjson::Document& request);

}  // namespace keygate::gateway
