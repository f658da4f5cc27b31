#include "gateway/app.hpp"

#include <boost/asio/signal_set.hpp>

#include <filesystem>

#include "gateway/log.hpp"
#include "gateway/memory_trim.hpp"
#include "keystore/postgres.hpp"
#include "keystore/usage_reports.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"
#include "schema/try.hpp"

namespace keygate::gateway {

Result<std::unique_ptr<Keystore>> open_keystore(const Config& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return fail(Error::unavailable("Cannot create data directory " + config.data_dir + ": " +
                                   ec.message()));
  }
  auto master = load_master_key(MasterKeySource{config.data_dir, config.master_key_file});
  std::optional<MasterKeyMaterial> key;
  if (master) {
    key = std::move(*master);
  } else {
    log_event(
        "warn", "no master key: provider keys cannot be served", ",\"reason\":" + [&] {
          JsonWriter w;
          w.string(master.error().message);
          return w.take();
        }());
  }
  return Keystore::open(database_target(config), std::move(key));
}

Result<providers::Catalog> load_catalog(const Config& config) {
  auto catalog = providers::Catalog::builtin();
  if (!catalog) {
    return catalog;
  }
  if (config.providers) {
    if (auto ok = catalog->apply_config(*config.providers); !ok) {
      return fail(ok.error());
    }
  }
  return catalog;
}

Result<std::unique_ptr<App>> App::create(Config config) {
  auto catalog = load_catalog(config);
  if (!catalog) {
    return fail(catalog.error());
  }
  auto keystore = open_keystore(config);
  if (!keystore) {
    return fail(keystore.error());
  }
  if (auto listening = (*keystore)->listen_for_changes(); !listening) {
    return fail(listening.error());
  }
  return std::unique_ptr<App>(
      new App(std::move(config), std::move(*catalog), std::move(*keystore)));
}

App::App(Config config, providers::Catalog catalog, std::unique_ptr<Keystore> keystore)
    : config_(std::move(config)),
      catalog_(std::move(catalog)),
      keystore_(std::move(keystore)),
      ioc_(effective_threads(config_)),
      db_(2),
      upstream_(std::make_unique<UpstreamClient>(ioc_.get_executor(), config_.upstream)),
      models_(catalog_, config_.model_aliases),
      auth_(*keystore_, db_),
      spend_(config_.system_key_budget),
      rate_(config_.rate_limit),
      keys_(*keystore_, db_, &spend_),
      usage_(make_usage_sink(
          config_, catalog_, metrics_, &spend_, &rate_,
          [this] { return requests_in_flight_.load(std::memory_order_relaxed) > 1; })),
      api_{*keystore_, db_, catalog_, models_, keys_, *upstream_, *usage_, spend_, rate_},
      work_(net::make_work_guard(ioc_)) {
  register_health_routes(routes_, *keystore_, db_);
  register_proxy_routes(routes_, api_, config_.retry, config_.breaker);
  register_key_routes(routes_, api_);
  register_admin_routes(routes_, api_);
  register_agent_routes(routes_, api_);
  register_usage_routes(routes_, api_);
  register_metrics_route(routes_, metrics_);
  server_ = std::make_unique<Server>(ioc_, config_.server, routes_, auth_, &requests_in_flight_);
  metrics_.add_callback("keygate_rate_limited_total", "counter",
                        "Requests refused by a user's rate limit.",
                        [this] { return static_cast<double>(rate_.refusals()); });
  metrics_.add_callback("keygate_system_key_budget_refusals_total", "counter",
                        "Calls refused the operator's key: the user's budget was spent.",
                        [this] { return static_cast<double>(spend_.refusals()); });
  metrics_.add_callback("keygate_open_connections", "gauge", "Client connections open now.",
                        [this] { return static_cast<double>(server_->open_connections()); });
  metrics_.add_callback("keygate_active_streams", "gauge", "Streams being relayed now.",
                        [this] { return static_cast<double>(server_->active_streams()); });
  metrics_.add_callback("keygate_upstream_pool_idle_connections", "gauge",
                        "Idle upstream connections kept for reuse.",
                        [this] { return static_cast<double>(upstream_->stats().idle_pooled); });
  // Opened against reused shows whether the pool is large enough for the concurrency.
  metrics_.add_callback(
      "keygate_upstream_connections_opened_total", "counter",
      "Upstream connections opened (each a TCP, and maybe TLS, handshake).",
      [this] { return static_cast<double>(upstream_->stats().connections_opened); });
  metrics_.add_callback("keygate_upstream_connections_reused_total", "counter",
                        "Upstream calls sent on a pooled connection.", [this] {
                          return static_cast<double>(upstream_->stats().connections_reused);
                        });
}

App::~App() {
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  db_.stop();
  usage_->flush();  // no request runs any more: every row recorded is stored before we go
}

Result<void> App::reload_limits() {
  const auto period = spend_.begin_reload(now_unix_ms());
  if (!period) {
    return {};  // one is running (a slow database): it will bring the same news
  }
  rate_.begin_reload();
  auto users = keystore_->list_users();
  std::unordered_map<std::string, double> stored;
  Result<void> read;
  if (!users) {
    read = fail(users.error());
  } else if (auto* reports = usage_->reports()) {
    auto sums = reports->operator_key_spend(period->first, period->second);
    if (sums) {
      stored = std::move(*sums);
    } else {
      read = fail(sums.error());
    }
  } else {
    log_event("warn",
              "usage reports unavailable: budgets on the operator's keys count only this "
              "process's calls");
  }
  if (!read) {
    spend_.abandon_reload();
    rate_.abandon_reload();
    return read;
  }
  std::vector<std::pair<std::string, std::optional<double>>> budgets;
  std::vector<OwnRateLimits> rates;
  for (auto& u : *users) {
    if (u.system_key_budget_usd) {
      budgets.emplace_back(u.id, u.system_key_budget_usd);
    }
    if (u.requests_per_minute || u.tokens_per_minute) {
      rates.push_back({u.id, u.requests_per_minute, u.tokens_per_minute});
    }
  }
  spend_.finish_reload(period->first, budgets, stored);
  rate_.finish_reload(rates);
  return {};
}

// Every minute on PostgreSQL, where other instances spend on the same users' budgets and other
// operators change limits. On SQLite this process is the only one that serves requests, so what
// it counts is the whole spend; it reads the database again only when the budget period changed
// (a new month, or a clock that stepped), to learn what the new period had spent already.
void App::arm_limits_reload() {
  limits_timer_->expires_after(std::chrono::seconds(config_.database.empty() ? 5 : 60));
  limits_timer_->async_wait([this](const error_code& ec) {
    if (ec) {
      return;
    }
    const bool wanted = spend_.take_reload_wanted();
    if (wanted || !config_.database.empty()) {
      net::post(db_.executor(), [this] {
        if (auto r = reload_limits(); !r) {
          JsonWriter w;
          w.string(r.error().message);
          log_event("warn", "could not reload users' budgets, spending and rate limits",
                    ",\"reason\":" + w.take());
        }
      });
    }
    arm_limits_reload();
  });
}

Result<uint16_t> App::start() {
  // Before the first request: a budget must count what was spent before this start.
  if (auto loaded = reload_limits(); !loaded) {
    return fail(loaded.error());
  }
  auto port = server_->listen(config_.listen_host, config_.listen_port);
  if (!port) {
    return port;
  }
  int n = effective_threads(config_);
  server_->set_single_threaded(n == 1);
  server_->start();
  trim_timer_ = std::make_unique<net::steady_timer>(ioc_);
  arm_memory_trim();
  limits_timer_ = std::make_unique<net::steady_timer>(ioc_);
  arm_limits_reload();
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
  JsonWriter database;  // the URI without its password, or the SQLite file
  database.string(config_.database.empty() ? database_target(config_)
                                           : pg::redact_target(config_.database));
  log_event("info", "listening",
            ",\"address\":\"" + config_.listen_host + "\",\"port\":" + std::to_string(*port) +
                ",\"threads\":" + std::to_string(n) + ",\"database\":" + database.take());
  return port;
}

void App::arm_memory_trim() {
  trim_timer_->expires_after(std::chrono::seconds(1));
  trim_timer_->async_wait([this](const error_code& ec) {
    if (ec) {
      return;
    }
    trim_memory();
    arm_memory_trim();
  });
}

void App::shutdown() {
  server_->shutdown([this] {
    upstream_->close_idle();
    work_.reset();
    ioc_.stop();
  });
}

void App::handle_signals() {
  signals_ = std::make_unique<net::signal_set>(ioc_, SIGTERM, SIGINT);
  signals_->async_wait([this](const error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log_event("info", "shutting down", ",\"signal\":" + std::to_string(signal));
    shutdown();
  });
}

void App::wait() {
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  // The server drained: store every usage row before `keygate serve` reports it stopped.
  usage_->flush();
}

}  // namespace keygate::gateway
