// Response translation: Adapter::translate_response on a typical non-streaming 2xx body, as
// UpstreamCall::relay_whole calls it once the whole body has arrived.

#include <benchmark/benchmark.h>

#include <string_view>

#include "bench/micro/payloads.hpp"
#include "bench/micro/setup.hpp"

namespace keygate::bench {
namespace {

void BM_response_translate(benchmark::State& state, const char* provider, const char* model,
                           std::string_view body) {
  const providers::Adapter& adapter = adapter_of(provider);
  providers::Usage usage;
  if (auto r = adapter.translate_response(body, model, usage); !r || !usage.reported()) {
    state.SkipWithError("the body does not translate");
    return;
  }
  for (auto _ : state) {
    providers::Usage u;
    auto r = adapter.translate_response(body, model, u);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(u);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK_CAPTURE(BM_response_translate, openai, "openai", "gpt-4o-mini", kOpenAiResponse);
BENCHMARK_CAPTURE(BM_response_translate, anthropic, "anthropic", "claude-sonnet-4-5",
                  kAnthropicResponse);
BENCHMARK_CAPTURE(BM_response_translate, gemini, "google", "gemini-2.5-flash", kGeminiResponse);

}  // namespace
}  // namespace keygate::bench
