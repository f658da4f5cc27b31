#pragma once
// The command line: `keygate serve`, `init`, and the operator commands (cli_admin.cpp).

#include <functional>
#include <optional>

#include "gateway/config.hpp"

namespace CLI {
class App;
}

namespace keygate::gateway {

// Parses the command line and runs the command. Returns the process exit code.
int run_cli(int argc, char** argv);

// users, tokens, keys, rotate-master-key. `config` yields the configuration (or nullopt after
// reporting an error); commands write their exit code to `exit_code`.
void register_admin_commands(CLI::App& cli, std::function<std::optional<Config>()> config,
                             int& exit_code);
// agents set (cli_agents.cpp); same conventions.
void register_agent_commands(CLI::App& cli, std::function<std::optional<Config>()> config,
                             int& exit_code);
// usage (cli_usage.cpp); same conventions.
void register_usage_command(CLI::App& cli, std::function<std::optional<Config>()> config,
                            int& exit_code);

// copy-database (cli_copy.cpp); same conventions.
void register_copy_command(CLI::App& cli, std::function<std::optional<Config>()> config,
                           int& exit_code);

}  // namespace keygate::gateway
