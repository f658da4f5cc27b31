// The usage writer (keystore/usage_writer.hpp) as the gateway runs it: a real UsageWriter on a
// temporary SQLite file (migrated by UsageWriter::open), fed rows shaped like the gateway's
// (gateway/usage_recording.cpp to_row) in bursts of `batch` rows, each burst then flush()ed.
//
// The writer's cost is on another thread, which Google Benchmark's own CPU time does not see, so
// the figures that matter are counters measured with getrusage around enqueue + flush:
//   cpu_us_per_row     process CPU (user + system, every thread) per row
//   writer_us_per_row  the same less the calling thread's CPU (RUSAGE_THREAD): the writer thread
//   enqueue_us_per_row the calling thread's CPU per row (what the I/O thread pays to enqueue)
//   system_us_per_row  the part of cpu_us_per_row spent in the kernel (WAL writes, fsync)
//   rows_per_s         rows stored per second of wall time (pacing sleeps included)
// Building the rows (the gateway's to_row) happens outside the measured window.

#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/micro/setup.hpp"
#include "keystore/usage_writer.hpp"

namespace keygate::bench {
namespace {

int64_t us_of(const timeval& t) {
  return t.tv_sec * 1'000'000LL + t.tv_usec;
}

int64_t cpu_us(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  return us_of(ru.ru_utime) + us_of(ru.ru_stime);
}

int64_t system_us(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  return us_of(ru.ru_stime);
}

// `n` characters from `alphabet`, a fixed function of `seed` (ids differ from their first
// character on, as random ones do).
std::string chars_of(uint64_t seed, std::size_t n, std::string_view alphabet) {
  std::string out(n, '0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
  for (char& c : out) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    c = alphabet[(x >> 32) % alphabet.size()];
  }
  return out;
}

constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Four users, as a few benchmark clients would be; one token and one personal key each.
constexpr int kUsers = 4;

UsageRow usage_row(uint64_t n, int64_t started_at_ms) {
  const int user = static_cast<int>(n % kUsers);
  UsageRow r;
  // Shaped like the gateway's: "req_" + 24 hex, and keystore random_id()s ("usr_" + 20 base62).
  r.request_id = "req_" + chars_of(n, 24, kHex);
  r.started_at_ms = started_at_ms;
  r.user_id = "usr_" + chars_of(1000 + user, 20, kBase62);
  r.token_id = "tok_" + chars_of(2000 + user, 20, kBase62);
  r.provider = "openai";
  r.model_requested = "gpt-4o-mini";
  r.model_served = "gpt-4o-mini";
  r.key_source = "user";
  r.key_id = "key_" + chars_of(3000 + user, 20, kBase62);
  r.prompt_tokens = 12 + static_cast<int64_t>(n % 50);
  r.completion_tokens = 30 + static_cast<int64_t>(n % 200);
  r.usage_known = "reported";
  r.cost_usd = (r.prompt_tokens * 0.15 + r.completion_tokens * 0.6) / 1e6;
  r.latency_ms = 3 + static_cast<int64_t>(n % 7);
  r.upstream_status = 200;
  r.outcome = "ok";
  return r;
}

struct UsageSetup {
  std::string dir;
  std::unique_ptr<UsageWriter> writer;

  explicit UsageSetup(UsageWriterOptions options) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "keygate-micro-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    auto w = UsageWriter::open(dir + "/keygate.db", std::move(options));
    if (!w) {
      die("open usage writer", w.error());
    }
    writer = std::move(*w);
  }
  ~UsageSetup() {
    writer.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Arg 0: rows per burst; arg 1: the writer's slice in µs (250 is the gateway's default; 0 writes a
// burst in one transaction).
void BM_usage_writer(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  UsageWriterOptions options;  // the gateway's defaults, but for the slice under test
  options.slice = std::chrono::microseconds(state.range(1));
  UsageSetup s(options);
  uint64_t n = 0;
  int64_t started_at_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z; ~27k rows a second
  int64_t process_us = 0;
  int64_t caller_us = 0;
  int64_t kernel_us = 0;
  double wall_s = 0;
  uint64_t rows = 0;
  std::vector<UsageRow> pending;
  pending.reserve(batch);
  for (auto _ : state) {
    state.PauseTiming();
    pending.clear();
    for (std::size_t i = 0; i < batch; ++i, ++n) {
      pending.push_back(usage_row(n, started_at_ms + static_cast<int64_t>(n / 27)));
    }
    state.ResumeTiming();
    const int64_t s0 = system_us(RUSAGE_SELF);
    const int64_t p0 = cpu_us(RUSAGE_SELF);
    const int64_t c0 = cpu_us(RUSAGE_THREAD);
    const auto w0 = std::chrono::steady_clock::now();
    for (UsageRow& r : pending) {
      s.writer->enqueue(std::move(r));
    }
    const int64_t c1 = cpu_us(RUSAGE_THREAD);
    s.writer->flush();
    const auto w1 = std::chrono::steady_clock::now();
    process_us += cpu_us(RUSAGE_SELF) - p0;
    kernel_us += system_us(RUSAGE_SELF) - s0;
    caller_us += c1 - c0;
    wall_s += std::chrono::duration<double>(w1 - w0).count();
    rows += batch;
  }
  if (s.writer->written() != n || s.writer->dropped() != 0 || s.writer->failed() != 0) {
    state.SkipWithError("the writer lost rows");
    return;
  }
  const auto per_row = [&](int64_t us) { return static_cast<double>(us) / rows; };
  state.counters["cpu_us_per_row"] = per_row(process_us);
  state.counters["writer_us_per_row"] = per_row(process_us - caller_us);
  state.counters["system_us_per_row"] = per_row(kernel_us);
  state.counters["enqueue_us_per_row"] = per_row(caller_us);
  state.counters["rows_per_s"] = static_cast<double>(rows) / wall_s;
  state.counters["batches"] = static_cast<double>(s.writer->batches());
  state.counters["paced_sleeps"] = static_cast<double>(s.writer->paced_sleeps());
}
BENCHMARK(BM_usage_writer)
    ->ArgNames({"rows", "slice_us"})
    ->Args({540, 250})  // ~20 ms (max_delay) of rows at 27k requests/s, gateway defaults
    ->Args({2000, 250})
    ->Args({2000, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace
}  // namespace keygate::bench
