#include "keystore/sealer.hpp"

#include <sodium.h>

#include <string_view>

#include "keystore/master_key.hpp"

namespace keygate {

std::string associated_data(SealContextView context, int64_t master_key_version) {
  return std::string(AssociatedData(context, master_key_version).view());
}

Sealer::Sealer(const SecretKey& master_key, int64_t master_key_version)
    : key_(derive_subkey(master_key, Subkey::seal)), version_(master_key_version) {}

Sealed Sealer::seal(const SecretKey& plaintext, SealContextView context) const {
  Sealed out;
  out.master_key_version = version_;
  out.nonce.resize(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  randombytes_buf(out.nonce.data(), out.nonce.size());
  out.ciphertext.resize(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  const AssociatedData ad(context, version_);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.ciphertext.data(), &clen, plaintext.bytes().data(),
                                             plaintext.size(), ad.data(), ad.size(), nullptr,
                                             out.nonce.data(), key_.bytes().data());
  out.ciphertext.resize(clen);
  return out;
}

Result<SecretKey> Sealer::open(const Sealed& sealed, SealContextView context) const {
  if (sealed.master_key_version != version_) {
    return fail(Error::unavailable(
        "key " + std::string(context.key_id) + " is sealed under master key version " +
            std::to_string(sealed.master_key_version) + ", but version " +
            std::to_string(version_) + " is loaded (finish `keygate rotate-master-key`)",
        "master_key_version_mismatch"));
  }
  if (sealed.nonce.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
      sealed.ciphertext.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return fail(Error::internal("stored key " + std::string(context.key_id) + " is corrupt"));
  }
  // Decrypt into protected memory; on failure the buffer is wiped by SecretKey's destructor and
  // nothing is returned.
  SecretKey plain =
      SecretKey::zeroed(sealed.ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  const AssociatedData ad(context, version_);
  unsigned long long plen = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      plain.mutable_data(), &plen, nullptr, sealed.ciphertext.data(), sealed.ciphertext.size(),
      ad.data(), ad.size(), sealed.nonce.data(), key_.bytes().data());
  if (rc != 0) {
    return fail(Error::internal("stored key " + std::string(context.key_id) +
                                " failed authentication (tampered, moved, or wrong master key)"));
  }
  return plain;
}

}  // namespace keygate
