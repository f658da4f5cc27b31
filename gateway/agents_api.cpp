// The agents API: a user's named model presets (model, default parameters, fallbacks).
// Agents are keyed by (user, name), so another user's agent is simply not found: 404.

#include "gateway/api_context.hpp"
#include "router/agent.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

void write_agent(JsonWriter& w, const Agent& a) {
  w.start_object();
  w.field("name", a.name);
  w.field("object", "agent");
  w.field("model", a.model);
  // Stored only after validation (router::params_to_json / fallbacks_to_json): valid JSON.
  w.key("params");
  w.raw(a.params_json.empty() ? std::string_view("{}") : std::string_view(a.params_json));
  w.key("fallbacks");
  w.raw(a.fallbacks_json.empty() ? std::string_view("[]") : std::string_view(a.fallbacks_json));
  w.field("created_at", format_rfc3339(a.created_at));
  w.field("updated_at", format_rfc3339(a.updated_at));
  w.end_object();
}

AuditEntry audit(const HttpExchange& ex, const char* action, std::string_view name) {
  AuditEntry e;
  e.actor_user_id = ex.caller.user_id;
  e.actor_name = ex.caller.user_name;
  e.action = action;
  e.target_type = "agent";
  e.target_id = std::string(name);
  e.remote_addr = ex.remote_address();
  return e;
}

awaitable<void> reply_agent(HttpExchange& ex, const Agent& agent) {
  JsonWriter w;
  write_agent(w, agent);
  const std::string body = w.take();
  co_await ex.reply(http::status::ok, body);
}

awaitable<void> list_agents(HttpExchange& ex, ApiContext& api) {
  auto work = [&] { return api.keystore.list_agents(ex.caller.user_id); };
  auto agents = co_await api.db.run(work);
  if (!agents) {
    co_await ex.reply_error(agents.error());
    co_return;
  }
  const std::string body = list_json(*agents, write_agent);
  co_await ex.reply(http::status::ok, body);
}

awaitable<void> get_agent(HttpExchange& ex, ApiContext& api) {
  const std::string name(ex.param("name"));
  auto work = [&] { return api.keystore.get_agent(ex.caller.user_id, name); };
  auto agent = co_await api.db.run(work);
  if (!agent) {
    co_await ex.reply_error(agent.error());
    co_return;
  }
  co_await reply_agent(ex, *agent);
}

awaitable<void> put_agent(HttpExchange& ex, ApiContext& api) {
  const std::string name(ex.param("name"));
  if (auto ok = router::validate_agent_name(name); !ok) {
    co_await ex.reply_error(ok.error());
    co_return;
  }
  auto body = parse_json_object(ex.request().body());
  if (!body) {
    co_await ex.reply_error(body.error());
    co_return;
  }
  if (auto n = body->FindMember("name");
      n != body->MemberEnd() && (!n->value.IsString() || as_view(n->value) != name)) {
    const Error e = Error::invalid_request(
        "'name' in the body must match the name in the path (or be left out).", "name");
    co_await ex.reply_error(e);
    co_return;
  }
  auto spec = router::parse_agent_body(*body, api.models);
  if (!spec) {
    co_await ex.reply_error(spec.error());
    co_return;
  }
  Agent agent;
  agent.user_id = ex.caller.user_id;
  agent.name = name;
  agent.model = spec->model;
  agent.params_json = router::params_to_json(spec->params);
  agent.fallbacks_json = router::fallbacks_to_json(spec->fallbacks);
  auto work = [&]() -> Result<Agent> {
    auto saved = api.keystore.put_agent(agent);
    if (saved) {
      (void)api.keystore.record_audit(audit(ex, "agent.put", name));  // best effort
    }
    return saved;
  };
  auto saved = co_await api.db.run(work);
  if (!saved) {
    co_await ex.reply_error(saved.error());
    co_return;
  }
  co_await reply_agent(ex, *saved);
}

awaitable<void> delete_agent(HttpExchange& ex, ApiContext& api) {
  const std::string name(ex.param("name"));
  auto work = [&]() -> Result<void> {
    auto deleted = api.keystore.delete_agent(ex.caller.user_id, name);
    if (deleted) {
      (void)api.keystore.record_audit(audit(ex, "agent.delete", name));
    }
    return deleted;
  };
  auto deleted = co_await api.db.run(work);
  if (!deleted) {
    co_await ex.reply_error(deleted.error());
    co_return;
  }
  co_await ex.reply_empty(http::status::no_content);
}

}  // namespace

void register_agent_routes(RouteTable& routes, ApiContext& api) {
  routes.add(http::verb::get, "/v1/agents", Access::user,
             [&api](HttpExchange& ex) { return list_agents(ex, api); });
  routes.add(http::verb::get, "/v1/agents/{name}", Access::user,
             [&api](HttpExchange& ex) { return get_agent(ex, api); });
  routes.add(http::verb::put, "/v1/agents/{name}", Access::user,
             [&api](HttpExchange& ex) { return put_agent(ex, api); });
  routes.add(http::verb::delete_, "/v1/agents/{name}", Access::user,
             [&api](HttpExchange& ex) { return delete_agent(ex, api); });
}

}  // namespace keygate::gateway
