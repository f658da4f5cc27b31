#pragma once
// Where the proxy hands one usage row per upstream call. record() never blocks the I/O thread:
// the implementation queues the row for a writer thread (see usage_writer in keystore/).

#include <cstdint>
#include <string>

#include "providers/adapter.hpp"

namespace keygate {
class UsageReports;
}

namespace keygate::gateway {

struct UsageEvent {
  std::string request_id;
  int64_t started_at_ms = 0;  // unix ms
  std::string user_id;
  std::string token_id;
  std::string agent;  // empty when no agent
  std::string provider;
  std::string model_requested;  // as the client named it
  std::string model_served;     // upstream model id
  std::string key_source;       // user | system | env | none
  std::string key_id;
  providers::Usage usage;
  int64_t request_bytes = 0;     // the body sent upstream
  int64_t stream_events = 0;     // upstream events of a stream
  bool usage_estimated = false;  // `usage` holds keygate's estimate (usage_recording.cpp)
  int64_t latency_ms = 0;
  int64_t ttft_ms = -1;  // -1: no first token
  int upstream_status = 0;
  bool stream = false;
  bool embeddings = false;  // POST /v1/embeddings: many inputs, each up to the context window
  std::string outcome;  // ok | upstream_error | client_cancelled | truncated | timeout | rejected
};

class UsageSink {
 public:
  virtual ~UsageSink() = default;
  virtual void record(UsageEvent event) = 0;
  // Blocks until every event recorded so far is stored (shutdown, tests). Never on an I/O thread
  // while requests are served.
  virtual void flush() {}
  // Where usage reports read from; null when this sink stores nothing.
  virtual UsageReports* reports() { return nullptr; }
};

}  // namespace keygate::gateway
