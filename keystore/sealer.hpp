#pragma once
// Encryption at rest for provider keys (and the token pepper): XChaCha20-Poly1305 with a fresh
// random 24-byte nonce per seal (random nonces are safe at this size). The associated data binds
// a ciphertext to its row:
//     "keygate:v1|" + key_id + "|" + owner ("system" or the user id) + "|" + provider + "|" +
//     version
// so a ciphertext copied into another row, another owner, another provider or relabelled with
// another master key version fails authentication. open() fails closed: it returns an error and
// never partial plaintext.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "keystore/seal_context.hpp"
#include "keystore/secret.hpp"
#include "schema/error.hpp"

namespace keygate {

struct Sealed {
  std::vector<unsigned char> ciphertext;  // includes the 16-byte tag
  std::vector<unsigned char> nonce;       // 24 bytes
  int64_t master_key_version = 0;
};

class Sealer {
 public:
  // `master_key` is the master key itself; the seal subkey (id 1) is derived here.
  Sealer(const SecretKey& master_key, int64_t master_key_version);

  int64_t version() const { return version_; }

  Sealed seal(const SecretKey& plaintext, SealContextView context) const;

  // 503 if `sealed` is at another master key version; 500 if authentication fails (tampered,
  // moved to another row, or wrong key).
  Result<SecretKey> open(const Sealed& sealed, SealContextView context) const;

 private:
  SecretKey key_;
  int64_t version_;
};

std::string associated_data(SealContextView context, int64_t master_key_version);

}  // namespace keygate
