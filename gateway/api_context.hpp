#pragma once
// What the API handlers share: the keystore (through the database pool), the catalog, the
// upstream client, key resolution and usage recording. Each API lives in its own file and
// registers its routes with one function.

#include "gateway/db_executor.hpp"
#include "gateway/key_resolver.hpp"
#include "gateway/rate_limits.hpp"
#include "gateway/routes.hpp"
#include "gateway/spend_limits.hpp"
#include "gateway/upstream_client.hpp"
#include "gateway/usage_sink.hpp"
#include "keystore/keystore.hpp"
#include "providers/catalog.hpp"
#include "router/model_resolver.hpp"

namespace keygate::gateway {

struct ApiContext {
  Keystore& keystore;
  DbExecutor& db;
  const providers::Catalog& catalog;
  const router::ModelResolver& models;
  KeyResolver& keys;
  UpstreamClient& upstream;
  UsageSink& usage;
  SpendLimits& spend;  // budgets on the operator's keys
  RateLimits& rate;    // model calls a user may start a minute
};

void register_key_routes(RouteTable& routes, ApiContext& api);    // keys_api.cpp
void register_admin_routes(RouteTable& routes, ApiContext& api);  // admin_api.cpp
void register_agent_routes(RouteTable& routes, ApiContext& api);  // agents_api.cpp
void register_usage_routes(RouteTable& routes, ApiContext& api);  // usage_api.cpp

}  // namespace keygate::gateway
