#pragma once
// Prometheus metrics for GET /metrics (text exposition format 0.0.4).
//
// Request counters and histograms are fed from the usage events (one per upstream call), under
// one mutex held for a few map updates per call — cheap next to the call itself. Series are keyed
// by their raw label values and looked up through string_views, so observing a series that
// already exists allocates nothing; label text is escaped only when a scrape renders it. Gauges and
// counters owned elsewhere (open connections, the usage queue) are read at scrape time through
// callbacks registered by their owners, who must outlive every scrape (the App owns them all).

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
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
  // One series' label values, in its family's label order; unused trailing values are empty.
  using LabelValues = std::array<std::string, 3>;
  using LabelViews = std::array<std::string_view, 3>;
  // Orders owned and viewed label sets alike, so a lookup needs no owned key (transparent).
  struct LabelsLess {
    using is_transparent = void;
    static LabelViews view(const LabelViews& v) { return v; }
    static LabelViews view(const LabelValues& v) { return {v[0], v[1], v[2]}; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return view(a) < view(b);
    }
  };
  static LabelValues owned(const LabelViews& v) {
    return {std::string(v[0]), std::string(v[1]), std::string(v[2])};
  }
  // A family's series, and the few used last. Nearly every request of a gateway lands on a
  // handful of series; comparing their short label strings costs a fraction of a map search,
  // which compares whole label arrays at every level (callgrind: ~1.7k instructions a request
  // for the five lookups of observe()). Map iterators stay valid as series are added.
  template <class T>
  struct Family {
    using Map = std::map<LabelValues, T, LabelsLess>;
    Map series;
    std::array<typename Map::iterator, 4> recent{};
    std::size_t recent_count = 0;
    std::size_t recent_next = 0;

    typename Map::iterator find(const LabelViews& labels) {
      for (std::size_t i = 0; i < recent_count; ++i) {
        const LabelValues& v = recent[i]->first;
        if (v[0] == labels[0] && v[1] == labels[1] && v[2] == labels[2]) {
          return recent[i];
        }
      }
      auto it = series.find(labels);
      if (it != series.end()) {
        remember(it);
      }
      return it;
    }
    void remember(typename Map::iterator it) {
      recent[recent_next] = it;
      recent_next = (recent_next + 1) % recent.size();
      recent_count = std::min(recent_count + 1, recent.size());
    }
  };

  struct Histogram {
    std::vector<uint64_t> buckets;  // cumulative counts are computed at render time
    uint64_t count = 0;
    double sum = 0;
  };
  struct Callback {
    std::string name, type, help;
    std::function<double()> read;
  };
  static void bump(Family<uint64_t>& family, const LabelViews& labels,
                   const LabelViews& overflow_labels, uint64_t by = 1);
  static void observe_histogram(Family<Histogram>& family, const LabelViews& labels,
                                double seconds);

  mutable std::mutex mutex_;
  Family<uint64_t> requests_;         // provider, model, status
  Family<Histogram> duration_;        // provider
  Family<Histogram> ttft_;            // provider
  Family<uint64_t> tokens_;           // direction, provider
  Family<uint64_t> upstream_errors_;  // kind
  std::vector<Callback> callbacks_;
};

// The upstream error kind of an event (timeout, truncated, http_4xx, http_429, http_5xx,
// connect, bad_response), or empty when the upstream did not fail.
std::string_view upstream_error_kind(const UsageEvent& event);

// GET /metrics (open, like the health routes).
void register_metrics_route(RouteTable& routes, const Metrics& metrics);

}  // namespace keygate::gateway
