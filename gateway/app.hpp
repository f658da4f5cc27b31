#pragma once
// The running gateway: configuration, catalog, keystore, thread pools, upstream client, routes and
// server, wired together. `keygate serve` runs one; integration tests run one in-process.

#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "gateway/chat_proxy.hpp"
#include "gateway/config.hpp"
#include "gateway/db_executor.hpp"
#include "gateway/keystore_bridge.hpp"
#include "gateway/metrics.hpp"
#include "gateway/server.hpp"
#include "keystore/keystore.hpp"
#include "providers/catalog.hpp"
#include "router/model_resolver.hpp"

namespace keygate::gateway {

// Opens DATA/keygate.db with the master key from the environment, --master-key-file or
// DATA/master.key (a missing or wrong key leaves the keystore sealed; see readyz).
Result<std::unique_ptr<Keystore>> open_keystore(const Config& config);
Result<providers::Catalog> load_catalog(const Config& config);

class App {
 public:
  static Result<std::unique_ptr<App>> create(Config config);
  ~App();

  // Binds the listener and starts the I/O threads; returns the bound port.
  Result<uint16_t> start();
  // Stops accepting and drains (see Server::shutdown); wait() returns once done and every usage
  // row recorded so far is stored.
  void shutdown();
  // Installs SIGTERM/SIGINT handlers that call shutdown().
  void handle_signals();
  void wait();

  Keystore& keystore() { return *keystore_; }
  const providers::Catalog& catalog() const { return catalog_; }
  Server& server() { return *server_; }
  UpstreamClient& upstream() { return *upstream_; }
  const RouteTable& routes() const { return routes_; }
  UsageSink& usage() { return *usage_; }
  Metrics& metrics() { return metrics_; }
  SpendLimits& spend() { return spend_; }
  RateLimits& rate() { return rate_; }
  // Users' budgets and this period's spend on the operator's keys (spend_limits.hpp), and users'
  // rate limits (rate_limits.hpp), from the database. Blocks: at start, and on the database pool.
  Result<void> reload_limits();

 private:
  App(Config config, providers::Catalog catalog, std::unique_ptr<Keystore> keystore);

  Config config_;
  providers::Catalog catalog_;
  std::unique_ptr<Keystore> keystore_;
  net::io_context ioc_;
  DbExecutor db_;
  std::unique_ptr<UpstreamClient> upstream_;
  router::ModelResolver models_;
  KeystoreAuthenticator auth_;
  SpendLimits spend_;
  RateLimits rate_;
  KeystoreKeyResolver keys_;
  Metrics metrics_;  // before usage_: the sink feeds it and registers callbacks with it
  // Counted by the server's sessions, read by the usage writer's pacing (before both).
  std::atomic<std::size_t> requests_in_flight_{0};
  std::unique_ptr<UsageSink> usage_;
  ApiContext api_;
  RouteTable routes_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<net::signal_set> signals_;
  std::unique_ptr<net::steady_timer> trim_timer_;  // gateway/memory_trim.hpp, once a second
  void arm_memory_trim();
  // Reloads users' limits: every minute on PostgreSQL, on SQLite when the budget period changed.
  std::unique_ptr<net::steady_timer> limits_timer_;
  void arm_limits_reload();
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

void register_health_routes(RouteTable& routes, Keystore& keystore, DbExecutor& db);
// The usage recorder for this configuration (usage_recording.cpp): stores rows in the keystore's
// database through its own writer thread, priced with the catalog, and feeds `metrics`.
// Calls on the operator's keys add their cost to `limits`, and every call its tokens to the
// user's token rate limit in `rate` (either may be null). `busy` (optional, asked on the writer
// thread): whether several requests are open, when the writer pauses less often
// (keystore/usage_writer.hpp, busy_slice).
std::unique_ptr<UsageSink> make_usage_sink(const Config& config, const providers::Catalog& catalog,
                                           Metrics& metrics, SpendLimits* limits, RateLimits* rate,
                                           std::function<bool()> busy = {});

}  // namespace keygate::gateway
