#pragma once
// The master key: 32 random bytes that never touch the database. Everything secret in the
// database hangs off it through subkeys derived with crypto_kdf (context "keygate_"):
//   1 seal        - XChaCha20-Poly1305 key for provider keys and the token pepper
//   2 token hash  - derived from the token *pepper*, not the master key, see keystore.hpp
//   3 check value - keys a BLAKE2b MAC of a fixed string stored in meta, so opening a database
//                   with the wrong master key is detected instead of yielding garbage.

#include <cstdint>
#include <string>
#include <string_view>

#include "keystore/secret.hpp"
#include "schema/error.hpp"

namespace keygate {

inline constexpr size_t kMasterKeyBytes = 32;
inline constexpr const char* kMasterKeyEnv = "KEYGATE_MASTER_KEY";

struct MasterKeySource {
  std::string data_dir;  // DATA/master.key is the last resort
  std::string key_file;  // --master-key-file, empty if not given
};

struct MasterKeyMaterial {
  SecretKey key;       // exactly kMasterKeyBytes
  std::string origin;  // "environment" or the file path, for messages (never the key)
};

enum class Subkey : uint64_t { seal = 1, token_hash = 2, check = 3 };

// env KEYGATE_MASTER_KEY > source.key_file > source.data_dir/master.key. A key file readable by
// group or others is refused (chmod 600 fixes it). No key anywhere: 503 master_key_missing.
Result<MasterKeyMaterial> load_master_key(const MasterKeySource& source);

// Reads one key file (base64 of 32 bytes, surrounding whitespace allowed), checking its mode.
Result<MasterKeyMaterial> read_master_key_file(const std::string& path);

// Decodes base64 of exactly 32 bytes.
Result<MasterKeyMaterial> master_key_from_base64(std::string_view base64, std::string origin);

// Writes a fresh random key as base64 to `path`, mode 0600, failing if the file exists
// (O_EXCL: never overwrite a key that may still protect a database).
Result<void> create_master_key_file(const std::string& path);

// A fresh random key in memory (tests, and `init` before writing it out).
MasterKeyMaterial generate_master_key();

// 32-byte subkey of `parent` (a master key or the token pepper).
SecretKey derive_subkey(const SecretKey& parent, Subkey id);

// Hex of BLAKE2b-256("keygate master key check v1") keyed with subkey 3. Not secret.
std::string master_key_check_value(const SecretKey& master_key);

}  // namespace keygate
