// GET /healthz (the process is alive) and GET /readyz (it can serve: database open, master key
// loaded and matching). Both open: load balancers call them without a token.

#include "gateway/app.hpp"
#include "schema/json.hpp"

namespace keygate::gateway {

void register_health_routes(RouteTable& routes, Keystore& keystore) {
  routes.add(http::verb::get, "/healthz", Access::open, [](HttpExchange& ex) -> awaitable<void> {
    co_await ex.reply(http::status::ok, R"({"status":"ok"})");
  });
  routes.add(http::verb::get, "/readyz", Access::open,
             [&keystore](HttpExchange& ex) -> awaitable<void> {
               auto status = keystore.status();  // in-memory state, no database work
               JsonWriter w;
               w.start_object();
               w.field("status", status.ready ? "ready" : "not_ready");
               w.field("database", "open");
               w.field("master_key", status.ready ? "loaded" : "unavailable");
               if (!status.message.empty()) {
                 w.field("message", status.message);
               }
               w.end_object();
               const std::string body = w.take();
               co_await ex.reply(status.ready ? http::status::ok
                                              : http::status::service_unavailable,
                                 body);
             });
}

}  // namespace keygate::gateway
