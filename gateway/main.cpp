// keygate: the command line (contract: shared/contract.md, "Command line").

#include <CLI/CLI.hpp>

#include "gateway/cli.hpp"

int main(int argc, char** argv) { return keygate::gateway::run_cli(argc, argv); }
