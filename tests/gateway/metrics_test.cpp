// GET /metrics: Prometheus text after real traffic, and the Metrics registry on its own
// (cumulative histogram buckets, label escaping, bounded series).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <regex>
#include <thread>

#include "gateway/metrics.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

gateway::UsageEvent event(const std::string& model, const std::string& outcome, int64_t latency_ms,
                          int status = 200) {
  gateway::UsageEvent e;
  e.provider = "openai";
  e.model_served = model;
  e.outcome = outcome;
  e.latency_ms = latency_ms;
  e.ttft_ms = latency_ms / 2;
  e.upstream_status = status;
  if (outcome == "ok") {
    e.usage.prompt_tokens = 5;
    e.usage.completion_tokens = 7;
  }
  return e;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("metrics registry renders counters, cumulative buckets and escaped labels", "[metrics]") {
  // Guards against: non-cumulative buckets (Prometheus rejects them), unescaped quotes in a
  // client-chosen model name breaking the whole scrape.
  gateway::Metrics m;
  m.observe(event("gpt-4o-mini", "ok", 40));
  m.observe(event("gpt-4o-mini", "ok", 700));
  m.observe(event("bad\"model\\", "upstream_error", 30, 503));
  m.observe(event("gpt-4o-mini", "timeout", 120000, 0));
  m.add_callback("keygate_test_gauge", "gauge", "A test gauge.", [] { return 3.0; });
  auto text = m.render();
  CHECK(has_line(text,
                 R"(keygate_requests_total{provider="openai",model="gpt-4o-mini",status="ok"} 2)"));
  CHECK(has_line(
      text,
      R"(keygate_requests_total{provider="openai",model="bad\"model\\",status="upstream_error"} 1)"));
  CHECK(
      has_line(text, R"(keygate_request_duration_seconds_bucket{provider="openai",le="0.05"} 2)"));
  CHECK(has_line(text, R"(keygate_request_duration_seconds_bucket{provider="openai",le="1"} 3)"));
  CHECK(
      has_line(text, R"(keygate_request_duration_seconds_bucket{provider="openai",le="+Inf"} 4)"));
  CHECK(has_line(text, R"(keygate_request_duration_seconds_count{provider="openai"} 4)"));
  CHECK(has_line(text, R"(keygate_tokens_total{direction="in",provider="openai"} 10)"));
  CHECK(has_line(text, R"(keygate_tokens_total{direction="out",provider="openai"} 14)"));
  CHECK(has_line(text, R"(keygate_upstream_errors_total{kind="http_5xx"} 1)"));
  CHECK(has_line(text, R"(keygate_upstream_errors_total{kind="timeout"} 1)"));
  CHECK(has_line(text, "# TYPE keygate_time_to_first_token_seconds histogram"));
  CHECK(has_line(text, "keygate_test_gauge 3"));
}

TEST_CASE("client-chosen model names cannot grow the scrape without bound", "[metrics]") {
  // Guards against: a client sending a million distinct model names exhausting memory.
  gateway::Metrics m;
  for (std::size_t i = 0; i < gateway::Metrics::kMaxSeries + 50; ++i) {
    m.observe(event("model-" + std::to_string(i), "ok", 10));
  }
  auto text = m.render();
  CHECK(text.find(R"(model="other")") != std::string::npos);
  CHECK(text.find(R"(model="model-)" + std::to_string(gateway::Metrics::kMaxSeries + 10) + "\"") ==
        std::string::npos);
}

TEST_CASE("series used in turn, more of them than the recent-series cache holds, count apart",
          "[metrics]") {
  // Guards against: the cache of recently used series (4 per family) bumping the wrong series
  // when one it holds is evicted, or when two series differ only in their last label.
  gateway::Metrics m;
  const std::vector<std::string> models = {"m-a", "m-b", "m-c", "m-d", "m-e", "m-f"};
  for (int round = 0; round < 5; ++round) {
    for (std::size_t i = 0; i < models.size(); ++i) {
      for (std::size_t n = 0; n <= i; ++n) {  // m-a once a round, m-f six times
        m.observe(event(models[i], "ok", 10));
      }
      m.observe(event(models[i], "timeout", 10, 0));  // same provider and model, other status
    }
  }
  auto text = m.render();
  for (std::size_t i = 0; i < models.size(); ++i) {
    INFO(models[i]);
    CHECK(has_line(text, R"(keygate_requests_total{provider="openai",model=")" + models[i] +
                             R"(",status="ok"} )" + std::to_string(5 * (i + 1))));
    CHECK(has_line(text, R"(keygate_requests_total{provider="openai",model=")" + models[i] +
                             R"(",status="timeout"} 5)"));
  }
  // Tokens alternate between two series (in, out) on every event.
  CHECK(has_line(text, R"(keygate_tokens_total{direction="in",provider="openai"} )" +
                           std::to_string(5 * 21 * 5)));
  CHECK(has_line(text, R"(keygate_tokens_total{direction="out",provider="openai"} )" +
                           std::to_string(5 * 21 * 7)));
}

TEST_CASE("a full request family still counts its known series and folds only new ones",
          "[metrics]") {
  // Guards against: the overflow series losing counts, or swallowing series that existed before
  // the family filled up (their counters would freeze at scrape time).
  gateway::Metrics m;
  for (std::size_t i = 0; i < gateway::Metrics::kMaxSeries; ++i) {
    m.observe(event("model-" + std::to_string(i), "ok", 10));
  }
  for (int i = 0; i < 3; ++i) {
    m.observe(event("new-model-" + std::to_string(i), "ok", 10));
  }
  m.observe(event("model-0", "ok", 10));
  m.observe(event("new-model-0", "timeout", 10, 0));
  auto text = m.render();
  CHECK(
      has_line(text, R"(keygate_requests_total{provider="openai",model="model-0",status="ok"} 2)"));
  CHECK(has_line(text, R"(keygate_requests_total{provider="openai",model="other",status="ok"} 3)"));
  CHECK(has_line(text,
                 R"(keygate_requests_total{provider="openai",model="other",status="timeout"} 1)"));
  CHECK(text.find(R"(model="new-model-)") == std::string::npos);
  CHECK(has_line(text, R"(keygate_upstream_errors_total{kind="timeout"} 1)"));
}

TEST_CASE("GET /metrics after traffic shows the request, token and gauge series", "[metrics]") {
  // Guards against: metrics not fed by the proxy, or /metrics requiring a token (scrapers have
  // none).
  MockUpstream upstream(openai_json_handler());
  setenv("OPENAI_API_KEY", "sk-env-metrics-test-00000000001234", 1);
  GatewayOptions options;
  options.base_urls = {{"openai", upstream.base_url("/v1")}};
  TestGateway gw(options);
  for (int i = 0; i < 2; ++i) {
    auto r =
        http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini"),
                     {{"authorization", bearer(gw.user_token)}});
    REQUIRE(r.status == 200);
  }
  // The usage event is recorded just after the answer went out: poll briefly.
  std::string text;
  const std::string requests =
      R"(keygate_requests_total{provider="openai",model="gpt-4o-mini",status="ok"} 2)";
  for (int i = 0; i < 100 && !has_line(text, requests); ++i) {
    auto r = http_request(gw.port(), "GET", "/metrics");
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type").rfind("text/plain", 0) == 0);
    text = r.body;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(has_line(text, requests));
  CHECK(has_line(text, R"(keygate_tokens_total{direction="in",provider="openai"} 10)"));
  CHECK(has_line(text, R"(keygate_tokens_total{direction="out",provider="openai"} 14)"));
  CHECK(has_line(text, R"(keygate_request_duration_seconds_count{provider="openai"} 2)"));
  CHECK(has_line(text, R"(keygate_time_to_first_token_seconds_count{provider="openai"} 2)"));
  CHECK(has_line(text, "# TYPE keygate_upstream_errors_total counter"));
  CHECK(has_line(text, "keygate_usage_dropped_total 0"));
  for (const char* gauge :
       {"keygate_open_connections ", "keygate_active_streams 0",
        "keygate_upstream_pool_idle_connections ", "keygate_usage_queue_depth "}) {
    INFO(gauge);
    CHECK(text.find(std::string("\n") + gauge) != std::string::npos);
  }
  // The pooled upstream connection is visible, and the second call reused it.
  INFO(text);
  CHECK(has_line(text, "keygate_upstream_connections_opened_total 1"));
  CHECK(has_line(text, "keygate_upstream_connections_reused_total 1"));
  CHECK(std::regex_search(text, std::regex(R"(\nkeygate_upstream_pool_idle_connections [1-9])")));
}
