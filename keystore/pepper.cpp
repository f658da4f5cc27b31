#include "keystore/pepper.hpp"

#include <sodium.h>

namespace keygate {

namespace {
SealContext pepper_context() {
  return {"token_pepper", "system", "keygate"};
}
}  // namespace

std::vector<unsigned char> seal_pepper(const Sealer& sealer, const SecretKey& pepper) {
  Sealed s = sealer.seal(pepper, pepper_context());
  std::vector<unsigned char> out = s.nonce;
  out.insert(out.end(), s.ciphertext.begin(), s.ciphertext.end());
  return out;
}

Result<SecretKey> open_pepper(const Sealer& sealer, const std::vector<unsigned char>& stored) {
  constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  if (stored.size() <= kNonce) {
    return fail(Error::internal("stored token pepper is corrupt"));
  }
  Sealed s;
  s.nonce.assign(stored.begin(), stored.begin() + kNonce);
  s.ciphertext.assign(stored.begin() + kNonce, stored.end());
  s.master_key_version = sealer.version();
  return sealer.open(s, pepper_context());
}

}  // namespace keygate
