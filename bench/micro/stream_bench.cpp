// SSE translation per event: the bytes of one upstream event through the SseParser and the
// adapter's StreamTranslator, as UpstreamCall::relay_stream does for each read. One parser and
// one translator per benchmark, as per stream; the figure is per event (items/s). Writing the
// "data: ...\n\n" frames to the client is relay_stream's own work and is not included.

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/micro/payloads.hpp"
#include "bench/micro/setup.hpp"

namespace keygate::bench {
namespace {

void BM_sse_event(benchmark::State& state, const char* provider, const char* model,
                  std::string_view preamble, std::string_view event) {
  const providers::Adapter& adapter = adapter_of(provider);
  const providers::ChatOptions options{true, false};
  auto translator = adapter.start_stream(options, model);
  providers::SseParser parser;
  std::vector<providers::SseEvent> events;
  std::vector<std::string> chunks;

  // The stream's opening events (Anthropic's message_start and content_block_start), untimed.
  if (auto ok = parser.feed(preamble, events); !ok) {
    state.SkipWithError(ok.error().message.c_str());
    return;
  }
  for (const auto& e : events) {
    if (auto ok = translator->on_event(e, chunks); !ok) {
      state.SkipWithError(ok.error().message.c_str());
      return;
    }
  }
  // Two untimed rounds: the first event of a stream may carry extras (the role); the second,
  // like every later one, must yield exactly one chunk, so an event the translator skipped (a
  // measurement of nothing) is caught.
  for (int round = 0; round < 2; ++round) {
    events.clear();
    chunks.clear();
    (void)parser.feed(event, events);
    for (const auto& e : events) {
      (void)translator->on_event(e, chunks);
    }
  }
  if (events.size() != 1 || chunks.size() != 1) {
    state.SkipWithError("the event does not translate into one chunk");
    return;
  }

  for (auto _ : state) {
    events.clear();
    chunks.clear();
    auto fed = parser.feed(event, events);
    benchmark::DoNotOptimize(fed);
    for (const auto& e : events) {
      auto ok = translator->on_event(e, chunks);
      benchmark::DoNotOptimize(ok);
    }
    benchmark::DoNotOptimize(chunks.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * event.size()));
}
// Reference line: the SseParser alone on the OpenAI event, to show its share of the above.
void BM_sse_parse_only(benchmark::State& state) {
  providers::SseParser parser;
  std::vector<providers::SseEvent> events;
  for (auto _ : state) {
    events.clear();
    auto fed = parser.feed(kOpenAiChunkEvent, events);
    benchmark::DoNotOptimize(fed);
    benchmark::DoNotOptimize(events.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_sse_parse_only);

BENCHMARK_CAPTURE(BM_sse_event, openai_chunk, "openai", "gpt-4o-mini", "", kOpenAiChunkEvent);
BENCHMARK_CAPTURE(BM_sse_event, anthropic_content_block_delta, "anthropic", "claude-sonnet-4-5",
                  kAnthropicPreamble, kAnthropicDeltaEvent);
BENCHMARK_CAPTURE(BM_sse_event, gemini_chunk, "google", "gemini-2.5-flash", "", kGeminiChunkEvent);

}  // namespace
}  // namespace keygate::bench
