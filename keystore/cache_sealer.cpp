#include "keystore/cache_sealer.hpp"

#include <sodium.h>

#include <cstring>
#include <new>

namespace keygate {

namespace {

static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12);
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);
static_assert(crypto_aead_aes256gcm_ABYTES == 16 && crypto_aead_chacha20poly1305_ietf_ABYTES == 16);
static_assert(crypto_aead_aes256gcm_KEYBYTES == 32 &&
              crypto_aead_chacha20poly1305_ietf_KEYBYTES == 32);

constexpr std::size_t kTagBytes = 16;

CacheSealer::Cipher preferred_cipher() {
  (void)crypto_init();  // the CPU feature check needs libsodium initialised; idempotent
  return crypto_aead_aes256gcm_is_available() != 0 ? CacheSealer::Cipher::aes256gcm
                                                   : CacheSealer::Cipher::chacha20poly1305;
}

}  // namespace

CacheSealer::CacheSealer() : CacheSealer(preferred_cipher()) {}

CacheSealer::CacheSealer(Cipher cipher)
    : cipher_(cipher), key_(SecretKey::random(crypto_aead_aes256gcm_KEYBYTES)) {
  if (cipher_ == Cipher::aes256gcm) {
    (void)crypto_init();
    if (crypto_aead_aes256gcm_is_available() == 0) {
      cipher_ = Cipher::chacha20poly1305;  // asked for, but this CPU cannot
      return;
    }
    // sodium_malloc puts the end of the block at a guard page; a size that is a multiple of 16
    // leaves its start 16-byte aligned, as the state requires.
    static_assert(sizeof(crypto_aead_aes256gcm_state) % 16 == 0);
    aes_state_ = sodium_malloc(sizeof(crypto_aead_aes256gcm_state));
    if (aes_state_ == nullptr) {
      throw std::bad_alloc();
    }
    crypto_aead_aes256gcm_beforenm(static_cast<crypto_aead_aes256gcm_state*>(aes_state_),
                                   key_.bytes().data());
  }
}

CacheSealer::~CacheSealer() {
  sodium_free(aes_state_);  // wipes it; null is fine
}

CacheSealed CacheSealer::seal(const SecretKey& plaintext, SealContextView context) const {
  CacheSealed out;
  // 8 bytes of counter, 4 zero bytes: unique for this key, which no other process has.
  const uint64_t n = next_nonce_.fetch_add(1, std::memory_order_relaxed);
  std::memcpy(out.nonce.data(), &n, sizeof n);
  out.ciphertext.resize(plaintext.size() + kTagBytes);
  const AssociatedData ad(context, 0);
  unsigned long long clen = 0;
  if (cipher_ == Cipher::aes256gcm) {
    crypto_aead_aes256gcm_encrypt_afternm(
        out.ciphertext.data(), &clen, plaintext.bytes().data(), plaintext.size(), ad.data(),
        ad.size(), nullptr, out.nonce.data(),
        static_cast<const crypto_aead_aes256gcm_state*>(aes_state_));
  } else {
    crypto_aead_chacha20poly1305_ietf_encrypt(
        out.ciphertext.data(), &clen, plaintext.bytes().data(), plaintext.size(), ad.data(),
        ad.size(), nullptr, out.nonce.data(), key_.bytes().data());
  }
  out.ciphertext.resize(clen);
  return out;
}

Result<SecretKey> CacheSealer::open(const CacheSealed& sealed, SealContextView context) const {
  if (sealed.ciphertext.size() < kTagBytes) {
    return fail(Error::internal("cached key " + std::string(context.key_id) + " is corrupt"));
  }
  SecretKey plain = SecretKey::zeroed(sealed.ciphertext.size() - kTagBytes);
  const AssociatedData ad(context, 0);
  unsigned long long plen = 0;
  int rc = 0;
  if (cipher_ == Cipher::aes256gcm) {
    rc = crypto_aead_aes256gcm_decrypt_afternm(
        plain.mutable_data(), &plen, nullptr, sealed.ciphertext.data(), sealed.ciphertext.size(),
        ad.data(), ad.size(), sealed.nonce.data(),
        static_cast<const crypto_aead_aes256gcm_state*>(aes_state_));
  } else {
    rc = crypto_aead_chacha20poly1305_ietf_decrypt(
        plain.mutable_data(), &plen, nullptr, sealed.ciphertext.data(), sealed.ciphertext.size(),
        ad.data(), ad.size(), sealed.nonce.data(), key_.bytes().data());
  }
  if (rc != 0) {
    return fail(
        Error::internal("cached key " + std::string(context.key_id) + " failed authentication"));
  }
  return plain;
}

}  // namespace keygate
