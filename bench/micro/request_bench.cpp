// The request rewrite: what POST /v1/chat/completions does to the client's body before any I/O,
// in the order chat_proxy.cpp and upstream_call.cpp do it — parse, validate, (agent params),
// resolve the model chain, range-check the parameters, and the adapter's build_chat_request,
// which yields the upstream body.
// The agent's database read and the header building around the key are not included.

#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <vector>

#include "bench/micro/payloads.hpp"
#include "bench/micro/setup.hpp"
#include "gateway/chat_proxy.hpp"
#include "router/agent.hpp"
#include "schema/json.hpp"

namespace keygate::bench {
namespace {

// An agent row as stored by PUT /v1/agents/coder.
struct StoredAgent {
  std::string model;
  std::string params_json;
  std::string fallbacks_json;
};

enum class Size { small, large };

Result<std::size_t> rewrite(const std::string& body, const providers::ChatOptions& client_options,
                            const StoredAgent* agent) {
  providers::ChatOptions options = client_options;
  rapidjson::MemoryPoolAllocator<> pool(json_pool_size(body.size()));
  rapidjson::Document parsed(&pool);
  rapidjson::Document* doc = &parsed;
  if (auto ok = parse_json_object_into(body, parsed); !ok) {
    return fail(ok.error());
  }
  if (auto ok = gateway::validate_chat_request(*doc); !ok) {
    return fail(ok.error());
  }
  const std::string model_requested(as_view((*doc)["model"]));
  // As plan_chat: the text to edit, where the model is named once.
  int model_members = 0;
  for (const auto& m : doc->GetObject()) {
    model_members += as_view(m.name) == "model" ? 1 : 0;
  }
  if (model_members == 1) {
    if (const MemberSpan span = find_member_span(body, "model"); span.found()) {
      options.text = {body, span.begin, span.end};
    }
  }
  std::string primary = model_requested;
  std::vector<std::string> fallbacks;
  if (agent != nullptr) {
    auto name = router::agent_from_model(model_requested);
    if (!name || !router::validate_agent_name(*name)) {
      return fail(Error::internal("not an agent model"));
    }
    auto spec = router::parse_stored_agent(agent->model, agent->params_json, agent->fallbacks_json);
    if (!spec) {
      return fail(spec.error());
    }
    primary = spec->model;
    fallbacks = spec->fallbacks;
    router::merge_agent_params(*doc, spec->params);
    options.text = {};
  }
  auto chain = router::build_chain(resolver(), primary, fallbacks);
  if (!chain) {
    return fail(chain.error());
  }
  const auto& first = chain->front();
  if (auto ok = router::validate_request_params(*doc, first.provider->find_model(first.model));
      !ok) {
    return fail(ok.error());
  }
  auto built = first.provider->adapter->build_chat_request(*doc, options, first.model);
  if (!built) {
    return fail(built.error());
  }
  return built->body.size();
}

void run(benchmark::State& state, const std::string& body, const providers::ChatOptions& options,
         const StoredAgent* agent) {
  // Checked once, untimed: a benchmark that measured an error path would be meaningless.
  if (auto r = rewrite(body, options, agent); !r) {
    state.SkipWithError(r.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    auto r = rewrite(body, options, agent);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_request_rewrite(benchmark::State& state, const char* model, Size size) {
  const std::string body = size == Size::small ? small_request(model) : large_request(model);
  // The large body asks for a stream with usage, as chat UIs do.
  const providers::ChatOptions options{size == Size::large, size == Size::large};
  run(state, body, options, nullptr);
}
BENCHMARK_CAPTURE(BM_request_rewrite, openai_small, "openai/gpt-4o-mini", Size::small);
BENCHMARK_CAPTURE(BM_request_rewrite, anthropic_small, "anthropic/claude-sonnet-4-5", Size::small);
BENCHMARK_CAPTURE(BM_request_rewrite, gemini_small, "google/gemini-2.5-flash", Size::small);
BENCHMARK_CAPTURE(BM_request_rewrite, openai_large, "openai/gpt-4o-mini", Size::large);
BENCHMARK_CAPTURE(BM_request_rewrite, anthropic_large, "anthropic/claude-sonnet-4-5", Size::large);
BENCHMARK_CAPTURE(BM_request_rewrite, gemini_large, "google/gemini-2.5-flash", Size::large);

// Reference line: parse_json_object alone, the first step above, to show its share.
void BM_request_parse_only(benchmark::State& state, Size size) {
  const std::string body = size == Size::small ? small_request("openai/gpt-4o-mini")
                                               : large_request("openai/gpt-4o-mini");
  for (auto _ : state) {
    rapidjson::MemoryPoolAllocator<> pool(json_pool_size(body.size()));
    rapidjson::Document doc(&pool);
    auto ok = parse_json_object_into(body, doc);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK_CAPTURE(BM_request_parse_only, small, Size::small);
BENCHMARK_CAPTURE(BM_request_parse_only, large, Size::large);

// "model": "agent:coder" with a stored agent that presets parameters and one fallback.
void BM_request_rewrite_agent(benchmark::State& state) {
  const StoredAgent agent{"openai/gpt-4o-mini", R"({"temperature":0.2,"max_tokens":512})",
                          R"(["anthropic/claude-haiku-4-5"])"};
  run(state, small_request("agent:coder"), providers::ChatOptions{}, &agent);
}
BENCHMARK(BM_request_rewrite_agent);

}  // namespace
}  // namespace keygate::bench
