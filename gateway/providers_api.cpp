// GET /v1/providers: what a user needs to add a key and pick a model — each provider's id,
// name, kind, the key format and where to get one, docs, capabilities and models with prices.
// Base URLs stay out: they are the operator's business (and may name internal hosts).

#include "gateway/chat_proxy.hpp"
#include "schema/json.hpp"

namespace keygate::gateway {
namespace {

// A cache price the catalog does not set is left out: the input price applies.
void write_prices(JsonWriter& w, const providers::TokenPrices& p) {
  w.field("input_usd_per_mtok", p.input);
  w.field("output_usd_per_mtok", p.output);
  for (auto [name, price] : {std::pair{"cached_input_usd_per_mtok", p.cached_input},
                             std::pair{"cache_write_usd_per_mtok", p.cache_write},
                             std::pair{"cache_write_1h_usd_per_mtok", p.cache_write_1h}}) {
    if (price) {
      w.field(name, *price);
    }
  }
}

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
  if (p.web_search_usd_per_request > 0) {
    w.field("web_search_usd_per_request", p.web_search_usd_per_request);
  }
  w.key("models");
  w.start_array();
  for (const auto& m : p.models) {
    w.start_object();
    w.field("id", m.id);
    w.field("kind", m.kind == providers::ModelKind::embedding ? "embedding" : "chat");
    w.field("context_window", m.context_window);
    w.field("max_output_tokens", m.max_output_tokens);
    write_prices(w, m.prices);
    if (!m.aliases.empty()) {
      w.key("aliases");
      w.start_array();
      for (const auto& alias : m.aliases) {
        w.string(alias);
      }
      w.end_array();
    }
    if (m.long_context) {
      w.key("long_context");
      w.start_object();
      w.field("above_input_tokens", m.long_context->above_input_tokens);
      write_prices(w, m.long_context->prices);
      w.end_object();
    }
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
