#include <catch2/catch.hpp>

#include "gateway/config.hpp"

using namespace keygate::gateway;
using namespace std::chrono_literals;

TEST_CASE("config files allow comments and trailing commas", "[config]") {
  auto c = parse_config(R"({
    // where to listen
    "listen": "0.0.0.0:9090",
    "threads": 3,
    "limits": {"max_body_bytes": 2048, "shutdown_grace_s": 5, "upstream_idle_timeout_s": 1.5,},
    "providers": {"openai": {"base_url": "http://127.0.0.1:1/v1"}},
    "models": {"fast": "openai/gpt-4o-mini"},
  })");
  REQUIRE(c);
  CHECK(c->listen_host == "0.0.0.0");
  CHECK(c->listen_port == 9090);
  CHECK(c->threads == 3);
  CHECK(c->server.max_body_bytes == 2048);
  CHECK(c->server.shutdown_grace == 5000ms);
  CHECK(c->upstream.idle_timeout == 1500ms);
  REQUIRE(c->providers);
  CHECK(c->providers->HasMember("openai"));
  CHECK(c->model_aliases.at("fast") == "openai/gpt-4o-mini");
}

TEST_CASE("defaults match the documented ones", "[config]") {
  Config c;
  CHECK(c.server.max_body_bytes == 16 * 1024 * 1024);
  CHECK(c.server.shutdown_grace == 30s);
  CHECK(c.listen_port == 8080);
}

TEST_CASE("config mistakes are clear errors, never silently ignored", "[config]") {
  CHECK_FALSE(parse_config(R"({"listn": "x"})"));
  CHECK_FALSE(parse_config(R"({"threads": -1})"));
  CHECK_FALSE(parse_config(R"({"listen": "nohostport"})"));
  CHECK_FALSE(parse_config(R"({"listen": "127.0.0.1:99999"})"));
  CHECK_FALSE(parse_config(R"({"limits": {"max_body_byte": 1}})"));
  CHECK_FALSE(parse_config(R"({"limits": {"max_body_bytes": -5}})"));
  CHECK_FALSE(parse_config(R"({"models": {"fast": 3}})"));
  CHECK_FALSE(parse_config("{"));
  auto e = parse_config(R"({"listn": "x"})");
  CHECK(e.error().message.find("listn") != std::string::npos);
}

TEST_CASE("routing sets retries and the circuit breaker; mistakes are errors", "[config]") {
  Config defaults;
  CHECK(defaults.retry.max_retries_per_target == 1);
  CHECK(defaults.breaker.failure_threshold == 5);
  CHECK(defaults.breaker.open_for == 30s);

  auto c = parse_config(R"({"routing": {"retries_per_target": 0, "retry_backoff_min_s": 0.1,
                                        "retry_backoff_max_s": 0.5, "breaker_failures": 2,
                                        "breaker_open_s": 90}})");
  REQUIRE(c);
  CHECK(c->retry.max_retries_per_target == 0);
  CHECK(c->retry.backoff_min == 100ms);
  CHECK(c->retry.backoff_max == 500ms);
  CHECK(c->breaker.failure_threshold == 2);
  CHECK(c->breaker.open_for == 90s);

  auto partial = parse_config(R"({"routing": {"breaker_failures": 3}})");
  REQUIRE(partial);
  CHECK(partial->breaker.failure_threshold == 3);
  CHECK(partial->retry.max_retries_per_target == 1);  // the rest keeps its default

  for (const char* bad :
       {R"({"routing": []})", R"({"routing": {"retries": 1}})",
        R"({"routing": {"retries_per_target": -1}})", R"({"routing": {"retries_per_target": 11}})",
        R"({"routing": {"retries_per_target": 1.5}})", R"({"routing": {"breaker_failures": 0}})",
        R"({"routing": {"breaker_open_s": 0}})", R"({"routing": {"retry_backoff_min_s": -1}})",
        R"({"routing": {"retry_backoff_min_s": 1, "retry_backoff_max_s": 0.5}})"}) {
    INFO(bad);
    auto r = parse_config(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("config:") == 0);
  }
}

TEST_CASE("listen accepts host:port, [v6]:port and :port", "[config]") {
  Config c;
  REQUIRE(apply_listen(c, "[::1]:8081"));
  CHECK(c.listen_host == "::1");
  CHECK(c.listen_port == 8081);
  REQUIRE(apply_listen(c, ":7000"));
  CHECK(c.listen_host == "0.0.0.0");
  CHECK(c.listen_port == 7000);
}
