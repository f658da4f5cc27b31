#include "gateway/cli.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "gateway/app.hpp"
#include "gateway/log.hpp"
#include "keystore/postgres.hpp"
#include "keystore/secret.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

struct CommonOptions {
  std::string data_dir;
  std::string database;
  std::string config_file;
  std::string master_key_file;
};

int report(const Error& e) {
  std::cerr << "keygate: " << e.message << "\n";
  return 1;
}

Result<Config> build_config(const CommonOptions& o) {
  Config config;
  if (const char* env = std::getenv("KEYGATE_DATA"); env && *env) {
    config.data_dir = env;
  }
  if (!o.config_file.empty()) {
    auto loaded = load_config_file(o.config_file, config);
    if (!loaded) {
      return loaded;
    }
    config = std::move(*loaded);
  }
  if (!o.data_dir.empty()) {
    config.data_dir = o.data_dir;
  }
  if (const char* env = std::getenv("KEYGATE_DATABASE"); env && *env) {
    config.database = env;
  }
  if (!o.database.empty()) {
    config.database = o.database;
  }
  if (!config.database.empty() && !pg::is_postgres_target(config.database)) {
    return fail(Error::invalid_request(
        "--database must be a postgres:// or postgresql:// URI (leave it out for SQLite in the "
        "data directory)"));
  }
  config.master_key_file = o.master_key_file;
  return config;
}

Result<std::unique_ptr<Keystore>> open_ready_keystore(const Config& config) {
  auto ks = open_keystore(config);
  if (!ks) {
    return ks;
  }
  auto status = (*ks)->status();
  if (!status.ready) {
    return fail(Error::unavailable(status.message));
  }
  return ks;
}

int cmd_init(const Config& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return report(Error::unavailable("cannot create " + config.data_dir + ": " + ec.message()));
  }
  const char* env_key = std::getenv("KEYGATE_MASTER_KEY");
  std::string key_path = config.data_dir + "/master.key";
  if ((env_key == nullptr || *env_key == '\0') && config.master_key_file.empty() &&
      !std::filesystem::exists(key_path)) {
    if (auto ok = create_master_key_file(key_path); !ok) {
      return report(ok.error());
    }
  }
  auto ks = open_ready_keystore(config);
  if (!ks) {
    return report(ks.error());
  }
  auto users = (*ks)->list_users();
  if (!users) {
    return report(users.error());
  }
  if (!users->empty()) {
    return report(Error::conflict(
        "already initialised: " +
        (config.database.empty() ? database_target(config) : pg::redact_target(config.database)) +
        " has users (use `keygate users add`)"));
  }
  auto admin = (*ks)->create_user("admin", true);
  if (!admin) {
    return report(admin.error());
  }
  std::cerr << "Initialised " << config.data_dir << ". The admin token (shown once):\n";
  std::cout << admin->token << "\n";
  return 0;
}

int cmd_serve(Config config, const std::string& listen, int threads) {
  if (!listen.empty()) {
    if (auto ok = apply_listen(config, listen); !ok) {
      return report(ok.error());
    }
  }
  if (threads > 0) {
    config.threads = threads;
  }
  auto app = App::create(std::move(config));
  if (!app) {
    return report(app.error());
  }
  auto port = (*app)->start();
  if (!port) {
    return report(port.error());
  }
  (*app)->handle_signals();
  (*app)->wait();
  log_event("info", "stopped");
  Logger::instance().flush();
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  disable_core_dumps();
  if (auto ok = crypto_init(); !ok) {
    return report(ok.error());
  }
  CLI::App cli{"keygate: an LLM gateway that keeps your users' provider keys sealed"};
  cli.require_subcommand(1);
  cli.fallthrough();  // `keygate init --data DIR`: subcommands accept the common options too
  CommonOptions common;
  cli.add_option("--data", common.data_dir, "Data directory (default ./data, env KEYGATE_DATA)");
  cli.add_option("--database", common.database,
                 "A postgres:// URI, for several instances sharing one PostgreSQL database "
                 "(default: SQLite in the data directory; env KEYGATE_DATABASE)");
  cli.add_option("--config", common.config_file, "JSON configuration file");
  cli.add_option("--master-key-file", common.master_key_file,
                 "File holding the base64 master key (env KEYGATE_MASTER_KEY wins)");
  int exit_code = 0;
  auto config_or_exit = [&]() -> std::optional<Config> {
    auto c = build_config(common);
    if (!c) {
      exit_code = report(c.error());
      return std::nullopt;
    }
    return std::move(*c);
  };

  auto* init = cli.add_subcommand("init",
                                  "Create the database and master key; print the first "
                                  "admin token once");
  init->callback([&] {
    if (auto c = config_or_exit()) {
      exit_code = cmd_init(*c);
    }
  });

  std::string listen;
  int threads = 0;
  auto* serve = cli.add_subcommand("serve", "Run the gateway");
  serve->add_option("--listen", listen, "HOST:PORT (default 127.0.0.1:8080)");
  serve->add_option("--threads", threads, "I/O threads (default: one per core)");
  serve->callback([&] {
    if (auto c = config_or_exit()) {
      exit_code = cmd_serve(std::move(*c), listen, threads);
    }
  });

  register_admin_commands(
      cli, [&]() { return config_or_exit(); }, exit_code);
  register_agent_commands(
      cli, [&]() { return config_or_exit(); }, exit_code);
  register_usage_command(
      cli, [&]() { return config_or_exit(); }, exit_code);
  register_copy_command(
      cli, [&]() { return config_or_exit(); }, exit_code);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }
  Logger::instance().flush();
  return exit_code;
}

}  // namespace keygate::gateway
