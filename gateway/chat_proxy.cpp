#include "gateway/chat_proxy.hpp"

#include "gateway/upstream_call.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

Error missing(const char* field, const char* what) {
  return Error::invalid_request(std::string("'") + field + "' is required and must be " + what +
                                    ".",
                                field, "missing_field");
}

}  // namespace

Result<void> validate_chat_request(const rapidjson::Document& request) {
  auto model = request.FindMember("model");
  if (model == request.MemberEnd() || !model->value.IsString() ||
      model->value.GetStringLength() == 0) {
    return fail(missing("model", "a non-empty string"));
  }
  auto messages = request.FindMember("messages");
  if (messages == request.MemberEnd() || !messages->value.IsArray() ||
      messages->value.Empty()) {
    return fail(missing("messages", "a non-empty array"));
  }
  std::size_t i = 0;
  for (const auto& m : messages->value.GetArray()) {
    auto role = m.IsObject() ? m.FindMember("role") : m.MemberEnd();
    if (!m.IsObject() || role == m.MemberEnd() || !role->value.IsString()) {
      return fail(Error::invalid_request(
          "messages[" + std::to_string(i) + "] must be an object with a string 'role'.",
          "messages", "invalid_message"));
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

UsageEvent usage_event(const HttpExchange& ex, int64_t started_ms, std::string model_requested,
                       const router::Target& target, const providers::ChatOptions& options,
                       const AttemptResult& result) {
  using namespace std::chrono;
  UsageEvent e;
  e.request_id = ex.log.request_id;
  e.started_at_ms = started_ms;
  e.user_id = ex.caller.user_id;
  e.token_id = ex.caller.token_id;
  e.provider = target.provider->id;
  e.model_requested = std::move(model_requested);
  e.model_served = target.model;
  e.key_source = result.key_source;
  e.key_id = result.key_id;
  e.usage = result.usage;
  e.latency_ms = duration_cast<milliseconds>(result.latency).count();
  e.ttft_ms = result.time_to_first_token
                  ? duration_cast<milliseconds>(*result.time_to_first_token).count()
                  : -1;
  e.upstream_status = result.upstream_status;
  e.stream = options.stream;
  e.outcome = std::string(to_string(result.outcome));
  return e;
}

awaitable<void> chat_completions(HttpExchange& ex, ApiContext& s) {
  auto doc = parse_json_object(ex.request().body());
  if (!doc) {
    co_await ex.reply_error(doc.error());
    co_return;
  }
  if (auto ok = validate_chat_request(*doc); !ok) {
    co_await ex.reply_error(ok.error());
    co_return;
  }
  providers::ChatOptions options;
  options.stream = (*doc).HasMember("stream") && (*doc)["stream"].IsBool() &&
                   (*doc)["stream"].GetBool();
  if (auto so = doc->FindMember("stream_options");
      so != doc->MemberEnd() && so->value.IsObject()) {
    auto iu = so->value.FindMember("include_usage");
    options.client_wants_usage =
        iu != so->value.MemberEnd() && iu->value.IsBool() && iu->value.GetBool();
  }
  auto target = s.models.resolve(as_view((*doc)["model"]));
  if (!target) {
    co_await ex.reply_error(target.error());
    co_return;
  }
  std::string model_requested(as_view((*doc)["model"]));
  ex.log.upstream = target->provider->id;
  ex.log.model = target->model;

  const auto started_ms = now_unix_ms();
  UpstreamCall call{ex, s.upstream, s.keys};
  auto result = co_await call.run_chat(*target, *doc, options);
  s.usage.record(usage_event(ex, started_ms, model_requested, *target, options, result));
}

// The models the caller can use now: every catalog model of a provider for which a key resolves.
awaitable<void> list_models(HttpExchange& ex, ApiContext& s) {
  JsonWriter w;
  w.start_object();
  w.field("object", "list");
  w.key("data");
  w.start_array();
  for (const auto& provider : s.catalog.providers()) {
    auto credential = co_await s.keys.resolve(ex.caller, provider);
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

void register_proxy_routes(RouteTable& routes, ApiContext& services) {
  routes.add(http::verb::post, "/v1/chat/completions", Access::user,
             [&services](HttpExchange& ex) { return chat_completions(ex, services); });
  routes.add(http::verb::get, "/v1/models", Access::user,
             [&services](HttpExchange& ex) { return list_models(ex, services); });
}

}  // namespace keygate::gateway
