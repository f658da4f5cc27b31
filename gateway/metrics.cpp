#include "gateway/metrics.hpp"

#include <algorithm>
#include <charconv>

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

void counter_family(std::string& out, std::string_view name, std::string_view help,
                    const std::map<std::string, uint64_t>& series) {
  header(out, name, "counter", help);
  for (const auto& [labels, value] : series) {
    out += name;
    out += '{';
    out += labels;
    out += "} ";
    out += std::to_string(value);
    out += '\n';
  }
}

template <class Histogram>
void histogram_family(std::string& out, std::string_view name, std::string_view help,
                      const std::map<std::string, Histogram>& series) {
  header(out, name, "histogram", help);
  for (const auto& [labels, h] : series) {
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= kBucketCount; ++i) {
      cumulative += h.buckets[i];
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
    out += "_sum{" + labels + "} " + number(h.sum) + '\n';
    out += name;
    out += "_count{" + labels + "} " + std::to_string(h.count) + '\n';
  }
}

// Adds 1 to `family[key]`, or to its overflow series once the family is full.
void bump(std::map<std::string, uint64_t>& family, const std::string& key,
          const std::string& overflow_key, uint64_t by = 1) {
  auto it = family.find(key);
  if (it == family.end() && family.size() >= Metrics::kMaxSeries) {
    it = family.try_emplace(overflow_key, 0).first;
  } else if (it == family.end()) {
    it = family.try_emplace(key, 0).first;
  }
  it->second += by;
}

}  // namespace

std::string upstream_error_kind(const UsageEvent& e) {
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

void Metrics::observe_histogram(std::map<std::string, Histogram>& family, const std::string& labels,
                                double seconds) {
  auto it = family.find(labels);
  if (it == family.end()) {
    if (family.size() >= kMaxSeries) {
      return;  // provider labels come from the catalog; this only guards against a bug
    }
    it = family.try_emplace(labels, Histogram{std::vector<uint64_t>(kBucketCount + 1, 0)}).first;
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
  const std::string provider = label("provider", e.provider);
  const std::string status = label("status", e.outcome.empty() ? "unknown" : e.outcome);
  const std::string request_key = provider + "," + label("model", e.model_served) + "," + status;
  const std::string request_overflow = provider + "," + label("model", "other") + "," + status;
  const std::string kind = upstream_error_kind(e);

  std::lock_guard lock(mutex_);
  bump(requests_, request_key, request_overflow);
  observe_histogram(duration_, provider, static_cast<double>(e.latency_ms) / 1000.0);
  if (e.ttft_ms >= 0) {
    observe_histogram(ttft_, provider, static_cast<double>(e.ttft_ms) / 1000.0);
  }
  if (e.usage.reported()) {
    const std::string in = label("direction", "in") + "," + provider;
    const std::string out = label("direction", "out") + "," + provider;
    bump(tokens_, in, in, static_cast<uint64_t>(std::max<int64_t>(e.usage.prompt_tokens, 0)));
    bump(tokens_, out, out, static_cast<uint64_t>(std::max<int64_t>(e.usage.completion_tokens, 0)));
  }
  if (!kind.empty()) {
    const std::string k = label("kind", kind);
    bump(upstream_errors_, k, k);
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
                   "Upstream calls by provider, model served and outcome (status).", requests_);
    histogram_family(out, "keygate_request_duration_seconds",
                     "Duration of upstream calls, first byte sent to last byte relayed.",
                     duration_);
    histogram_family(out, "keygate_time_to_first_token_seconds",
                     "Time from sending an upstream call to its first output for the client.",
                     ttft_);
    counter_family(out, "keygate_tokens_total",
                   "Tokens the upstreams reported, by direction (in: prompt, out: completion).",
                   tokens_);
    counter_family(out, "keygate_upstream_errors_total", "Failed upstream calls by kind.",
                   upstream_errors_);
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
