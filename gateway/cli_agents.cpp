// `keygate agents set NAME --user USER --model PROVIDER/MODEL [--temperature T] [--max-tokens N]`:
// the operator creates or replaces a user's agent, validated exactly like PUT /v1/agents/{name}.

#include <CLI/CLI.hpp>

#include <iostream>

#include "gateway/app.hpp"
#include "gateway/cli.hpp"
#include "router/agent.hpp"
#include "schema/json.hpp"

namespace keygate::gateway {
namespace {

int report(const Error& e) {
  std::cerr << "keygate: " << e.message << "\n";
  return 1;
}

struct AgentsSetOptions {
  std::string name;
  std::string user;
  std::string model;
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;
};

int cmd_agents_set(const Config& config, const AgentsSetOptions& o) {
  if (auto ok = router::validate_agent_name(o.name); !ok) {
    return report(ok.error());
  }
  auto catalog = load_catalog(config);
  if (!catalog) {
    return report(catalog.error());
  }
  router::ModelResolver models(*catalog, config.model_aliases);
  // The same JSON the API takes, so the CLI cannot store what the API would refuse.
  JsonWriter w;
  w.start_object();
  w.field("model", o.model);
  w.key("params");
  w.start_object();
  if (o.temperature) {
    w.field("temperature", *o.temperature);
  }
  if (o.max_tokens) {
    w.field("max_tokens", *o.max_tokens);
  }
  w.end_object();
  w.end_object();
  auto body = parse_json_object(w.take());
  if (!body) {
    return report(body.error());
  }
  auto spec = router::parse_agent_body(*body, models);
  if (!spec) {
    return report(spec.error());
  }
  auto ks = open_keystore(config);
  if (!ks) {
    return report(ks.error());
  }
  auto user = (*ks)->find_user_by_name(o.user);
  if (!user) {
    return report(user.error());
  }
  if (!*user) {
    return report(Error::not_found("no user named '" + o.user + "'"));
  }
  Agent agent;
  agent.user_id = (*user)->id;
  agent.name = o.name;
  agent.model = spec->model;
  agent.params_json = router::params_to_json(spec->params);
  agent.fallbacks_json = router::fallbacks_to_json(spec->fallbacks);
  auto saved = (*ks)->put_agent(agent);
  if (!saved) {
    return report(saved.error());
  }
  AuditEntry audit;
  audit.actor_name = "cli";
  audit.action = "agent.put";
  audit.target_type = "agent";
  audit.target_id = o.name;
  audit.detail = "user " + o.user;
  (void)(*ks)->record_audit(audit);
  std::cout << "agent " << saved->name << " of " << o.user << ": " << saved->model << " "
            << saved->params_json << "\n";
  return 0;
}

}  // namespace

void register_agent_commands(CLI::App& cli, std::function<std::optional<Config>()> config,
                             int& exit_code) {
  auto* agents = cli.add_subcommand("agents", "Manage users' agents (named model presets)");
  agents->require_subcommand(1);
  auto options = std::make_shared<AgentsSetOptions>();
  auto* set = agents->add_subcommand("set", "Create or replace an agent of a user");
  set->add_option("NAME", options->name, "Agent name: 1-64 of A-Z a-z 0-9 _ . -")->required();
  set->add_option("--user", options->user, "The user who owns the agent")->required();
  set->add_option("--model", options->model, "PROVIDER/MODEL, a model name or an alias")
      ->required();
  set->add_option("--temperature", options->temperature, "Default temperature, 0-2");
  set->add_option("--max-tokens", options->max_tokens, "Default max_tokens");
  set->callback([options, config, &exit_code] {
    if (auto c = config()) {  // on nullopt, config() has reported and set the exit code
      exit_code = cmd_agents_set(*c, *options);
    }
  });
}

}  // namespace keygate::gateway
