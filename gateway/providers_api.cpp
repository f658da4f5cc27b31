// GET /v1/providers: what a user needs to add a key and pick a model — each provider's id,
// name, kind, the key format and where to get one, docs, capabilities and models with prices.
// Base URLs stay out: they are the operator's business (and may name internal hosts).

#include "gateway/chat_proxy.hpp"
#include "schema/json.hpp"

namespace keygate::gateway {
namespace {

void write_provider(JsonWriter& w, const providers::Provider& p) {
  w.start_object();
  w.field("id", p.id);
  w.field("object", "provider");
  w.field("display_name", p.display_name);
  w.field("kind", providers::to_string(p.kind));
  w.field("requires_key", p.requires_key);
  w.field("key_hint", p.key_hint);
  w.key("key_prefixes");
  w.start_array();
  for (const auto& prefix : p.key_prefixes) {
    w.string(prefix);
  }
  w.end_array();
  w.field("key_url", p.key_url);
  w.field("docs_url", p.docs_url);
  w.key("capabilities");
  w.start_array();
  for (const auto& c : p.capabilities) {
    w.string(c);
  }
  w.end_array();
  w.key("models");
  w.start_array();
  for (const auto& m : p.models) {
    w.start_object();
    w.field("id", m.id);
    w.field("context_window", m.context_window);
    w.field("max_output_tokens", m.max_output_tokens);
    w.field("input_usd_per_mtok", m.input_usd_per_mtok);
    w.field("output_usd_per_mtok", m.output_usd_per_mtok);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

awaitable<void> list_providers(HttpExchange& ex, ApiContext& s) {
  const std::string body = list_json(s.catalog.providers(), write_provider);
  co_await ex.reply(http::status::ok, body);
}

}  // namespace

void register_provider_routes(RouteTable& routes, ApiContext& api) {
  routes.add(http::verb::get, "/v1/providers", Access::user,
             [&api](HttpExchange& ex) { return list_providers(ex, api); });
}

}  // namespace keygate::gateway
