// Token lookup and key resolution, as KeystoreAuthenticator / KeystoreKeyResolver
// (gateway/keystore_bridge.cpp) call them: the hot-cache paths the I/O thread runs first, and the
// SQLite paths the database pool runs on a miss. A real keystore on a temporary SQLite file, real
// libsodium. The thread hop to the database pool is not part of these figures.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "bench/micro/setup.hpp"
#include "keystore/keystore.hpp"
#include "keystore/master_key.hpp"
#include "keystore/sealer.hpp"

namespace keygate::bench {
namespace {

// A key shaped like a current OpenAI project key (164 characters).
std::string provider_key() {
  std::string key = "sk-proj-";
  while (key.size() < 164) {
    key += "Xy7Qp2Lm9Rt4Vb8Nc3Kd6Hf1Jg5Sw0Ea";
  }
  key.resize(164);
  return key;
}

// One user ("alice", her first token) with a personal OpenAI key, in a database that lives as
// long as the process.
struct KeystoreSetup {
  std::string dir;
  std::unique_ptr<Keystore> keystore;
  std::string token;
  std::string user_id;

  KeystoreSetup() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "keygate-micro-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    auto ks = Keystore::open(dir + "/keygate.db", generate_master_key());
    if (!ks) {
      die("open keystore", ks.error());
    }
    keystore = std::move(*ks);
    auto user = keystore->create_user("alice", false);
    if (!user) {
      die("create user", user.error());
    }
    token = user->token;
    user_id = user->user.id;
    auto key = keystore->create_key(user_id, "openai", SecretKey(provider_key()), "bench", "",
                                    std::nullopt);
    if (!key) {
      die("create key", key.error());
    }
    auto resolved = keystore->resolve(user_id, "openai");
    if (!resolved || !*resolved || (*resolved)->source != "user") {
      die("resolve", Error::internal("the personal key does not resolve"));
    }
  }
  ~KeystoreSetup() {
    keystore.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

KeystoreSetup& setup() {
  static KeystoreSetup instance;
  return instance;
}

// The hot cache keeps entries for 5 s; a benchmark that runs longer sees a miss now and then.
// A miss is refilled the way the gateway does (the database path), outside the timed region,
// and counted, so a figure can never silently be the miss path.
template <typename Lookup, typename Refill>
void run_cached(benchmark::State& state, Lookup lookup, Refill refill) {
  refill();
  int64_t refills = 0;
  for (auto _ : state) {
    auto r = lookup();
    if (!r) {
      state.PauseTiming();
      refill();
      ++refills;
      state.ResumeTiming();
      continue;
    }
    if (!*r) {
      state.SkipWithError(r->error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["refills"] = static_cast<double>(refills);
}

// KeystoreAuthenticator::authenticate's fast path: token shape and checksum, keyed BLAKE2b hash
// under a shared lock, hot-cache lookup, Identity copy.
void BM_token_lookup_cached(benchmark::State& state) {
  auto& s = setup();
  run_cached(
      state, [&] { return s.keystore->authenticate_cached(s.token); },
      [&] { (void)s.keystore->authenticate(s.token); });
}
BENCHMARK(BM_token_lookup_cached);

// The miss path, run on the database pool: the same checks, then an indexed SELECT joining
// tokens and users (last_used_at is written at most once a minute, so this is a read).
void BM_token_lookup_uncached(benchmark::State& state) {
  auto& s = setup();
  for (auto _ : state) {
    auto r = s.keystore->authenticate(s.token);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_token_lookup_uncached);

// KeystoreKeyResolver::resolve's fast path: the sealed row from the hot cache, opened into a
// SecretKey (XChaCha20-Poly1305), as a request to OpenAI with a personal key does.
void BM_key_resolve_cached(benchmark::State& state) {
  auto& s = setup();
  run_cached(
      state, [&] { return s.keystore->resolve_cached(s.user_id, "openai"); },
      [&] { (void)s.keystore->resolve(s.user_id, "openai"); });
}
BENCHMARK(BM_key_resolve_cached);

// The miss path: the key-choosing SELECT, then the same unseal.
void BM_key_resolve_uncached(benchmark::State& state) {
  auto& s = setup();
  for (auto _ : state) {
    auto r = s.keystore->resolve(s.user_id, "openai");
    if (!r || !*r) {
      state.SkipWithError("resolve found no key");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_key_resolve_uncached);

// The unseal alone: Sealer::open of a 164-byte key into protected memory, associated data built
// per call as the keystore does.
void BM_key_unseal(benchmark::State& state) {
  const MasterKeyMaterial master = generate_master_key();
  const Sealer sealer(master.key, 1);
  const SealContext context{"key_4kYb2bQw8Jx1Vn5Tz7Rm3c", "usr_9dFq1Lz6Wp2Ks8Hn4Bt0Xe", "openai"};
  const Sealed sealed = sealer.seal(SecretKey(provider_key()), context);
  for (auto _ : state) {
    auto r = sealer.open(sealed, context);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r->bytes().data());
  }
}
BENCHMARK(BM_key_unseal);

}  // namespace
}  // namespace keygate::bench
