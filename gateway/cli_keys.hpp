#pragma once
// `keygate keys test KEY_ID`: the same upstream key test as POST /v1/keys/{id}/test, run by the
// operator from the command line against the database directly.

#include <functional>
#include <optional>

#include "gateway/config.hpp"

namespace CLI {
class App;
}

namespace keygate::gateway {

// Adds `test` under the `keys` subcommand (cli_admin.cpp creates `keys`).
void register_key_test_command(CLI::App& keys, std::function<std::optional<Config>()> config,
                               int& exit_code);

}  // namespace keygate::gateway
