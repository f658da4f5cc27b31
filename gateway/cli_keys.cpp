#include "gateway/cli_keys.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

#include "gateway/app.hpp"
#include "gateway/key_test.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

// A key test should answer in seconds, not wait as long as a slow completion may.
constexpr Millis kTestFirstByteTimeout{30'000};

int report(const Error& e) {
  std::cerr << "keygate: " << e.message << "\n";
  return 1;
}

// The operator may test any key: find whose it is (system first, then each user's).
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

int test_key_command(const Config& config, const std::string& key_id) {
  auto catalog = load_catalog(config);
  if (!catalog) {
    return report(catalog.error());
  }
  auto ks = open_keystore(config);
  if (!ks) {
    return report(ks.error());
  }
  Keystore& keystore = **ks;
  if (auto status = keystore.status(); !status.ready) {
    return report(Error::unavailable(status.message));
  }
  auto owner = owner_of_key(keystore, key_id);
  if (!owner) {
    return report(owner.error());
  }
  auto record = keystore.get_key(*owner, key_id);
  if (!record) {
    return report(record.error());
  }
  const auto* provider = catalog->find(record->provider);
  if (provider == nullptr) {
    return report(
        Error::invalid_request("the key's provider '" + record->provider + "' is not configured"));
  }
  auto secret = keystore.open_key(*owner, key_id);
  if (!secret) {
    return report(secret.error());
  }

  net::io_context ioc;
  UpstreamLimits limits = config.upstream;
  limits.first_byte_timeout = std::min(limits.first_byte_timeout, kTestFirstByteTimeout);
  KeyTestResult result;
  {
    UpstreamClient client(ioc.get_executor(), limits);
    auto run = [&]() -> awaitable<void> {
      auto testing = run_key_test(client, *provider, std::move(*secret));
      result = co_await std::move(testing);
    };
    net::co_spawn(ioc, run, net::detached);
    ioc.run();
    client.close_idle();
  }

  auto stored = keystore.set_key_status(key_id, status_after_test(*record, result), now_unix(),
                                        last_error_after_test(*record, result));
  if (!stored) {
    return report(stored.error());
  }
  keystore.record_audit({.actor_name = "cli",
                         .action = "key.test",
                         .target_type = "key",
                         .target_id = key_id,
                         .detail = "upstream HTTP " + std::to_string(result.upstream_status) +
                                   (result.ok ? " (ok)" : " (failed)")});
  // The message is scrubbed of the key by run_key_test.
  std::cout << (result.ok ? "ok" : "failed") << " " << key_id << " (" << record->provider << ", "
            << record->masked << "): HTTP " << result.upstream_status << ": " << result.message
            << "\n";
  return result.ok ? 0 : 1;
}

}  // namespace

void register_key_test_command(CLI::App& keys, std::function<std::optional<Config>()> config,
                               int& exit_code) {
  static std::string key_id;
  auto* test = keys.add_subcommand("test", "Test a provider key with a cheap upstream call");
  test->add_option("KEY_ID", key_id)->required();
  test->callback([config, &exit_code] {
    auto c = config();
    if (!c) {
      return;
    }
    exit_code = test_key_command(*c, key_id);
  });
}

}  // namespace keygate::gateway
