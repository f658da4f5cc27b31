#pragma once
// Prometheus metrics for GET /metrics (text exposition format 0.0.4).
//
// Request counters and histograms are fed from the usage events (one per upstream call), under
// one mutex held for a few map updates per call — cheap next to the call itself. Gauges and
// counters owned elsewhere (open connections, the usage queue) are read at scrape time through
// callbacks registered by their owners, who must outlive every scrape (the App owns them all).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/routes.hpp"
#include "gateway/usage_sink.hpp"

namespace keygate::gateway {

class Metrics {
 public:
  // Counts one upstream call: requests, duration, time to first token, tokens, upstream errors.
  void observe(const UsageEvent& event);

  // A value read at scrape time. `type` is "gauge" or "counter".
  void add_callback(std::string name, std::string type, std::string help,
                    std::function<double()> read);

  std::string render() const;

  // Distinct label sets per family beyond which new ones are folded into model="other": clients
  // choose model names, and must not grow the scrape without bound.
  static constexpr std::size_t kMaxSeries = 1000;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // cumulative counts are computed at render time
    uint64_t count = 0;
    double sum = 0;
  };
  struct Callback {
    std::string name, type, help;
    std::function<double()> read;
  };
  void observe_histogram(std::map<std::string, Histogram>& family, const std::string& labels,
                         double seconds);

  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> requests_;  // keyed by the rendered label set
  std::map<std::string, Histogram> duration_;
  std::map<std::string, Histogram> ttft_;
  std::map<std::string, uint64_t> tokens_;
  std::map<std::string, uint64_t> upstream_errors_;
  std::vector<Callback> callbacks_;
};

// The upstream error kind of an event (timeout, truncated, http_4xx, http_429, http_5xx,
// connect, bad_response), or empty when the upstream did not fail.
std::string upstream_error_kind(const UsageEvent& event);

// GET /metrics (open, like the health routes).
void register_metrics_route(RouteTable& routes, const Metrics& metrics);

}  // namespace keygate::gateway
