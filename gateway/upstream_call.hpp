#pragma once
// One chat (or embeddings) request sent to one provider: key resolution, the adapter's request, the
// transport, and the relay of the answer to the client (whole, or event by event). The router's
// fallback loop calls attempt() per target; it may try the next target only while nothing reached
// the client.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "gateway/http_exchange.hpp"
#include "gateway/key_resolver.hpp"
#include "gateway/upstream_client.hpp"
#include "router/model_resolver.hpp"

namespace keygate::gateway {

enum class Outcome { ok, upstream_error, client_cancelled, truncated, timeout, rejected };
std::string_view to_string(Outcome outcome);

struct AttemptResult {
  Outcome outcome = Outcome::ok;
  // Set unless ok. On the heap: a result lives in the frame of the chain that runs the attempts,
  // and that frame stays for a stream's whole length, in every open stream.
  std::unique_ptr<Error> error;
  bool client_answered = false;  // something was sent to the client: no fallback after this
  int upstream_status = 0;       // 0: no upstream answer
  providers::Usage usage;
  // For an estimate when the usage is missing: the body sent upstream and the stream's events.
  int64_t request_bytes = 0;
  int64_t stream_events = 0;
  std::string key_source;
  std::string key_id;
  std::chrono::steady_clock::duration latency{};
  std::optional<std::chrono::steady_clock::duration> time_to_first_token;
};

class StreamRelay;

// Every coroutine here is written for the frames that stay alive under an open stream (attempt,
// relay_stream, and the chain that called them): results go into the caller's AttemptResult, and
// large or rarely needed locals (errors, the request being built) live in coroutines of their own
// that are gone before the stream starts, or are only called when it ends.
class UpstreamCall {
 public:
  UpstreamCall(HttpExchange& exchange, UpstreamClient& upstream, KeyResolver& keys)
      : ex_(exchange), upstream_(upstream), keys_(keys) {}

  // Runs the request against `target`; `result` is reset first, then filled in.
  awaitable<void> attempt(const router::Target& target, const rapidjson::Document& request,
                          const providers::ChatOptions& options, AttemptResult& result);
  // The number of input tokens `request` would take at `target` (the adapter's counting
  // request: POST /v1/messages/count_tokens), or why not; nothing goes to the client.
  awaitable<Result<int64_t>> count_tokens(const router::Target& target,
                                          const rapidjson::Document& request);

  // Called once, when a stream starts: from then on no other attempt can follow, so the caller
  // may free the request it keeps for fallbacks (it must not be read after that).
  void on_stream_started(std::function<void()> release) { on_stream_started_ = std::move(release); }

 private:
  // Resolves the key, builds and sends the request: the 2xx response to relay, or null with
  // `result` saying why not (an upstream error answer is read and translated here).
  // `count`: the adapter's token-counting request instead of its chat request.
  awaitable<std::unique_ptr<UpstreamResponse>> send(const router::Target& target,
                                                    const rapidjson::Document& request,
                                                    const providers::ChatOptions& options,
                                                    AttemptResult& result, bool count = false);
  awaitable<void> relay_whole(UpstreamResponse& response, const providers::Adapter& adapter,
                              const router::Target& target, const rapidjson::Document& request,
                              const providers::ChatOptions& options, AttemptResult& result);
  awaitable<void> relay_stream(UpstreamResponse& response, StreamRelay& relay,
                               AttemptResult& result);
  // Writes the frames the relay has ready, the stream's status line first if nothing went out
  // yet; `last` ends the stream with them. False: the client is gone.
  awaitable<bool> deliver(StreamRelay& relay, AttemptResult& result, bool last);
  // The end of a stream that failed: what was translated goes out, then an error event.
  awaitable<void> fail_stream(StreamRelay& relay, AttemptResult& result);

  HttpExchange& ex_;
  UpstreamClient& upstream_;
  KeyResolver& keys_;
  // Closed when the client goes away, until the upstream's response has been read in full: then
  // the provider's work is done and the connection can go back to the pool, even if the client
  // hangs up while the answer is still being written to it.
  UpstreamConnection* live_connection_ = nullptr;
  bool cancelled_ = false;
  std::function<void()> on_stream_started_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace keygate::gateway
