// Usage recording: each upstream call's UsageEvent updates the metrics and becomes a row for the
// usage writer (keystore/usage_writer.hpp: a bounded queue and a writer thread with its own
// SQLite connection). record() runs on I/O threads and never touches the database.
//
// Loss bounds (also in usage_writer.hpp): SIGTERM loses nothing — App::wait() flushes after the
// server drained, before `keygate serve` exits. SIGKILL loses the rows still queued: those
// recorded during the last commit, at most ~50 ms worth under normal load.

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "gateway/app.hpp"
#include "gateway/log.hpp"
#include "gateway/metrics.hpp"
#include "gateway/spend_limits.hpp"
#include "keystore/usage_reports.hpp"
#include "keystore/usage_writer.hpp"
#include "providers/pricing.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

constexpr int64_t kDropLogIntervalMs = 1000;

// USD for one call at the catalog's prices (providers/pricing.hpp). nullopt when the usage or
// the model's price is unknown: a row says "unknown" rather than a silent zero.
std::optional<double> cost_of(const providers::Catalog& catalog, const UsageEvent& e) {
  const auto* provider = catalog.find(e.provider);
  const auto* model = provider ? provider->priced_model(e.model_served) : nullptr;
  if (model == nullptr) {
    return std::nullopt;
  }
  return providers::call_cost_usd(*provider, *model, e.usage);
}

bool on_operator_key(const UsageEvent& e) {
  return e.key_source == "system" || e.key_source == "env";
}

// A call on the operator's keys whose usage the provider never reported in full, though it did
// the work: the client left before a stream's last event or before a plain answer came, a stream
// was cut short, or the provider reports no usage. Such a call is recorded with an estimate
// (usage_known "estimated"), so that what it cost the operator reaches the reports and the
// user's budget (gateway/spend_limits.hpp), which is read back from these rows: leaving early
// must not be a way to spend the operator's money for free. The estimate: a token for every 4
// bytes of the request (at most the model's context window: a large image is not that many
// tokens), and one for every event of the stream (about a token each in OpenAI's and Claude's
// deltas). A call the provider refused (a non-2xx answer) cost nothing.
void estimate_missing_usage(const providers::Catalog& catalog, UsageEvent& e) {
  const bool accepted = e.upstream_status >= 200 && e.upstream_status <= 299;
  // The client left while the provider worked on a plain answer, before its header came back.
  const bool left_waiting =
      e.upstream_status == 0 && e.outcome == "client_cancelled" && e.request_bytes > 0;
  if (!on_operator_key(e) || !(accepted || left_waiting)) {
    return;
  }
  providers::Usage& u = e.usage;
  const bool complete = e.outcome == "ok" && u.prompt_tokens >= 0 && u.completion_tokens >= 0;
  if (complete) {
    return;
  }
  const int64_t streamed = e.stream ? e.stream_events : 0;
  if (u.prompt_tokens >= 0 && u.completion_tokens >= streamed) {
    return;  // what the provider reported already covers what keygate saw
  }
  if (u.prompt_tokens < 0) {
    u.prompt_tokens = e.request_bytes / 4;
    const auto* provider = catalog.find(e.provider);
    const auto* model = provider ? provider->priced_model(e.model_served) : nullptr;
    // The window bounds one prompt; a batch of embeddings inputs is bounded by each of its own.
    if (model != nullptr && model->context_window > 0 && !e.embeddings) {
      u.prompt_tokens = std::min(u.prompt_tokens, model->context_window);
    }
  }
  u.completion_tokens = std::max(u.completion_tokens, streamed);
  e.usage_estimated = true;
}

UsageRow to_row(const providers::Catalog& catalog, UsageEvent e) {
  UsageRow r;
  r.cost_usd = cost_of(catalog, e);
  r.request_id = std::move(e.request_id);
  r.started_at_ms = e.started_at_ms;
  r.user_id = std::move(e.user_id);
  r.token_id = std::move(e.token_id);
  r.agent = std::move(e.agent);
  r.provider = std::move(e.provider);
  r.model_requested = std::move(e.model_requested);
  r.model_served = std::move(e.model_served);
  r.key_source = e.key_source.empty() ? std::string("none") : std::move(e.key_source);
  r.key_id = std::move(e.key_id);
  if (e.usage.reported()) {
    r.usage_known = e.usage_estimated || e.usage.estimated ? "estimated" : "reported";
    r.prompt_tokens = std::max<int64_t>(e.usage.prompt_tokens, 0);
    r.completion_tokens = std::max<int64_t>(e.usage.completion_tokens, 0);
    r.cached_tokens = std::max<int64_t>(e.usage.cached_tokens, 0);
    r.reasoning_tokens = std::max<int64_t>(e.usage.reasoning_tokens, 0);
    r.cache_write_tokens = std::max<int64_t>(e.usage.cache_write_tokens, 0);
    r.web_search_requests = std::max<int64_t>(e.usage.web_search_requests, 0);
  } else {
    r.usage_known = "unknown";  // no estimate from byte counts: the columns stay 0
  }
  r.latency_ms = e.latency_ms;
  if (e.ttft_ms >= 0) {
    r.ttft_ms = e.ttft_ms;
  }
  r.upstream_status = e.upstream_status;
  r.stream = e.stream;
  r.outcome = std::move(e.outcome);
  return r;
}

class UsageRecorder final : public UsageSink {
 public:
  UsageRecorder(const providers::Catalog& catalog, Metrics& metrics, SpendLimits* limits,
                RateLimits* rate, std::unique_ptr<UsageWriter> writer,
                std::unique_ptr<UsageReports> reports)
      : catalog_(catalog),
        metrics_(metrics),
        limits_(limits),
        rate_(rate),
        writer_(std::move(writer)),
        reports_(std::move(reports)) {
    metrics_.add_callback(
        "keygate_usage_queue_depth", "gauge", "Usage rows waiting for the database writer.",
        [this] { return writer_ ? static_cast<double>(writer_->queue_depth()) : 0.0; });
    metrics_.add_callback("keygate_usage_dropped_total", "counter",
                          "Usage rows lost: queue full, or the database refused the write.",
                          [this] { return static_cast<double>(lost()); });
  }
  ~UsageRecorder() override { flush(); }

  void record(UsageEvent event) override {
    metrics_.observe(event);
    estimate_missing_usage(catalog_, event);
    UsageRow row = to_row(catalog_, std::move(event));
    // Counted before the row is stored, whether or not it can be: the budget is about what the
    // provider bills the operator, and it bills a call whose row was lost all the same.
    if (limits_ != nullptr && row.cost_usd && !row.user_id.empty() &&
        (row.key_source == "system" || row.key_source == "env")) {
      limits_->add(row.user_id, *row.cost_usd, row.started_at_ms, now_unix_ms());
    }
    // The call's tokens against the user's token rate limit, whatever key served it.
    if (rate_ != nullptr && !row.user_id.empty()) {
      // Upstream-reported counts: added without overflow, however large.
      const int64_t prompt = std::max<int64_t>(row.prompt_tokens, 0);
      const int64_t completion = std::max<int64_t>(row.completion_tokens, 0);
      const int64_t tokens = prompt > INT64_MAX - completion ? INT64_MAX : prompt + completion;
      rate_->spend_tokens(row.user_id, tokens, rate_clock_ms());
    }
    if (!writer_) {
      no_writer_dropped_.fetch_add(1, std::memory_order_relaxed);
      log_drop();
      return;
    }
    if (!writer_->enqueue(std::move(row))) {
      log_drop();
    }
  }

  void flush() override {
    if (writer_) {
      writer_->flush();
    }
  }

  UsageReports* reports() override { return reports_.get(); }

 private:
  uint64_t lost() const {
    uint64_t n = no_writer_dropped_.load(std::memory_order_relaxed);
    if (writer_) {
      n += writer_->dropped() + writer_->failed();
    }
    return n;
  }

  // At most one line a second, whatever the drop rate: a full queue means the disk is behind,
  // and a log line per row would make it worse.
  void log_drop() {
    const int64_t now = now_unix_ms();
    int64_t last = last_drop_log_ms_.load(std::memory_order_relaxed);
    if (now - last < kDropLogIntervalMs ||
        !last_drop_log_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      return;
    }
    log_event("warn", "usage rows dropped: the usage queue is full or the writer is down",
              ",\"dropped_total\":" + std::to_string(lost()));
  }

  const providers::Catalog& catalog_;
  Metrics& metrics_;
  SpendLimits* limits_;
  RateLimits* rate_;
  std::unique_ptr<UsageWriter> writer_;
  std::unique_ptr<UsageReports> reports_;
  std::atomic<uint64_t> no_writer_dropped_{0};
  std::atomic<int64_t> last_drop_log_ms_{0};
};

}  // namespace

std::unique_ptr<UsageSink> make_usage_sink(const Config& config, const providers::Catalog& catalog,
                                           Metrics& metrics, SpendLimits* limits, RateLimits* rate,
                                           std::function<bool()> busy) {
  const std::string path = database_target(config);
  UsageWriterOptions options;
  options.busy = std::move(busy);
  options.on_write_error = [](const Error& error, std::size_t rows) {
    JsonWriter w;
    w.string(error.message);
    log_event("error", "usage rows could not be stored",
              ",\"rows\":" + std::to_string(rows) + ",\"reason\":" + w.take());
  };
  auto writer = UsageWriter::open(path, std::move(options));
  if (!writer) {
    JsonWriter w;
    w.string(writer.error().message);
    log_event("error", "usage writer unavailable: usage is not recorded",
              ",\"reason\":" + w.take());
  }
  auto reports = UsageReports::open(path);
  if (!reports) {
    JsonWriter w;
    w.string(reports.error().message);
    log_event("error", "usage reports unavailable", ",\"reason\":" + w.take());
  }
  return std::make_unique<UsageRecorder>(catalog, metrics, limits, rate,
                                         writer ? std::move(*writer) : nullptr,
                                         reports ? std::move(*reports) : nullptr);
}

}  // namespace keygate::gateway
