#include "gateway/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <span>
#include <utility>

namespace keygate::gateway {
namespace {

// Seconds; LLM calls range from tens of milliseconds (cached, tiny) to minutes (long streams).
constexpr double kBounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
constexpr std::size_t kBucketCount = std::size(kBounds);

std::string number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

// Label values are escaped as the exposition format says: backslash, double quote, newline.
std::string label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// The label sets of a family rendered as `name="value",...`, in the order of the rendered text:
// the order the scrape has always had.
template <class Series>
std::vector<std::pair<std::string, const typename Series::mapped_type*>> rendered(
    std::span<const std::string_view> names, const Series& series) {
  std::vector<std::pair<std::string, const typename Series::mapped_type*>> out;
  out.reserve(series.size());
  for (const auto& [values, data] : series) {
    std::string labels;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) {
        labels += ',';
      }
      labels += label(names[i], values[i]);
    }
    out.emplace_back(std::move(labels), &data);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

template <class Series>
void counter_family(std::string& out, std::string_view name, std::string_view help,
                    std::span<const std::string_view> label_names, const Series& series) {
  header(out, name, "counter", help);
  for (const auto& [labels, value] : rendered(label_names, series)) {
    out += name;
    out += '{';
    out += labels;
    out += "} ";
    out += std::to_string(*value);
    out += '\n';
  }
}

template <class Series>
void histogram_family(std::string& out, std::string_view name, std::string_view help,
                      std::span<const std::string_view> label_names, const Series& series) {
  header(out, name, "histogram", help);
  for (const auto& [labels, h] : rendered(label_names, series)) {
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= kBucketCount; ++i) {
      cumulative += h->buckets[i];
      out += name;
      out += "_bucket{";
      out += labels;
      out += ",le=\"";
      out += i < kBucketCount ? number(kBounds[i]) : std::string("+Inf");
      out += "\"} ";
      out += std::to_string(cumulative);
      out += '\n';
    }
    out += name;
    out += "_sum{" + labels + "} " + number(h->sum) + '\n';
    out += name;
    out += "_count{" + labels + "} " + std::to_string(h->count) + '\n';
  }
}

// Each family's label names, in the order of the values in its keys.
constexpr std::string_view kRequestLabels[] = {"provider", "model", "status"};
constexpr std::string_view kProviderLabel[] = {"provider"};
constexpr std::string_view kTokenLabels[] = {"direction", "provider"};
constexpr std::string_view kErrorLabel[] = {"kind"};

}  // namespace

std::string_view upstream_error_kind(const UsageEvent& e) {
  if (e.outcome == "timeout") {
    return "timeout";
  }
  if (e.outcome == "truncated") {
    return "truncated";
  }
  if (e.outcome != "upstream_error") {
    return {};  // ok, client_cancelled, rejected (no key, bad request): not the upstream's fault
  }
  if (e.upstream_status == 0) {
    return "connect";
  }
  if (e.upstream_status == 429) {
    return "http_429";
  }
  if (e.upstream_status >= 500) {
    return "http_5xx";
  }
  if (e.upstream_status >= 400) {
    return "http_4xx";
  }
  return "bad_response";  // a 2xx whose body or stream could not be read
}

// Adds `by` to the series `labels`, or to `overflow_labels` once the family is full.
void Metrics::bump(Family<uint64_t>& family, const LabelViews& labels,
                   const LabelViews& overflow_labels, uint64_t by) {
  auto it = family.find(labels);
  if (it == family.series.end()) {
    const LabelViews& key = family.series.size() >= kMaxSeries ? overflow_labels : labels;
    it = family.find(key);
    if (it == family.series.end()) {
      it = family.series.try_emplace(owned(key), 0).first;
      family.remember(it);
    }
  }
  it->second += by;
}

void Metrics::observe_histogram(Family<Histogram>& family, const LabelViews& labels,
                                double seconds) {
  auto it = family.find(labels);
  if (it == family.series.end()) {
    if (family.series.size() >= kMaxSeries) {
      return;  // provider labels come from the catalog; this only guards against a bug
    }
    it = family.series
             .try_emplace(owned(labels), Histogram{std::vector<uint64_t>(kBucketCount + 1, 0)})
             .first;
    family.remember(it);
  }
  Histogram& h = it->second;
  std::size_t i = 0;
  while (i < kBucketCount && seconds > kBounds[i]) {
    ++i;
  }
  ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void Metrics::observe(const UsageEvent& e) {
  const std::string_view provider = e.provider;
  const std::string_view status = e.outcome.empty() ? "unknown" : std::string_view(e.outcome);
  const std::string_view kind = upstream_error_kind(e);

  std::lock_guard lock(mutex_);
  bump(requests_, {provider, e.model_served, status}, {provider, "other", status});
  observe_histogram(duration_, {provider}, static_cast<double>(e.latency_ms) / 1000.0);
  if (e.ttft_ms >= 0) {
    observe_histogram(ttft_, {provider}, static_cast<double>(e.ttft_ms) / 1000.0);
  }
  if (e.usage.reported()) {
    const LabelViews in{"in", provider};
    const LabelViews out{"out", provider};
    bump(tokens_, in, in, static_cast<uint64_t>(std::max<int64_t>(e.usage.prompt_tokens, 0)));
    bump(tokens_, out, out, static_cast<uint64_t>(std::max<int64_t>(e.usage.completion_tokens, 0)));
  }
  if (!kind.empty()) {
    bump(upstream_errors_, {kind}, {kind});
  }
}

void Metrics::add_callback(std::string name, std::string type, std::string help,
                           std::function<double()> read) {
  std::lock_guard lock(mutex_);
  callbacks_.push_back(
      Callback{std::move(name), std::move(type), std::move(help), std::move(read)});
}

std::string Metrics::render() const {
  std::string out;
  std::vector<const Callback*> callbacks;
  {
    std::lock_guard lock(mutex_);
    counter_family(out, "keygate_requests_total",
                   "Upstream calls by provider, model served and outcome (status).", kRequestLabels,
                   requests_.series);
    histogram_family(out, "keygate_request_duration_seconds",
                     "Duration of upstream calls, first byte sent to last byte relayed.",
                     kProviderLabel, duration_.series);
    histogram_family(out, "keygate_time_to_first_token_seconds",
                     "Time from sending an upstream call to its first output for the client.",
                     kProviderLabel, ttft_.series);
    counter_family(out, "keygate_tokens_total",
                   "Tokens the upstreams reported, by direction (in: prompt, out: completion).",
                   kTokenLabels, tokens_.series);
    counter_family(out, "keygate_upstream_errors_total", "Failed upstream calls by kind.",
                   kErrorLabel, upstream_errors_.series);
    for (const auto& c : callbacks_) {
      callbacks.push_back(&c);
    }
  }
  // Read outside the lock: callbacks take their owners' locks.
  for (const Callback* c : callbacks) {
    header(out, c->name, c->type, c->help);
    out += c->name + ' ' + number(c->read()) + '\n';
  }
  return out;
}

void register_metrics_route(RouteTable& routes, const Metrics& metrics) {
  routes.add(http::verb::get, "/metrics", Access::open,
             [&metrics](HttpExchange& ex) -> awaitable<void> {
               const std::string body = metrics.render();
               co_await ex.reply(http::status::ok, body, "text/plain; version=0.0.4");
             });
}

}  // namespace keygate::gateway
