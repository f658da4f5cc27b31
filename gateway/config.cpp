#include "gateway/config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

#include "keystore/postgres.hpp"
#include "schema/json.hpp"

namespace keygate::gateway {
namespace {

Error config_error(std::string message) {
  return Error::invalid_request("config: " + std::move(message), {}, "invalid_config");
}

Result<void> read_millis(const rapidjson::Value& obj, const char* name, Millis& out) {
  auto v = get_number(obj, name);
  if (!v) {
    return fail(config_error(v.error().message));
  }
  if (*v) {
    if (**v < 0) {
      return fail(config_error(std::string(name) + " must not be negative"));
    }
    out = Millis(static_cast<int64_t>(**v * 1000.0));
  }
  return {};
}

Result<void> read_size(const rapidjson::Value& obj, const char* name, std::size_t& out) {
  auto v = get_int(obj, name);
  if (!v) {
    return fail(config_error(v.error().message));
  }
  if (*v) {
    if (**v <= 0) {
      return fail(config_error(std::string(name) + " must be positive"));
    }
    out = static_cast<std::size_t>(**v);
  }
  return {};
}

// "limits": {"max_body_bytes": ..., "header_read_timeout_s": ...}
Result<void> read_limits(const rapidjson::Value& v, Config& c) {
  if (!v.IsObject()) {
    return fail(config_error("'limits' must be an object"));
  }
  for (auto& m : v.GetObject()) {
    std::string_view k = as_view(m.name);
    static constexpr std::string_view known[] = {"max_header_bytes",
                                                 "max_body_bytes",
                                                 "header_read_timeout_s",
                                                 "body_read_timeout_s",
                                                 "idle_timeout_s",
                                                 "write_timeout_s",
                                                 "max_connections",
                                                 "shutdown_grace_s",
                                                 "upstream_connect_timeout_s",
                                                 "upstream_first_byte_timeout_s",
                                                 "upstream_idle_timeout_s",
                                                 "upstream_max_response_bytes",
                                                 "upstream_max_idle_per_host"};
    if (std::find(std::begin(known), std::end(known), k) == std::end(known)) {
      return fail(config_error("unknown key limits." + std::string(k)));
    }
  }
  Result<void> r;
  for (auto [name, field] : {std::pair{"header_read_timeout_s", &c.server.header_read_timeout},
                             {"body_read_timeout_s", &c.server.body_read_timeout},
                             {"idle_timeout_s", &c.server.idle_timeout},
                             {"write_timeout_s", &c.server.write_timeout},
                             {"shutdown_grace_s", &c.server.shutdown_grace},
                             {"upstream_connect_timeout_s", &c.upstream.connect_timeout},
                             {"upstream_first_byte_timeout_s", &c.upstream.first_byte_timeout},
                             {"upstream_idle_timeout_s", &c.upstream.idle_timeout}}) {
    if (r = read_millis(v, name, *field); !r) {
      return r;
    }
  }
  for (auto [name, field] : {std::pair{"max_header_bytes", &c.server.max_header_bytes},
                             {"max_body_bytes", &c.server.max_body_bytes},
                             {"max_connections", &c.server.max_connections},
                             {"upstream_max_response_bytes", &c.upstream.max_response_bytes},
                             {"upstream_max_idle_per_host", &c.upstream.max_idle_per_host}}) {
    if (r = read_size(v, name, *field); !r) {
      return r;
    }
  }
  return {};
}

// "routing": {"retries_per_target": 1, "retry_backoff_min_s": 0.05, "retry_backoff_max_s": 0.2,
//             "breaker_failures": 5, "breaker_open_s": 30}
Result<void> read_routing(const rapidjson::Value& v, Config& c) {
  if (!v.IsObject()) {
    return fail(config_error("'routing' must be an object"));
  }
  for (auto& m : v.GetObject()) {
    std::string_view k = as_view(m.name);
    static constexpr std::string_view known[] = {"retries_per_target", "retry_backoff_min_s",
                                                 "retry_backoff_max_s", "breaker_failures",
                                                 "breaker_open_s"};
    if (std::find(std::begin(known), std::end(known), k) == std::end(known)) {
      return fail(config_error("unknown key routing." + std::string(k)));
    }
  }
  auto retries = get_int(v, "retries_per_target");
  auto failures = get_int(v, "breaker_failures");
  if (!retries || !failures) {
    return fail(config_error(!retries ? retries.error().message : failures.error().message));
  }
  if (*retries) {
    if (**retries < 0 || **retries > 10) {
      return fail(config_error("routing.retries_per_target must be from 0 to 10"));
    }
    c.retry.max_retries_per_target = static_cast<int>(**retries);
  }
  if (*failures) {
    if (**failures < 1 || **failures > 1000) {
      return fail(config_error("routing.breaker_failures must be from 1 to 1000"));
    }
    c.breaker.failure_threshold = static_cast<int>(**failures);
  }
  for (auto [name, field] : {std::pair{"retry_backoff_min_s", &c.retry.backoff_min},
                             {"retry_backoff_max_s", &c.retry.backoff_max},
                             {"breaker_open_s", &c.breaker.open_for}}) {
    if (auto r = read_millis(v, name, *field); !r) {
      return r;
    }
  }
  if (c.retry.backoff_min > c.retry.backoff_max) {
    return fail(config_error("routing.retry_backoff_min_s must not exceed retry_backoff_max_s"));
  }
  if (c.breaker.open_for <= Millis(0)) {
    return fail(config_error("routing.breaker_open_s must be positive"));
  }
  return {};
}

// "system_key_budget": {"usd": 20, "period": "month"}: every user's limit on the operator's keys
// (null or absent: none) and the period it counts over ("day" or "month", UTC).
Result<void> read_system_key_budget(const rapidjson::Value& v, Config& c) {
  if (!v.IsObject()) {
    return fail(config_error("'system_key_budget' must be an object"));
  }
  for (auto& m : v.GetObject()) {
    std::string_view k = as_view(m.name);
    if (k != "usd" && k != "period") {
      return fail(config_error("unknown key system_key_budget." + std::string(k)));
    }
  }
  if (auto usd = v.FindMember("usd"); usd != v.MemberEnd() && !usd->value.IsNull()) {
    if (!usd->value.IsNumber() || !(usd->value.GetDouble() >= 0) || usd->value.GetDouble() > 1e12) {
      return fail(config_error("system_key_budget.usd must be a number of dollars, 0 or more"));
    }
    c.system_key_budget.default_usd = usd->value.GetDouble();
  }
  if (auto period = v.FindMember("period"); period != v.MemberEnd()) {
    const std::string_view p = period->value.IsString() ? as_view(period->value) : "";
    if (p != "day" && p != "month") {
      return fail(config_error("system_key_budget.period must be \"day\" or \"month\""));
    }
    c.system_key_budget.period = p == "day" ? BudgetPeriod::day : BudgetPeriod::month;
  }
  return {};
}

// "rate_limit": {"requests_per_minute": 600, "tokens_per_minute": 200000}: every user's limits
// (null or absent: none).
Result<void> read_rate_limit(const rapidjson::Value& v, Config& c) {
  if (!v.IsObject()) {
    return fail(config_error("'rate_limit' must be an object"));
  }
  for (auto& m : v.GetObject()) {
    const std::string_view name = as_view(m.name);
    if (name != "requests_per_minute" && name != "tokens_per_minute") {
      return fail(config_error("unknown key rate_limit." + std::string(name)));
    }
  }
  for (auto [name, field] : {std::pair{"requests_per_minute", &RatePolicy::requests_per_minute},
                             std::pair{"tokens_per_minute", &RatePolicy::tokens_per_minute}}) {
    auto it = v.FindMember(name);
    if (it == v.MemberEnd() || it->value.IsNull()) {
      continue;
    }
    if (!it->value.IsInt64() || it->value.GetInt64() < 1 || it->value.GetInt64() > 1'000'000'000) {
      return fail(config_error(std::string("rate_limit.") + name +
                               " must be an integer from 1 to 1000000000"));
    }
    c.rate_limit.*field = it->value.GetInt64();
  }
  return {};
}

}  // namespace

Result<void> apply_listen(Config& config, std::string_view host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string_view::npos) {
    return fail(config_error("listen must be HOST:PORT, got '" + std::string(host_port) + "'"));
  }
  std::string_view host = host_port.substr(0, colon);
  std::string_view port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || ptr != port.data() + port.size() || value > 65535) {
    return fail(config_error("invalid port in listen '" + std::string(host_port) + "'"));
  }
  config.listen_host = host.empty() ? "0.0.0.0" : std::string(host);
  config.listen_port = static_cast<uint16_t>(value);
  return {};
}

Result<Config> parse_config(std::string_view json, Config c) {
  auto doc = parse_json_object(json, /*relaxed=*/true);
  if (!doc) {
    return fail(config_error(doc.error().message));
  }
  for (auto& m : doc->GetObject()) {
    std::string_view key = as_view(m.name);
    const rapidjson::Value& v = m.value;
    if (key == "listen") {
      if (!v.IsString()) {
        return fail(config_error("'listen' must be a string"));
      }
      if (auto r = apply_listen(c, as_view(v)); !r) {
        return fail(r.error());
      }
    } else if (key == "threads") {
      if (!v.IsInt() || v.GetInt() < 0 || v.GetInt() > 256) {
        return fail(config_error("'threads' must be an integer from 0 to 256"));
      }
      c.threads = v.GetInt();
    } else if (key == "data") {
      if (!v.IsString()) {
        return fail(config_error("'data' must be a string"));
      }
      c.data_dir = std::string(as_view(v));
    } else if (key == "database") {
      if (!v.IsString()) {
        return fail(config_error("'database' must be a string"));
      }
      c.database = std::string(as_view(v));
      if (!c.database.empty() && !pg::is_postgres_target(c.database)) {
        return fail(config_error(
            "'database' must be a postgres:// or postgresql:// URI (leave it out for SQLite in "
            "the data directory)"));
      }
    } else if (key == "limits") {
      if (auto r = read_limits(v, c); !r) {
        return fail(r.error());
      }
    } else if (key == "routing") {
      if (auto r = read_routing(v, c); !r) {
        return fail(r.error());
      }
    } else if (key == "rate_limit") {
      if (auto r = read_rate_limit(v, c); !r) {
        return fail(r.error());
      }
    } else if (key == "system_key_budget") {
      if (auto r = read_system_key_budget(v, c); !r) {
        return fail(r.error());
      }
    } else if (key == "providers") {
      if (!v.IsObject()) {
        return fail(config_error("'providers' must be an object"));
      }
      auto copy = std::make_shared<rapidjson::Document>();
      copy->CopyFrom(v, copy->GetAllocator());
      c.providers = std::move(copy);
    } else if (key == "models") {
      if (!v.IsObject()) {
        return fail(config_error("'models' must be an object of alias -> provider/model"));
      }
      for (auto& alias : v.GetObject()) {
        if (!alias.value.IsString()) {
          return fail(
              config_error("models." + std::string(as_view(alias.name)) + " must be a string"));
        }
        c.model_aliases[std::string(as_view(alias.name))] = std::string(as_view(alias.value));
      }
    } else {
      return fail(config_error("unknown key '" + std::string(key) + "'"));
    }
  }
  return c;
}

Result<Config> load_config_file(const std::string& path, Config base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(config_error("cannot read " + path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), std::move(base));
}

int effective_threads(const Config& config) {
  if (config.threads > 0) {
    return config.threads;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

std::string database_target(const Config& config) {
  return config.database.empty() ? config.data_dir + "/keygate.db" : config.database;
}

}  // namespace keygate::gateway
