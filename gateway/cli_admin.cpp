// Operator commands on the keystore: users, tokens, keys and master-key rotation. They open the
// database directly (WAL lets them run beside a serving keygate).

#include <CLI/CLI.hpp>

#include <iostream>

#include "gateway/app.hpp"
#include "gateway/cli.hpp"
#include "gateway/cli_keys.hpp"
#include "keystore/tokens.hpp"
#include "providers/key_format.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

int report(const Error& e) {
  std::cerr << "keygate: " << e.message << "\n";
  return 1;
}

std::string when(const std::optional<int64_t>& t) { return t ? format_rfc3339(*t) : "-"; }

Result<std::unique_ptr<Keystore>> open_ready(const Config& config) {
  auto ks = open_keystore(config);
  if (!ks) {
    return ks;
  }
  if (auto status = (*ks)->status(); !status.ready) {
    return fail(Error::unavailable(status.message));
  }
  return ks;
}

Result<std::string> user_id_by_name(Keystore& ks, const std::string& name) {
  auto user = ks.find_user_by_name(name);
  if (!user) {
    return fail(user.error());
  }
  if (!*user) {
    return fail(Error::not_found("no user named '" + name + "'"));
  }
  return (*user)->id;
}

// The CLI is the operator: it may delete any key, so it looks the owner up first.
Result<Owner> owner_of_key(Keystore& ks, const std::string& id) {
  if (ks.get_key(std::nullopt, id)) {
    return Owner{};
  }
  auto users = ks.list_users();
  if (!users) {
    return fail(users.error());
  }
  for (const auto& u : *users) {
    if (ks.get_key(u.id, id)) {
      return Owner{u.id};
    }
  }
  return fail(Error::not_found("no key with id '" + id + "'"));
}

Result<SecretKey> read_secret_from_stdin() {
  std::string line;
  std::getline(std::cin, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.pop_back();
  }
  if (line.empty()) {
    return fail(Error::invalid_request(
        "Pipe the provider key on stdin, e.g. `printf %s \"$KEY\" | keygate keys add ...` (never "
        "on the command line, where `ps` and shell history would show it)."));
  }
  return SecretKey::take(line);
}

Result<std::optional<int64_t>> optional_time(const std::string& text) {
  if (text.empty()) {
    return std::optional<int64_t>{};
  }
  auto t = parse_rfc3339(text);
  if (!t) {
    return fail(t.error());
  }
  return std::optional<int64_t>(*t);
}

}  // namespace

void register_admin_commands(CLI::App& cli, std::function<std::optional<Config>()> config,
                             int& exit_code) {
  // A command body: opens the keystore, runs `f`, and turns an error into exit code 1.
  auto with_keystore = [config, &exit_code](auto f) {
    return [config, &exit_code, f] {
      auto c = config();
      if (!c) {
        return;
      }
      auto ks = open_ready(*c);
      if (!ks) {
        exit_code = report(ks.error());
        return;
      }
      Result<void> r = f(**ks);
      if (!r) {
        exit_code = report(r.error());
      }
    };
  };

  // --- users ------------------------------------------------------------------------------
  auto* users = cli.add_subcommand("users", "Manage users")->require_subcommand(1);
  static std::string user_name;
  static bool user_admin = false;
  auto* users_add = users->add_subcommand("add", "Add a user; prints its token once");
  users_add->add_option("NAME", user_name)->required();
  users_add->add_flag("--admin", user_admin, "Operator rights");
  users_add->callback(with_keystore([](Keystore& ks) -> Result<void> {
    auto created = ks.create_user(user_name, user_admin);
    if (!created) {
      return fail(created.error());
    }
    ks.record_audit({.actor_name = "cli", .action = "user.create", .target_type = "user",
                     .target_id = created->user.id});
    std::cout << created->token << "\n";
    return {};
  }));
  users->add_subcommand("list", "List users")->callback(with_keystore([](Keystore& ks) -> Result<void> {
    auto list = ks.list_users();
    if (!list) {
      return fail(list.error());
    }
    std::printf("%-28s %-24s %-6s %s\n", "ID", "NAME", "ROLE", "CREATED");
    for (const auto& u : *list) {
      std::printf("%-28s %-24s %-6s %s\n", u.id.c_str(), u.name.c_str(),
                  u.admin ? "admin" : "user", format_rfc3339(u.created_at).c_str());
    }
    return {};
  }));

  // --- tokens -----------------------------------------------------------------------------
  auto* tokens = cli.add_subcommand("tokens", "Manage API tokens")->require_subcommand(1);
  static std::string token_user, token_label, token_expires, token_id;
  auto* tokens_create = tokens->add_subcommand("create", "Create a token; prints it once");
  tokens_create->add_option("USER", token_user)->required();
  tokens_create->add_option("--name", token_label, "Label");
  tokens_create->add_option("--expires", token_expires, "Expiry, RFC 3339");
  tokens_create->callback(with_keystore([](Keystore& ks) -> Result<void> {
    auto uid = user_id_by_name(ks, token_user);
    if (!uid) {
      return fail(uid.error());
    }
    auto expires = optional_time(token_expires);
    if (!expires) {
      return fail(expires.error());
    }
    auto created = ks.create_token(*uid, token_label, *expires);
    if (!created) {
      return fail(created.error());
    }
    ks.record_audit({.actor_name = "cli", .action = "token.create", .target_type = "token",
                     .target_id = created->info.id});
    std::cout << created->token << "\n";
    return {};
  }));
  auto* tokens_list = tokens->add_subcommand("list", "List a user's tokens (masked)");
  tokens_list->add_option("USER", token_user)->required();
  tokens_list->callback(with_keystore([](Keystore& ks) -> Result<void> {
    auto uid = user_id_by_name(ks, token_user);
    if (!uid) {
      return fail(uid.error());
    }
    auto list = ks.list_tokens(*uid);
    if (!list) {
      return fail(list.error());
    }
    std::printf("%-28s %-16s %-14s %-20s %-20s %s\n", "ID", "NAME", "TOKEN", "CREATED", "EXPIRES",
                "REVOKED");
    for (const auto& t : *list) {
      std::printf("%-28s %-16s %-14s %-20s %-20s %s\n", t.id.c_str(), t.name.c_str(),
                  t.masked.c_str(), format_rfc3339(t.created_at).c_str(),
                  when(t.expires_at).c_str(), when(t.revoked_at).c_str());
    }
    return {};
  }));
  auto* tokens_revoke = tokens->add_subcommand("revoke", "Revoke a token");
  tokens_revoke->add_option("TOKEN_ID", token_id)->required();
  tokens_revoke->callback(with_keystore([](Keystore& ks) -> Result<void> {
    auto r = ks.revoke_token(token_id);
    if (!r) {
      return r;
    }
    ks.record_audit({.actor_name = "cli", .action = "token.revoke", .target_type = "token",
                     .target_id = token_id});
    std::cerr << "revoked " << token_id << "\n";
    return {};
  }));

  // --- keys -------------------------------------------------------------------------------
  auto* keys = cli.add_subcommand("keys", "Manage provider keys")->require_subcommand(1);
  static std::string key_user, key_provider, key_name, key_description, key_expires, key_id;
  static bool key_system = false;
  auto* keys_add = keys->add_subcommand("add", "Add a provider key, read from stdin");
  auto* for_user = keys_add->add_option("--user", key_user, "Owner's user name");
  auto* for_system = keys_add->add_flag("--system", key_system, "An operator (system) key");
  for_user->excludes(for_system);
  keys_add->add_option("--provider", key_provider, "Provider id, e.g. openai")->required();
  keys_add->add_option("--name", key_name, "Label");
  keys_add->add_option("--description", key_description, "Description");
  keys_add->add_option("--expires", key_expires, "Expiry, RFC 3339");
  keys_add->callback([config, &exit_code] {
    auto c = config();
    if (!c) {
      return;
    }
    if (key_user.empty() == !key_system) {
      exit_code = report(Error::invalid_request("give exactly one of --user NAME or --system"));
      return;
    }
    auto catalog = load_catalog(*c);
    if (!catalog) {
      exit_code = report(catalog.error());
      return;
    }
    const auto* provider = catalog->find(key_provider);
    if (!provider) {
      exit_code = report(Error::invalid_request("unknown provider '" + key_provider + "'"));
      return;
    }
    auto ks = open_ready(*c);
    if (!ks) {
      exit_code = report(ks.error());
      return;
    }
    Owner owner;
    if (!key_system) {
      auto uid = user_id_by_name(**ks, key_user);
      if (!uid) {
        exit_code = report(uid.error());
        return;
      }
      owner = *uid;
    }
    auto secret = read_secret_from_stdin();
    if (!secret) {
      exit_code = report(secret.error());
      return;
    }
    if (auto ok = providers::validate_provider_key(*provider, secret->expose()); !ok) {
      exit_code = report(ok.error());
      return;
    }
    auto expires = optional_time(key_expires);
    if (!expires) {
      exit_code = report(expires.error());
      return;
    }
    auto created = (*ks)->create_key(owner, provider->id, std::move(*secret),
                                     key_name.empty() ? provider->display_name + " key" : key_name,
                                     key_description, *expires);
    if (!created) {
      exit_code = report(created.error());
      return;
    }
    (*ks)->record_audit({.actor_name = "cli", .action = "key.create", .target_type = "key",
                         .target_id = created->id});
    std::cout << created->id << " " << created->masked << "\n";
  });
  auto* keys_list = keys->add_subcommand("list", "List provider keys (masked)");
  keys_list->add_option("--user", key_user, "Owner's user name");
  keys_list->add_flag("--system", key_system, "System keys");
  keys_list->callback(with_keystore([](Keystore& ks) -> Result<void> {
    Owner owner;
    if (!key_user.empty()) {
      auto uid = user_id_by_name(ks, key_user);
      if (!uid) {
        return fail(uid.error());
      }
      owner = *uid;
    }
    auto list = ks.list_keys(owner);
    if (!list) {
      return fail(list.error());
    }
    int64_t now = now_unix();
    std::printf("%-28s %-10s %-22s %-14s %-9s %s\n", "ID", "PROVIDER", "NAME", "KEY", "STATUS",
                "EXPIRES");
    for (const auto& k : *list) {
      std::printf("%-28s %-10s %-22s %-14s %-9s %s\n", k.id.c_str(), k.provider.c_str(),
                  k.name.c_str(), k.masked.c_str(), k.effective_status(now).c_str(),
                  when(k.expires_at).c_str());
    }
    return {};
  }));
  auto* keys_rm = keys->add_subcommand("rm", "Delete a provider key");
  keys_rm->add_option("KEY_ID", key_id)->required();
  keys_rm->callback(with_keystore([](Keystore& ks) -> Result<void> {
    auto owner = owner_of_key(ks, key_id);
    if (!owner) {
      return fail(owner.error());
    }
    auto r = ks.delete_key(*owner, key_id);
    if (!r) {
      return r;
    }
    ks.record_audit({.actor_name = "cli", .action = "key.delete", .target_type = "key",
                     .target_id = key_id});
    std::cerr << "deleted " << key_id << "\n";
    return {};
  }));

  register_key_test_command(*keys, config, exit_code);  // cli_keys.cpp

  // --- master key rotation ----------------------------------------------------------------
  static std::string new_key_file;
  auto* rotate = cli.add_subcommand("rotate-master-key",
                                    "Re-seal every key under a new master key (safe to re-run)");
  rotate->add_option("--new-key-file", new_key_file, "File with the new base64 master key")
      ->required();
  rotate->callback(with_keystore([](Keystore& ks) -> Result<void> {
    auto key = read_master_key_file(new_key_file);
    if (!key) {
      return fail(key.error());
    }
    auto report = ks.rotate_master_key(std::move(*key));
    if (!report) {
      return fail(report.error());
    }
    std::cerr << "re-sealed " << report->resealed << " keys (" << report->skipped
              << " already done), master key version " << report->from_version << " -> "
              << report->to_version << ". Point keygate at the new key file now.\n";
    return {};
  }));
}

}  // namespace keygate::gateway
