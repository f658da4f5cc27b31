// GET /healthz (the process is alive) and GET /readyz (it can serve: the database answers, the
// master key is loaded and matching). Both open: load balancers call them without a token.

#include "gateway/app.hpp"
#include "schema/json.hpp"

namespace keygate::gateway {

void register_health_routes(RouteTable& routes, Keystore& keystore, DbExecutor& db) {
  routes.add(http::verb::get, "/healthz", Access::open, [](HttpExchange& ex) -> awaitable<void> {
    co_await ex.reply(http::status::ok, R"({"status":"ok"})");
  });
  routes.add(http::verb::get, "/readyz", Access::open,
             [&keystore, &db](HttpExchange& ex) -> awaitable<void> {
               // A query on the database pool: a server that went away (PostgreSQL) or a file
               // that cannot be read makes the instance not ready, so a balancer drains it.
               auto ping = [&keystore] { return keystore.ping(); };
               const Result<void> answered = co_await db.run(ping);
               const KeystoreStatus status = keystore.status();
               const auto listener = keystore.change_listener();
               const bool ready = answered.has_value() && status.ready;
               JsonWriter w;
               w.start_object();
               w.field("status", ready ? "ready" : "not_ready");
               w.field("database", answered ? "open" : "unavailable");
               w.field("master_key", status.ready ? "loaded" : "unavailable");
               if (listener) {
                 // Not part of readiness: while it reconnects, caches still expire (5 s TTL).
                 w.field("change_listener", listener->connected ? "connected" : "reconnecting");
               }
               if (!answered) {
                 w.field("message", answered.error().message);
               } else if (!status.message.empty()) {
                 w.field("message", status.message);
               }
               w.end_object();
               const std::string body = w.take();
               co_await ex.reply(ready ? http::status::ok : http::status::service_unavailable,
                                 body);
             });
}

}  // namespace keygate::gateway
