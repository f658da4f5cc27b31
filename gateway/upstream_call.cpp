#include "gateway/upstream_call.hpp"

#include <shared_mutex>
#include <unordered_map>

#include "gateway/scrub.hpp"
#include "gateway/stream_relay.hpp"
#include "schema/json.hpp"

namespace keygate::gateway {

using Clock = std::chrono::steady_clock;

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok:
      return "ok";
    case Outcome::upstream_error:
      return "upstream_error";
    case Outcome::client_cancelled:
      return "client_cancelled";
    case Outcome::truncated:
      return "truncated";
    case Outcome::timeout:
      return "timeout";
    case Outcome::rejected:
      return "rejected";
  }
  return "unknown";
}

namespace {

Outcome outcome_of(const Error& e) {
  if (e.status == 504) {
    return Outcome::timeout;
  }
  if (e.code == "upstream_truncated") {
    return Outcome::truncated;
  }
  return Outcome::upstream_error;
}

// Provider base URLs are few and fixed by the catalog and the config: each is parsed once, not
// per attempt. Entries are never removed, so a reference stays valid after the lock is released.
const Result<UpstreamTarget>& parsed_base_url(const std::string& base_url) {
  static std::shared_mutex mutex;
  static std::unordered_map<std::string, Result<UpstreamTarget>> parsed;
  {
    std::shared_lock read(mutex);
    if (auto it = parsed.find(base_url); it != parsed.end()) {
      return it->second;
    }
  }
  std::unique_lock write(mutex);
  return parsed.try_emplace(base_url, parse_base_url(base_url)).first->second;
}

void fail_attempt(AttemptResult& r, Error e, Outcome outcome) {
  r.outcome = outcome;
  r.error = std::make_unique<Error>(std::move(e));
}

void mark_cancelled(AttemptResult& r) {
  fail_attempt(r, Error::upstream_unreachable("client disconnected"), Outcome::client_cancelled);
}

// One step of a stream into the attempt's result (outside any coroutine frame): false if it failed.
// Without `outcome`, the error says which one it is (a timeout, a stream cut short).
bool succeeded(Result<void> step, AttemptResult& result,
               std::optional<Outcome> outcome = std::nullopt) {
  if (!step) {
    const Outcome which = outcome.value_or(outcome_of(step.error()));
    fail_attempt(result, std::move(step.error()), which);
    return false;
  }
  return true;
}

// A read that failed in the middle of a stream: the upstream cut it short.
Error cut_short(const Error& e) {
  if (e.status != 502) {
    return e;
  }
  return Error{502,
               "upstream_error",
               "upstream_truncated",
               "The upstream stream ended unexpectedly: " + e.message,
               {},
               true};
}

// A whole 2xx answer for the client: a chat completion, or embeddings.
Result<std::string_view> translate_whole(const providers::Adapter& adapter, const std::string& body,
                                         const rapidjson::Document& request,
                                         const providers::ChatOptions& options,
                                         const router::Target& target, providers::Usage& usage,
                                         std::string& storage) {
  if (options.operation == providers::Operation::embeddings) {
    return adapter.translate_embeddings(body, request, target.model, usage, storage);
  }
  return adapter.translate_answer(body, options, target.model, usage, storage);
}

}  // namespace

awaitable<void> UpstreamCall::attempt(const router::Target& target,
                                      const rapidjson::Document& request,
                                      const providers::ChatOptions& options,
                                      AttemptResult& result) {
  result = {};
  started_ = Clock::now();
  // The connection dies with this attempt's response; a client that leaves later (during a
  // fallback pause, or the next attempt's key lookup) must not close a dangling pointer.
  struct ForgetConnection {
    UpstreamConnection*& live;
    ~ForgetConnection() { live = nullptr; }
  } forget_connection{live_connection_};
  // Sending is its own coroutine so that its frame (the request, the key, the built body) is
  // gone before a stream is relayed.
  std::unique_ptr<UpstreamResponse> response = co_await send(target, request, options, result);
  if (!response) {
    co_return;
  }
  const auto& adapter = *target.provider->adapter;
  if (options.stream) {
    StreamRelay relay(adapter.start_stream(options, target.model));
    co_await relay_stream(*response, relay, result);
  } else {
    co_await relay_whole(*response, adapter, target, request, options, result);
  }
  live_connection_ = nullptr;
  result.latency = Clock::now() - started_;
}

awaitable<Result<int64_t>> UpstreamCall::count_tokens(const router::Target& target,
                                                      const rapidjson::Document& request) {
  AttemptResult result;
  started_ = Clock::now();
  std::unique_ptr<UpstreamResponse> response = co_await send(target, request, {}, result, true);
  if (!response) {
    live_connection_ = nullptr;
    co_return fail(std::move(*result.error));
  }
  auto body = co_await response->read_all();
  live_connection_ = nullptr;  // read in full: nothing left to cancel upstream
  if (!body) {
    co_return fail(std::move(body.error()));
  }
  response->release_connection();
  co_return target.provider->adapter->read_token_count(*body);
}

awaitable<std::unique_ptr<UpstreamResponse>> UpstreamCall::send(
    const router::Target& target, const rapidjson::Document& request,
    const providers::ChatOptions& options, AttemptResult& result, bool count) {
  const auto& provider = *target.provider;
  const auto& adapter = *provider.adapter;

  const Result<UpstreamTarget>& upstream_target = parsed_base_url(provider.base_url);
  if (!upstream_target) {
    fail_attempt(result, upstream_target.error(), Outcome::rejected);
    co_return nullptr;
  }
  std::optional<Result<Credential>> cached = keys_.resolve_cached(ex_.caller, provider);
  if (!cached) {
    cached.emplace(co_await keys_.resolve(ex_.caller, provider));
  }
  Result<Credential>& credential = *cached;
  if (!credential) {
    fail_attempt(result, credential.error(), Outcome::rejected);
    co_return nullptr;
  }
  result.key_source = credential->source;
  result.key_id = credential->key_id;

  auto built = count ? adapter.build_count_tokens_request(request, target.model)
               : options.operation == providers::Operation::embeddings
                   ? adapter.build_embeddings_request(request, target.model)
                   : adapter.build_chat_request(request, options, target.model);
  if (!built) {
    fail_attempt(result, built.error(), Outcome::rejected);
    co_return nullptr;
  }

  UpstreamRequestMessage msg(built->method, upstream_target->base_path + built->path);
  // The provider's own fields first: keygate's defaults below do not override them.
  for (auto& [name, value] : built->headers) {
    msg.set(name, value);
  }
  if (credential->secret) {
    // The key goes straight from its wiping buffer into the request's wiping head.
    if (!msg.set(provider.auth.header, provider.auth.prefix, credential->secret->expose())) {
      fail_attempt(result,
                   Error::invalid_request("The " + provider.id +
                                              " key holds a control character (a line break?) "
                                              "and cannot be sent in a header. Replace it.",
                                          {}, "invalid_stored_key"),
                   Outcome::rejected);
      co_return nullptr;
    }
  }
  msg.set("Content-Type", "application/json");
  msg.set("Accept", options.stream ? "text/event-stream" : "application/json");
  msg.set("User-Agent", "keygate/0.1");
  // The plaintext stays (in protected memory) until the answer's header arrives: an upstream error
  // may echo the key, and scrubbing it needs the key. Wiped when this coroutine returns.
  msg.body() = std::move(built->body);
  result.request_bytes = static_cast<int64_t>(msg.body().size());

  // A client that goes away closes the upstream connection at once (the provider stops work).
  ex_.on_client_gone([this] {
    cancelled_ = true;
    if (live_connection_) {
      live_connection_->close();
    }
  });
  // Time waiting on the upstream, so x-keygate-overhead-ms can report keygate's own share.
  auto waited_from = Clock::now();
  auto response = co_await upstream_.send(*upstream_target, msg, &live_connection_);
  ex_.log.upstream_time += Clock::now() - waited_from;
  msg = UpstreamRequestMessage({}, {});  // sent: free its body and its (wiped) head now
  if (cancelled_ || ex_.client_gone()) {
    result.latency = Clock::now() - started_;
    fail_attempt(result, Error::upstream_unreachable("client disconnected"),
                 Outcome::client_cancelled);
    co_return nullptr;
  }
  if (!response) {
    result.latency = Clock::now() - started_;
    fail_attempt(result, response.error(), outcome_of(response.error()));
    co_return nullptr;
  }
  result.upstream_status = (*response)->status();
  if (result.upstream_status >= 200 && result.upstream_status < 300) {
    co_return std::move(*response);
  }

  waited_from = Clock::now();
  auto body = co_await (*response)->read_all();
  ex_.log.upstream_time += Clock::now() - waited_from;
  Error error = body ? adapter.translate_error(result.upstream_status, *body)
                     : Error::upstream_status(result.upstream_status, "Upstream error.");
  if (credential->secret) {
    // OpenAI answers a bad key with "Incorrect API key provided: sk-abc***wxyz": never
    // pass that on to the client or the logs.
    error.message = scrub_secret(error.message, credential->secret->expose());
    credential->secret.reset();
  }
  if (result.upstream_status == 401 || result.upstream_status == 403) {
    keys_.key_rejected(*credential, result.upstream_status);
  }
  result.latency = Clock::now() - started_;
  fail_attempt(result, std::move(error), Outcome::upstream_error);
  co_return nullptr;
}

awaitable<void> UpstreamCall::relay_whole(UpstreamResponse& response,
                                          const providers::Adapter& adapter,
                                          const router::Target& target,
                                          const rapidjson::Document& request,
                                          const providers::ChatOptions& options,
                                          AttemptResult& result) {
  const auto waited_from = Clock::now();
  std::string body;
  std::optional<bool> whole = response.append_buffered(body);
  if (!whole) {
    whole = co_await response.read_rest(body);
  }
  ex_.log.upstream_time += Clock::now() - waited_from;
  live_connection_ = nullptr;  // read in full: nothing left to cancel upstream
  response.release_connection();
  if (cancelled_ || ex_.client_gone()) {
    if (*whole) {
      // The provider bills an answer nobody waited for: its usage still goes on the record.
      std::string unused;
      (void)translate_whole(adapter, body, request, options, target, result.usage, unused);
    }
    mark_cancelled(result);
    co_return;
  }
  if (!*whole) {
    const Error error = response.error();
    fail_attempt(result, error, outcome_of(error));
    co_return;
  }
  result.time_to_first_token = Clock::now() - started_;
  std::string storage;  // for a translated answer; a passthrough is the upstream body itself
  auto translated = translate_whole(adapter, body, request, options, target, result.usage, storage);
  if (!translated) {
    fail_attempt(result, translated.error(), Outcome::upstream_error);
    co_return;
  }
  result.client_answered = true;
  if (!co_await ex_.reply(http::status::ok, *translated)) {
    mark_cancelled(result);
  }
}

// Suspends only on the upstream's reads and the client's writes; the work per piece is the
// relay's, and every failure leaves the loop for one exit, so this frame stays small.
awaitable<void> UpstreamCall::relay_stream(UpstreamResponse& response, StreamRelay& relay,
                                           AttemptResult& result) {
  bool ended = false;  // the upstream finished its body
  std::string_view piece;
  while (!ended) {
    std::optional<bool> read = response.read_buffered(piece);
    if (!read) {
      // Nothing more without waiting on the network: what is translated goes out first. Events
      // that arrived together go out together, in one write (one syscall) rather than one each.
      if (relay.has_output()) {
        if (!co_await deliver(relay, result, false)) {
          break;
        }
        relay.release_output();  // the stream may now wait long for its next event
      }
      const auto waited_from = Clock::now();
      read = co_await response.read_some(piece);
      ex_.log.upstream_time += Clock::now() - waited_from;
    }
    if (cancelled_ || ex_.client_gone()) {
      break;
    }
    if (!*read) {
      succeeded(fail(cut_short(response.error())), result);
      break;
    }
    if (piece.empty()) {
      ended = true;
      break;
    }
    if (!succeeded(relay.take(piece), result, Outcome::upstream_error)) {
      response.abort();
      break;
    }
    // The upstream's last bytes go out with the end of the stream, in one write.
    ended = response.done();
  }
  if (ended) {
    live_connection_ = nullptr;  // read in full: nothing left to cancel upstream
    response.release_connection();
    succeeded(relay.end(), result);
  }
  result.usage = relay.usage();
  result.stream_events = relay.events();
  if (!ended && !result.error) {
    // The client went away (noticed while reading or writing): stop the upstream's work.
    response.abort();
    mark_cancelled(result);
    co_return;
  }
  if (result.error) {
    co_await fail_stream(relay, result);
  } else if (!co_await deliver(relay, result, true)) {
    mark_cancelled(result);
  }
}

awaitable<bool> UpstreamCall::deliver(StreamRelay& relay, AttemptResult& result, bool last) {
  const std::string& frames = relay.take_frames();
  // The stream (its status line) starts with the first output, so an upstream that fails
  // before its first event still gets a proper status.
  if (!frames.empty() && !ex_.stream_started()) {
    result.client_answered = true;
    result.time_to_first_token = Clock::now() - started_;
    if (on_stream_started_) {
      std::exchange(on_stream_started_, nullptr)();  // `request` is not read after this
    }
    if (!co_await ex_.start_stream(http::status::ok)) {
      co_return false;
    }
  }
  if (last) {
    co_await ex_.end_stream(frames);
    co_return true;
  }
  if (frames.empty()) {
    co_return true;
  }
  co_return co_await ex_.write_stream(frames);
}

awaitable<void> UpstreamCall::fail_stream(StreamRelay& relay, AttemptResult& result) {
  if (relay.has_output()) {
    co_await deliver(relay, result, false);
  }
  if (!ex_.stream_started()) {
    co_return;  // nothing reached the client: the chain answers it, or tries the next target
  }
  // Mid-stream failure: an error event, and no [DONE], so no client mistakes it for success.
  const std::string frame = providers::sse_data_frame(result.error->to_json());
  co_await ex_.end_stream(frame);
}

}  // namespace keygate::gateway
