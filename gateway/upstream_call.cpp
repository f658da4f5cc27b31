#include "gateway/upstream_call.hpp"

#include <shared_mutex>
#include <unordered_map>

#include "gateway/scrub.hpp"
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

AttemptResult failed(AttemptResult r, Error e, Outcome outcome) {
  r.outcome = outcome;
  r.error = std::move(e);
  return r;
}

}  // namespace

awaitable<AttemptResult> UpstreamCall::run_chat(const router::Target& target,
                                                const rapidjson::Document& request,
                                                const providers::ChatOptions& options) {
  auto result = co_await attempt(target, request, options);
  if (!result.client_answered && result.error && !ex_.client_gone()) {
    co_await ex_.reply_error(*result.error);
    result.client_answered = true;
  }
  co_return result;
}

awaitable<AttemptResult> UpstreamCall::attempt(const router::Target& target,
                                               const rapidjson::Document& request,
                                               const providers::ChatOptions& options) {
  const auto started = Clock::now();
  started_ = started;
  // The connection dies with this attempt's response; a client that leaves later (during a
  // fallback pause, or the next attempt's key lookup) must not close a dangling pointer.
  struct ForgetConnection {
    UpstreamConnection*& live;
    ~ForgetConnection() { live = nullptr; }
  } forget_connection{live_connection_};
  AttemptResult result;
  // Sending is its own coroutine so that its frame (the request, the key, the built body) is
  // gone before a stream is relayed: this frame stays for the stream's whole length, in every
  // open stream.
  std::unique_ptr<UpstreamResponse> response = co_await send(target, request, options, result);
  if (!response) {
    co_return result;
  }
  const auto& adapter = *target.provider->adapter;
  if (options.stream) {
    result = co_await relay_stream(*response, adapter, options, target, std::move(result));
  } else {
    result = co_await relay_whole(*response, adapter, target, std::move(result));
  }
  live_connection_ = nullptr;
  result.latency = Clock::now() - started;
  co_return result;
}

awaitable<std::unique_ptr<UpstreamResponse>> UpstreamCall::send(
    const router::Target& target, const rapidjson::Document& request,
    const providers::ChatOptions& options, AttemptResult& result) {
  const auto& provider = *target.provider;
  const auto& adapter = *provider.adapter;

  const Result<UpstreamTarget>& upstream_target = parsed_base_url(provider.base_url);
  if (!upstream_target) {
    result = failed(std::move(result), upstream_target.error(), Outcome::rejected);
    co_return nullptr;
  }
  auto credential = co_await keys_.resolve(ex_.caller, provider);
  if (!credential) {
    result = failed(std::move(result), credential.error(), Outcome::rejected);
    co_return nullptr;
  }
  result.key_source = credential->source;
  result.key_id = credential->key_id;

  auto built = adapter.build_chat_request(request, options, target.model);
  if (!built) {
    result = failed(std::move(result), built.error(), Outcome::rejected);
    co_return nullptr;
  }

  UpstreamRequestMessage msg{http::verb::post, upstream_target->base_path + built->path, 11};
  msg.method_string(built->method);
  msg.set(http::field::content_type, "application/json");
  msg.set(http::field::accept, options.stream ? "text/event-stream" : "application/json");
  msg.set(http::field::user_agent, "keygate/0.1");
  for (auto& [name, value] : built->headers) {
    msg.set(name, value);
  }
  if (credential->secret) {
    // The key goes straight from its wiping buffer into wiping header storage.
    std::string_view key = credential->secret->expose();
    auto value = SecretKey::zeroed(provider.auth.prefix.size() + key.size());
    std::copy(provider.auth.prefix.begin(), provider.auth.prefix.end(), value.mutable_data());
    std::copy(key.begin(), key.end(), value.mutable_data() + provider.auth.prefix.size());
    msg.set(provider.auth.header, value.expose());
  }
  // The plaintext stays (in protected memory) until the answer's header arrives: an upstream error
  // may echo the key, and scrubbing it needs the key. Wiped when this coroutine returns.
  msg.body() = std::move(built->body);

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
  msg = UpstreamRequestMessage{};  // sent: free its body and its (wiped) headers now
  if (cancelled_ || ex_.client_gone()) {
    result.latency = Clock::now() - started_;
    result = failed(std::move(result), Error::upstream_unreachable("client disconnected"),
                    Outcome::client_cancelled);
    co_return nullptr;
  }
  if (!response) {
    result.latency = Clock::now() - started_;
    result = failed(std::move(result), response.error(), outcome_of(response.error()));
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
  result = failed(std::move(result), std::move(error), Outcome::upstream_error);
  co_return nullptr;
}

awaitable<AttemptResult> UpstreamCall::relay_whole(UpstreamResponse& response,
                                                   const providers::Adapter& adapter,
                                                   const router::Target& target,
                                                   AttemptResult result) {
  const auto waited_from = Clock::now();
  auto body = co_await response.read_all();
  ex_.log.upstream_time += Clock::now() - waited_from;
  if (cancelled_ || ex_.client_gone()) {
    co_return failed(result, Error::upstream_unreachable("client disconnected"),
                     Outcome::client_cancelled);
  }
  if (!body) {
    co_return failed(result, body.error(), outcome_of(body.error()));
  }
  result.time_to_first_token = Clock::now() - started_;
  auto translated = adapter.translate_response(*body, target.model, result.usage);
  if (!translated) {
    co_return failed(result, translated.error(), Outcome::upstream_error);
  }
  result.client_answered = true;
  if (!co_await ex_.reply(http::status::ok, *translated)) {
    co_return failed(result, Error::upstream_unreachable("client disconnected"),
                     Outcome::client_cancelled);
  }
  co_return result;
}

awaitable<void> UpstreamCall::fail_stream(const Error& error) {
  // Mid-stream failure: an error event, and no [DONE], so no client mistakes it for success.
  const std::string frame = providers::sse_data_frame(error.to_json());
  co_await ex_.end_stream(frame);
}

awaitable<AttemptResult> UpstreamCall::relay_stream(UpstreamResponse& response,
                                                    const providers::Adapter& adapter,
                                                    const providers::ChatOptions& options,
                                                    const router::Target& target,
                                                    AttemptResult result) {
  auto translator = adapter.start_stream(options, target.model);
  providers::SseParser parser;
  std::vector<providers::SseEvent> events;
  std::vector<std::string> chunks;
  std::string frames;

  // Turns what the translator produced into SSE frames; the stream (status line) starts with the
  // first output, so an upstream that fails before its first event still gets a proper status.
  auto take_frames = [&]() -> awaitable<bool> {
    frames.clear();
    for (auto& c : chunks) {
      frames += "data: ";
      frames += c;
      frames += "\n\n";
    }
    chunks.clear();
    if (!frames.empty() && !ex_.stream_started()) {
      result.client_answered = true;
      result.time_to_first_token = Clock::now() - started_;
      if (on_stream_started_) {
        std::exchange(on_stream_started_, nullptr)();  // `request` is not read after this
      }
      co_return co_await ex_.start_stream(http::status::ok);
    }
    co_return true;
  };
  auto flush = [&]() -> awaitable<bool> {
    if (chunks.empty()) {
      co_return true;
    }
    if (!co_await take_frames()) {
      co_return false;
    }
    co_return co_await ex_.write_stream(frames);
  };

  auto stop_with = [&](const Error& e, Outcome outcome) -> awaitable<AttemptResult> {
    result.usage = translator->usage();
    if (ex_.stream_started()) {
      co_await fail_stream(e);
    }
    co_return failed(result, e, outcome);
  };

  for (;;) {
    const auto waited_from = Clock::now();
    auto piece = co_await response.read_some();
    ex_.log.upstream_time += Clock::now() - waited_from;
    if (cancelled_ || ex_.client_gone()) {
      response.abort();
      result.usage = translator->usage();
      co_return failed(result, Error::upstream_unreachable("client disconnected"),
                       Outcome::client_cancelled);
    }
    if (!piece) {
      Error e = piece.error();
      if (e.status == 502) {
        e = Error{502,
                  "upstream_error",
                  "upstream_truncated",
                  "The upstream stream ended unexpectedly: " + e.message,
                  {},
                  true};
      }
      co_return co_await stop_with(e, outcome_of(e));
    }
    if (piece->empty()) {
      break;  // upstream finished its body
    }
    events.clear();
    if (auto ok = parser.feed(*piece, events); !ok) {
      response.abort();
      co_return co_await stop_with(ok.error(), Outcome::upstream_error);
    }
    for (auto& event : events) {
      if (auto ok = translator->on_event(std::move(event), chunks); !ok) {
        co_await flush();
        response.abort();
        co_return co_await stop_with(ok.error(), Outcome::upstream_error);
      }
    }
    if (response.done()) {
      break;  // the upstream's last bytes: they go out with the end of the stream, in one write
    }
    if (!co_await flush()) {
      response.abort();
      result.usage = translator->usage();
      co_return failed(result, Error::upstream_unreachable("client disconnected"),
                       Outcome::client_cancelled);
    }
  }
  if (auto ok = translator->on_end(chunks); !ok) {
    co_await flush();
    co_return co_await stop_with(ok.error(), outcome_of(ok.error()));
  }
  result.usage = translator->usage();
  if (!co_await take_frames()) {
    co_return failed(result, Error::upstream_unreachable("client disconnected"),
                     Outcome::client_cancelled);
  }
  co_await ex_.end_stream(frames);
  co_return result;
}

}  // namespace keygate::gateway
