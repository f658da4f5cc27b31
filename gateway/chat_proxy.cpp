#include "gateway/chat_proxy.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <random>

#include "gateway/embeddings_request.hpp"
#include "gateway/messages_api.hpp"
#include "gateway/responses_api.hpp"
#include "gateway/upstream_call.hpp"
#include "router/agent.hpp"
#include "router/circuit_breaker.hpp"
#include "router/retry_policy.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

Error missing(const char* field, const char* what) {
  return Error::invalid_request(
      std::string("'") + field + "' is required and must be " + what + ".", field, "missing_field");
}

}  // namespace

Result<void> validate_chat_request(const rapidjson::Document& request) {
  auto model = request.FindMember("model");
  if (model == request.MemberEnd() || !model->value.IsString() ||
      model->value.GetStringLength() == 0) {
    return fail(missing("model", "a non-empty string"));
  }
  auto messages = request.FindMember("messages");
  if (messages == request.MemberEnd() || !messages->value.IsArray() || messages->value.Empty()) {
    return fail(missing("messages", "a non-empty array"));
  }
  std::size_t i = 0;
  for (const auto& m : messages->value.GetArray()) {
    auto role = m.IsObject() ? m.FindMember("role") : m.MemberEnd();
    if (!m.IsObject() || role == m.MemberEnd() || !role->value.IsString()) {
      return fail(Error::invalid_request(
          "messages[" + std::to_string(i) + "] must be an object with a string 'role'.", "messages",
          "invalid_message"));
    }
    ++i;
  }
  if (auto stream = get_bool(request, "stream"); !stream) {
    return fail(stream.error());
  }
  auto so = request.FindMember("stream_options");
  if (so != request.MemberEnd() && !so->value.IsNull() && !so->value.IsObject()) {
    return fail(Error::invalid_request("'stream_options' must be an object.", "stream_options",
                                       "invalid_type"));
  }
  return {};
}

namespace {

// Shared by every request of one gateway (it lives as long as the route table).
struct ProxyState {
  ProxyState(const router::RetryPolicy& r, const router::CircuitBreakerOptions& b)
      : breaker(b), retry(r) {}
  router::CircuitBreaker breaker;
  router::RetryPolicy retry;
};

struct RequestInfo {
  std::string model_requested;  // as the client named it
  std::string agent;            // empty when no agent
  providers::ChatOptions options;
};

UsageEvent usage_event(const HttpExchange& ex, int64_t started_ms, const RequestInfo& info,
                       const router::Target& target, const AttemptResult& result) {
  using namespace std::chrono;
  UsageEvent e;
  e.request_id = ex.log.request_id;
  e.started_at_ms = started_ms;
  e.user_id = ex.caller.user_id;
  e.token_id = ex.caller.token_id;
  e.agent = info.agent;
  e.provider = target.provider->id;
  e.model_requested = info.model_requested;
  e.model_served = target.model;
  e.key_source = result.key_source;
  e.key_id = result.key_id;
  e.usage = result.usage;
  e.request_bytes = result.request_bytes;
  e.stream_events = result.stream_events;
  e.latency_ms = duration_cast<milliseconds>(result.latency).count();
  e.ttft_ms = result.time_to_first_token
                  ? duration_cast<milliseconds>(*result.time_to_first_token).count()
                  : -1;
  e.upstream_status = result.upstream_status;
  e.stream = info.options.stream;
  e.embeddings = info.options.operation == providers::Operation::embeddings;
  e.outcome = std::string(to_string(result.outcome));
  return e;
}

// Names the provider and model that answer; set before each attempt, so the headers sent with
// the reply or the stream's start name the one that served it.
void set_served_by(HttpExchange& ex, const router::Target& target) {
  std::erase_if(ex.response_headers, [](const auto& h) {
    return h.first == "x-keygate-provider" || h.first == "x-keygate-model";
  });
  ex.response_headers.emplace_back("x-keygate-provider", target.provider->id);
  ex.response_headers.emplace_back("x-keygate-model", target.model);
  ex.log.upstream = target.provider->id;
  ex.log.model = target.model;
}

std::chrono::milliseconds jittered_backoff(const router::RetryPolicy& policy) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return policy.backoff(rng);
}

// A chain's running state between attempts: the error to answer with if no target succeeds.
struct ChainState {
  // The last failure, else the first "no key for this provider". On the heap, as in
  // AttemptResult: run_chain's frame lasts as long as the stream it may relay.
  std::unique_ptr<Error> error;
};

// After a failed attempt: what run_chain does next. A plain function, so that the error copies
// and the breaker bookkeeping stay out of run_chain's frame (alive for a whole stream).
enum class Next { stop, reply_and_stop, retry_or_move_on, next_target };

Next after_failure(ProxyState& state, const std::string& provider, const AttemptResult& result,
                   const HttpExchange& ex, ChainState& chain) {
  const Error& error = *result.error;
  if (result.outcome == Outcome::client_cancelled || ex.client_gone()) {
    state.breaker.release_probe(provider);
    return Next::stop;
  }
  // This entry cannot serve the request (no key; the operator's key and the caller's budget on
  // it spent; a tool only Claude runs): the next one may. An earlier entry's error, if any, is
  // the one the client gets: a Claude that was overloaded must not turn into "openai cannot run
  // web_search" when the chain ends.
  if (error.code == "provider_key_missing" || error.code == "system_key_budget_exceeded" ||
      error.code == "unsupported_tool") {
    state.breaker.release_probe(provider);
    if (!chain.error) {
      chain.error = std::make_unique<Error>(error);
    }
    return Next::next_target;
  }
  if (router::RetryPolicy::counts_against_provider(error)) {
    state.breaker.record_failure(provider);
  } else if (result.upstream_status != 0) {
    state.breaker.record_success(provider);  // it answered: the provider is up
  } else {
    state.breaker.release_probe(provider);
  }
  if (result.client_answered) {
    return Next::stop;  // committed: the error went out in the stream, no fallback after a byte
  }
  chain.error = std::make_unique<Error>(error);
  if (!router::RetryPolicy::can_move_on(error, result.client_answered)) {
    return Next::reply_and_stop;
  }
  return Next::retry_or_move_on;
}

awaitable<void> pause_before_retry(const router::RetryPolicy& policy) {
  net::steady_timer pause(co_await net::this_coro::executor);
  pause.expires_after(jittered_backoff(policy));
  co_await pause.async_wait(use_tuple);
}

// Every target failed (or none could be tried): the client gets the error that says why.
awaitable<void> reply_chain_failed(HttpExchange& ex, const ChainState& chain) {
  if (chain.error) {
    co_await ex.reply_error(*chain.error);
    co_return;
  }
  const Error e = Error::unavailable(
      "Every provider for this request failed repeatedly in the last seconds and is paused; "
      "try again shortly.",
      "provider_unavailable");
  co_await ex.reply_error(e);
}

void record_attempt(HttpExchange& ex, ApiContext& s, int64_t started_ms, const RequestInfo& info,
                    const router::Target& target, const AttemptResult& result) {
  s.usage.record(usage_event(ex, started_ms, info, target, result));
}

// Tries the chain in order: each target with its own key and the same request (adapters only
// read it), at most `max_retries_per_target` retries after a jittered pause, and the next
// target only for retryable errors that happened before anything reached the client.
awaitable<void> run_chain(HttpExchange& ex, ApiContext& s, ProxyState& state,
                          const std::vector<router::Target>& chain,
                          const rapidjson::Document& request, const RequestInfo& info,
                          const std::function<void()>& release_request) {
  UpstreamCall call{ex, s.upstream, s.keys};
  call.on_stream_started(release_request);
  AttemptResult result;
  ChainState failures;
  for (const auto& target : chain) {
    const std::string& provider = target.provider->id;
    if (ex.client_gone()) {
      co_return;
    }
    if (!state.breaker.allow(provider)) {
      continue;  // open circuit: the provider failed repeatedly just now
    }
    set_served_by(ex, target);
    for (int tries = 0;; ++tries) {
      const auto started_ms = now_unix_ms();
      co_await call.attempt(target, request, info.options, result);
      record_attempt(ex, s, started_ms, info, target, result);
      if (result.error && result.error->code == "system_key_budget_exceeded") {
        s.spend.count_refusal();
      }
      if (!result.error) {
        state.breaker.record_success(provider);
        co_return;
      }
      const Next next = after_failure(state, provider, result, ex, failures);
      if (next == Next::stop) {
        co_return;
      }
      if (next == Next::reply_and_stop) {
        co_await ex.reply_error(*failures.error);
        co_return;
      }
      if (next == Next::next_target || tries >= state.retry.max_retries_per_target ||
          !state.breaker.allow(provider)) {
        break;
      }
      co_await pause_before_retry(state.retry);
      if (ex.client_gone()) {
        co_return;
      }
    }
  }
  if (ex.client_gone()) {
    co_return;
  }
  co_await reply_chain_failed(ex, failures);
}

Error agent_not_found(std::string_view name) {
  return Error::invalid_request("You have no agent named '" + std::string(name) +
                                    "'. GET /v1/agents lists yours; PUT /v1/agents/{name} "
                                    "creates one.",
                                "model", "agent_not_found");
}

// The agent a request selects: "model": "agent:NAME", else the X-Agent-Id header.
std::optional<std::string> selected_agent(const HttpExchange& ex, std::string_view model) {
  if (auto name = router::agent_from_model(model)) {
    return std::string(*name);
  }
  if (auto h = ex.request().find("x-agent-id")) {
    return std::string(*h);
  }
  return std::nullopt;
}

// One of the caller's agents, by name; answers the client itself (404-like 400, a broken stored
// agent) and returns nothing when there is none to use.
awaitable<std::optional<router::AgentSpec>> load_agent(HttpExchange& ex, ApiContext& s,
                                                       const std::string& name) {
  if (!router::validate_agent_name(name)) {
    const Error e = agent_not_found(name);
    co_await ex.reply_error(e);
    co_return std::nullopt;
  }
  auto work = [&] { return s.keystore.get_agent(ex.caller.user_id, name); };
  auto stored = co_await s.db.run(work);
  if (!stored) {
    const Error e = stored.error().status == 404 ? agent_not_found(name) : stored.error();
    co_await ex.reply_error(e);
    co_return std::nullopt;
  }
  auto spec =
      router::parse_stored_agent(stored->model, stored->params_json, stored->fallbacks_json);
  if (!spec) {
    co_await ex.reply_error(spec.error());
    co_return std::nullopt;
  }
  co_return std::move(*spec);
}

// A chat request naming an embedding model, or an embeddings request naming a chat model: refused
// before any key is used, with the endpoint that takes it. Models the catalog does not list are
// the provider's to judge.
std::optional<Error> wrong_kind(const router::Target& target, providers::ModelKind wanted) {
  const providers::ModelInfo* model = target.provider->find_model(target.model);
  if (model == nullptr || model->kind == wanted) {
    return std::nullopt;
  }
  const std::string name = target.provider->id + "/" + target.model;
  if (model->kind == providers::ModelKind::embedding) {
    return Error::invalid_request("'" + name +
                                      "' is an embedding model: POST /v1/embeddings takes it, "
                                      "not a chat request.",
                                  "model", "wrong_model_kind");
  }
  return Error::invalid_request("'" + name +
                                    "' is a chat model, not an embedding model. GET "
                                    "/v1/providers lists each provider's embedding models.",
                                "model", "wrong_model_kind");
}

// What a chat request resolved to: who asked for what, and the targets to try in order.
struct ChatPlan {
  RequestInfo info;
  std::vector<router::Target> chain;
};

// Parses and validates the request, applies the agent it selects and builds its chain; answers the
// client itself and returns nothing when the request cannot go on. A coroutine of its own so that
// its locals (the stored agent, the candidate chain, errors) are freed before the request is sent:
// the caller's frame lives as long as the stream it relays.
awaitable<std::optional<ChatPlan>> plan_chat(HttpExchange& ex, const std::string& body,
                                             ApiContext& s, rapidjson::Document& doc) {
  if (auto ok = parse_json_object_into(body, doc); !ok) {
    co_await ex.reply_error(ok.error());
    co_return std::nullopt;
  }
  if (auto ok = validate_chat_request(doc); !ok) {
    co_await ex.reply_error(ok.error());
    co_return std::nullopt;
  }
  ChatPlan plan;
  RequestInfo& info = plan.info;
  info.options.anthropic_client = ex.speaks_anthropic();
  info.options.stream =
      doc.HasMember("stream") && doc["stream"].IsBool() && doc["stream"].GetBool();
  if (auto so = doc.FindMember("stream_options"); so != doc.MemberEnd() && so->value.IsObject()) {
    auto iu = so->value.FindMember("include_usage");
    info.options.client_wants_usage =
        iu != so->value.MemberEnd() && iu->value.IsBool() && iu->value.GetBool();
  }
  info.model_requested = std::string(as_view(doc["model"]));
  // The text to edit for the upstream, where the model is named once (a second "model" member
  // the writer would leave out): see providers::RequestText.
  int model_members = 0;
  for (const auto& m : doc.GetObject()) {
    model_members += as_view(m.name) == "model" ? 1 : 0;
  }
  if (model_members == 1) {
    if (const MemberSpan span = find_member_span(body, "model"); span.found()) {
      info.options.text = {body, span.begin, span.end};
    }
  }

  std::string primary = info.model_requested;
  std::vector<std::string> fallbacks;
  if (auto agent_name = selected_agent(ex, info.model_requested)) {
    info.agent = *agent_name;
    std::optional<router::AgentSpec> spec = co_await load_agent(ex, s, info.agent);
    if (!spec) {
      co_return std::nullopt;  // answered
    }
    primary = spec->model;
    fallbacks = spec->fallbacks;
    router::merge_agent_params(doc, spec->params);
    info.options.text = {};  // the document now says more than the text
  }
  auto chain = router::build_chain(s.models, primary, fallbacks);
  if (!chain) {
    co_await ex.reply_error(chain.error());
    co_return std::nullopt;
  }
  const auto& first = chain->front();
  if (const std::optional<Error> refused = wrong_kind(first, providers::ModelKind::chat)) {
    co_await ex.reply_error(*refused);
    co_return std::nullopt;
  }
  // A fallback that is an embedding model could not answer: left out of the chain.
  chain->erase(std::remove_if(chain->begin() + 1, chain->end(),
                              [](const router::Target& t) {
                                return wrong_kind(t, providers::ModelKind::chat).has_value();
                              }),
               chain->end());
  if (auto ok = router::validate_request_params(doc, first.provider->find_model(first.model));
      !ok) {
    co_await ex.reply_error(ok.error());
    co_return std::nullopt;
  }
  plan.chain = std::move(*chain);
  co_return plan;
}

// `body`: the OpenAI chat request, the client's own (POST /v1/chat/completions) or translated
// from another API's (POST /v1/messages: messages_api.cpp).
// The caller's rate limit (rate_limits.hpp), before anything else is done with the request: the
// headers OpenAI sends (x-ratelimit-*), and when refused, the error to answer with and when to
// come back (retry-after in seconds, retry-after-ms), which the official SDKs wait for.
std::optional<Error> rate_limited(HttpExchange& ex, RateLimits& rate) {
  const std::optional<RateDecision> d = rate.take(ex.caller.user_id, rate_clock_ms());
  if (!d) {
    return std::nullopt;
  }
  if (d->counts_requests) {
    ex.response_headers.emplace_back("x-ratelimit-limit-requests", std::to_string(d->limit));
    ex.response_headers.emplace_back("x-ratelimit-remaining-requests",
                                     std::to_string(d->remaining));
    ex.response_headers.emplace_back("x-ratelimit-reset-requests",
                                     std::to_string(d->reset_ms) + "ms");
  }
  if (d->counts_tokens) {
    ex.response_headers.emplace_back("x-ratelimit-limit-tokens", std::to_string(d->token_limit));
    ex.response_headers.emplace_back("x-ratelimit-remaining-tokens",
                                     std::to_string(d->tokens_remaining));
    ex.response_headers.emplace_back("x-ratelimit-reset-tokens",
                                     std::to_string(d->token_reset_ms) + "ms");
  }
  if (d->allowed) {
    return std::nullopt;
  }
  ex.response_headers.emplace_back("retry-after", std::to_string((d->retry_after_ms + 999) / 1000));
  ex.response_headers.emplace_back("retry-after-ms", std::to_string(d->retry_after_ms));
  const std::string what = d->refused_for_tokens
                               ? std::to_string(d->token_limit) + " tokens a minute"
                               : std::to_string(d->limit) + " requests a minute";
  return Error::rate_limited("Rate limit reached: " + what + " for your user. Try again in " +
                             std::to_string(d->retry_after_ms) + " ms.");
}

awaitable<void> chat_completions(HttpExchange& ex, const std::string& body, ApiContext& s,
                                 ProxyState& state) {
  if (const std::optional<Error> refused = rate_limited(ex, s.rate)) {
    co_await ex.reply_error(*refused);
    co_return;
  }
  // A pool sized to the body (RapidJSON's default takes 64 KiB per document), kept until a stream
  // starts (until then a fallback target may need the same request).
  rapidjson::MemoryPoolAllocator<> pool(json_pool_size(body.size()));
  rapidjson::Document parsed(&pool);
  std::optional<ChatPlan> plan = co_await plan_chat(ex, body, s, parsed);
  if (!plan) {
    co_return;  // answered
  }
  // Once a stream starts no fallback can follow: the parsed request is freed then instead of held
  // for the stream's whole length (a long conversation is hundreds of KB per open stream).
  const std::function<void()> release = [&parsed, &pool] {
    parsed.SetNull();
    pool.Clear();
  };
  co_await run_chain(ex, s, state, plan->chain, parsed, plan->info, release);
}

// POST /v1/embeddings: OpenAI's embeddings request, to the provider its model names, or to an
// agent's model ("model": "agent:NAME"; its chat parameters do not apply), on the caller's key
// as a chat is, with the same retries, budget and usage records. One target, never a fallback:
// another model's vectors lie in another space, and a client could not tell them from the ones
// it stored before. The X-Agent-Id header labels the usage here (it must name one of the
// caller's agents); it does not choose the model.
awaitable<void> embeddings(HttpExchange& ex, const std::string& body, ApiContext& s,
                           ProxyState& state) {
  if (const std::optional<Error> refused = rate_limited(ex, s.rate)) {
    co_await ex.reply_error(*refused);
    co_return;
  }
  rapidjson::MemoryPoolAllocator<> pool(json_pool_size(body.size()));
  rapidjson::Document parsed(&pool);
  if (auto ok = parse_json_object_into(body, parsed); !ok) {
    co_await ex.reply_error(ok.error());
    co_return;
  }
  if (auto ok = validate_embeddings_request(parsed); !ok) {
    co_await ex.reply_error(ok.error());
    co_return;
  }
  RequestInfo info;
  info.options.operation = providers::Operation::embeddings;
  info.model_requested = std::string(as_view(parsed["model"]));
  std::string model = info.model_requested;
  const std::optional<std::string_view> agent_in_model = router::agent_from_model(model);
  if (std::optional<std::string> agent = selected_agent(ex, model)) {
    std::optional<router::AgentSpec> spec = co_await load_agent(ex, s, *agent);
    if (!spec) {
      co_return;  // answered
    }
    info.agent = std::move(*agent);
    if (agent_in_model) {
      model = spec->model;
    }
  }
  Result<router::Target> target = s.models.resolve(model);
  if (!target) {
    co_await ex.reply_error(target.error());
    co_return;
  }
  const providers::Provider& provider = *target->provider;
  if (!provider.adapter->embeds()) {
    const Error e = Error::invalid_request(
        provider.display_name +
            " has no embeddings endpoint in keygate. GET /v1/providers shows \"embeddings\" "
            "among the capabilities of the providers that have one.",
        "model", "embeddings_unsupported");
    co_await ex.reply_error(e);
    co_return;
  }
  if (const std::optional<Error> refused = wrong_kind(*target, providers::ModelKind::embedding)) {
    co_await ex.reply_error(*refused);
    co_return;
  }
  if (auto ok = provider.adapter->check_embeddings_request(parsed, target->model); !ok) {
    co_await ex.reply_error(ok.error());
    co_return;
  }
  const std::vector<router::Target> chain{std::move(*target)};
  const std::function<void()> nothing_to_release;  // never a stream
  co_await run_chain(ex, s, state, chain, parsed, info, nothing_to_release);
}

// POST /v1/messages/count_tokens, after messages_api.cpp translated it: the request resolves as a
// chat request would (agent, model, the caller's key), and the first target whose provider can
// count counts it; with none, the first target's adapter says why. Free upstream and no tokens
// generated: nothing is recorded as usage.
awaitable<void> count_tokens(HttpExchange& ex, const std::string& body, ApiContext& s) {
  // A call to the provider all the same (on the operator's key, maybe): it takes from the bucket.
  if (const std::optional<Error> refused = rate_limited(ex, s.rate)) {
    co_await ex.reply_error(*refused);
    co_return;
  }
  rapidjson::MemoryPoolAllocator<> pool(json_pool_size(body.size()));
  rapidjson::Document parsed(&pool);
  std::optional<ChatPlan> plan = co_await plan_chat(ex, body, s, parsed);
  if (!plan) {
    co_return;  // answered
  }
  const auto counting = std::find_if(plan->chain.begin(), plan->chain.end(), [](const auto& t) {
    return t.provider->adapter->counts_tokens();
  });
  if (counting == plan->chain.end()) {
    // No provider in the chain counts: its adapter says so, before any key is looked up.
    const router::Target& first = plan->chain.front();
    auto refused = first.provider->adapter->build_count_tokens_request(parsed, first.model);
    const Error why =
        refused ? Error::internal("this provider cannot count tokens") : refused.error();
    co_await ex.reply_error(why);
    co_return;
  }
  const router::Target& target = *counting;
  set_served_by(ex, target);
  UpstreamCall call{ex, s.upstream, s.keys};
  Result<int64_t> count = co_await call.count_tokens(target, parsed);
  if (!count) {
    co_await ex.reply_error(count.error());
    co_return;
  }
  JsonWriter w;
  w.start_object();
  w.field("input_tokens", *count);
  w.end_object();
  const std::string answer = w.take();
  co_await ex.reply(http::status::ok, answer);
}

// The models the caller can use now: every catalog model of a provider for which a key resolves.
awaitable<void> list_models(HttpExchange& ex, ApiContext& s) {
  JsonWriter w;
  w.start_object();
  w.field("object", "list");
  w.key("data");
  w.start_array();
  for (const auto& provider : s.catalog.providers()) {
    std::optional<Result<Credential>> cached = s.keys.resolve_cached(ex.caller, provider);
    if (!cached) {
      cached.emplace(co_await s.keys.resolve(ex.caller, provider));
    }
    const Result<Credential>& credential = *cached;
    if (!credential) {
      continue;
    }
    for (const auto& model : provider.models) {
      w.start_object();
      w.field("id", provider.id + "/" + model.id);
      w.field("object", "model");
      w.field("created", int64_t{0});
      w.field("owned_by", provider.id);
      w.field("key_source", credential->source);
      w.end_object();
    }
  }
  w.end_array();
  w.end_object();
  const std::string body = w.take();
  co_await ex.reply(http::status::ok, body);
}

}  // namespace

void register_proxy_routes(RouteTable& routes, ApiContext& services,
                           const router::RetryPolicy& retry,
                           const router::CircuitBreakerOptions& breaker) {
  auto state = std::make_shared<ProxyState>(retry, breaker);
  routes.add(http::verb::post, "/v1/chat/completions", Access::user,
             [&services, state](HttpExchange& ex) {
               return chat_completions(ex, ex.request().body(), services, *state);
             });
  // Anthropic's Messages API in front of the same chat pipeline (and the same breaker).
  routes.add(
      http::verb::post, "/v1/messages", Access::user,
      [&services, state](HttpExchange& ex) {
        return anthropic_messages(ex,
                                  [&services, state](HttpExchange& inner, const std::string& body) {
                                    return chat_completions(inner, body, services, *state);
                                  });
      },
      ErrorFormat::anthropic);
  routes.add(
      http::verb::post, "/v1/messages/count_tokens", Access::user,
      [&services](HttpExchange& ex) {
        return anthropic_count_tokens(ex,
                                      [&services](HttpExchange& inner, const std::string& body) {
                                        return count_tokens(inner, body, services);
                                      });
      },
      ErrorFormat::anthropic);
  // OpenAI's Responses API in front of the same chat pipeline.
  routes.add(http::verb::post, "/v1/responses", Access::user, [&services, state](HttpExchange& ex) {
    return openai_responses(ex, [&services, state](HttpExchange& inner, const std::string& body) {
      return chat_completions(inner, body, services, *state);
    });
  });
  routes.add(http::verb::post, "/v1/embeddings", Access::user,
             [&services, state](HttpExchange& ex) {
               return embeddings(ex, ex.request().body(), services, *state);
             });
  routes.add(http::verb::get, "/v1/models", Access::user,
             [&services](HttpExchange& ex) { return list_models(ex, services); });
  register_provider_routes(routes, services);
}

}  // namespace keygate::gateway
