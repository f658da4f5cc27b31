#pragma once
// The token pepper: 32 random bytes, stored sealed in meta, from which the token-hash subkey is
// derived. Sealing it (instead of hashing tokens with a master-key subkey) lets the master key
// rotate without invalidating every token.

#include <vector>

#include "keystore/sealer.hpp"

namespace keygate {

// nonce || ciphertext, bound to the sealer's master key version.
std::vector<unsigned char> seal_pepper(const Sealer& sealer, const SecretKey& pepper);
Result<SecretKey> open_pepper(const Sealer& sealer, const std::vector<unsigned char>& stored);

}  // namespace keygate
