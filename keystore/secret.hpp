#pragma once
// SecretKey: the only type that holds a provider key, master key or subkey in plaintext. The
// bytes live in sodium_malloc'd memory (guard pages, mlock'd so they are not swapped out) and are
// zeroed by sodium_free when the object dies. It is move-only so a secret has one owner and one
// lifetime; expose() is meant for the moment a request header is built, nothing longer.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "schema/error.hpp"

namespace keygate {

class SecretKey {
 public:
  SecretKey() = default;
  // Copies `value` into protected memory. The caller remains responsible for its own copy.
  explicit SecretKey(std::string_view value);
  // Copies `source` into protected memory, then wipes `source` (and empties it).
  static SecretKey take(std::string& source);
  // `size` bytes from the system CSPRNG.
  static SecretKey random(size_t size);
  // `size` zero bytes, to be filled through mutable_data() (decryption, decoding).
  static SecretKey zeroed(size_t size);

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  std::string_view expose() const;
  std::span<const unsigned char> bytes() const { return {data_, size_}; }
  unsigned char* mutable_data() { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Shrinks the visible length (e.g. after decoding into an oversized buffer). The tail is wiped.
  void truncate(size_t size);

 private:
  void release();

  unsigned char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// libsodium must be initialised once before any other call here. Safe to call repeatedly.
Result<void> crypto_init();

// Keeps secrets out of core files and out of reach of ptrace by same-uid processes.
void disable_core_dumps();

}  // namespace keygate
