// `keygate copy-database --to postgres://...`: moves an embedded keygate's SQLite file onto a
// PostgreSQL database, the step from one instance to several (keystore/database_copy.hpp). No
// master key is needed: keys are copied sealed and tokens hashed, as they are stored.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "gateway/cli.hpp"
#include "keystore/database_copy.hpp"
#include "schema/try.hpp"

namespace keygate::gateway {
namespace {

struct CopyOptions {
  std::string from;  // default: DATA/keygate.db
  std::string to;
};

Result<std::vector<db::CopiedTable>> copy(const std::string& from, const std::string& to) {
  if (!pg::is_postgres_target(to)) {
    return fail(Error::invalid_request("--to must be a postgres:// or postgresql:// URI"));
  }
  if (pg::is_postgres_target(from) || !std::filesystem::is_regular_file(from)) {
    return fail(Error::not_found("no keygate SQLite database at " + from +
                                 " (--from FILE, or --data DIR for DIR/keygate.db)"));
  }
  KG_TRY(source, db::Database::open(from));
  KG_CHECK(db::apply_migrations(*source));  // an older file is brought up to date first
  KG_TRY(target, db::Database::open(to));
  KG_CHECK(db::apply_migrations(*target));
  return db::copy_database(*source, *target);
}

}  // namespace

void register_copy_command(CLI::App& cli, std::function<std::optional<Config>()> config,
                           int& exit_code) {
  auto options = std::make_shared<CopyOptions>();
  auto* command = cli.add_subcommand(
      "copy-database",
      "Copy this instance's SQLite database into an empty PostgreSQL database, for several "
      "instances to share");
  command->add_option("--to", options->to, "The PostgreSQL database: a postgres:// URI")
      ->required();
  command->add_option("--from", options->from, "The SQLite file (default DATA/keygate.db)");
  command->callback([options, config, &exit_code] {
    auto c = config();
    if (!c) {
      return;
    }
    const std::string from = options->from.empty() ? c->data_dir + "/keygate.db" : options->from;
    auto copied = copy(from, options->to);
    if (!copied) {
      std::cerr << "keygate: " << copied.error().message << "\n";
      exit_code = 1;
      return;
    }
    std::cerr << "Rows copied, by table:\n";
    for (const auto& table : *copied) {
      std::cerr << "  " << table.name << ": " << table.rows << "\n";
    }
    std::cerr << "Done: " << pg::redact_target(options->to)
              << " now holds this keystore. Start every instance with --database (or "
                 "KEYGATE_DATABASE) set to it and the same master key.\n";
  });
}

}  // namespace keygate::gateway
