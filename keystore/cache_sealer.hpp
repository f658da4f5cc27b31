#pragma once
// The hot cache's own seal for provider keys (hot_cache.hpp). A key read from the database is
// opened once with the master key's subkey (sealer.hpp: XChaCha20-Poly1305) and sealed again
// here, under a random key that belongs to this process alone and is never stored. The request
// path then opens the cached copy with AES-256-GCM, which the CPU's AES instructions make cheap:
// 1.5k instructions for a 56-byte key, against 4.7k for XChaCha20-Poly1305 (callgrind).
// Without AES instructions it is ChaCha20-Poly1305 (IETF, 3.6k: no HChaCha20 subkey per call).
//
// Nothing is weaker than before: the cache held the master-sealed blob, and its key sat in
// this process's memory just as the cache key does. Nonces are a counter, so two seals under
// one key never share one, however many times the cache refills.
// Thread-safe: open() only reads; seal() takes its nonce from an atomic counter.

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "keystore/seal_context.hpp"
#include "keystore/secret.hpp"
#include "schema/error.hpp"

namespace keygate {

struct CacheSealed {
  std::vector<unsigned char> ciphertext;  // includes the 16-byte tag
  std::array<unsigned char, 12> nonce{};
};

class CacheSealer {
 public:
  enum class Cipher { aes256gcm, chacha20poly1305 };

  // A fresh random key. Call crypto_init() first. `cipher` forces one (tests); by default
  // AES-256-GCM where the CPU has AES instructions.
  CacheSealer();
  explicit CacheSealer(Cipher cipher);
  ~CacheSealer();
  CacheSealer(const CacheSealer&) = delete;
  CacheSealer& operator=(const CacheSealer&) = delete;

  Cipher cipher() const { return cipher_; }

  CacheSealed seal(const SecretKey& plaintext, SealContextView context) const;
  // 500 if authentication fails (a cache entry opened for another row: our bug, never served).
  Result<SecretKey> open(const CacheSealed& sealed, SealContextView context) const;

 private:
  Cipher cipher_;
  SecretKey key_;
  // AES-256-GCM's expanded key, computed once (libsodium's "beforenm"). In sodium_malloc'd
  // memory like every secret here: locked, and wiped when freed. Null for ChaCha20-Poly1305.
  void* aes_state_ = nullptr;
  mutable std::atomic<uint64_t> next_nonce_{0};
};

}  // namespace keygate
