#pragma once
// The meta table: small named values (master key version and check value, the sealed token
// pepper, rotation progress). Values are bytes; text and integers are stored as text.

#include <optional>
#include <string>
#include <string_view>

#include "keystore/database.hpp"

namespace keygate::meta {

inline constexpr std::string_view kMasterKeyVersion = "master_key_version";
inline constexpr std::string_view kMasterKeyCheck = "master_key_check";
inline constexpr std::string_view kTokenPepper = "token_pepper";  // nonce || ciphertext
inline constexpr std::string_view kRotationVersion = "rotation_target_version";
inline constexpr std::string_view kRotationCheck = "rotation_target_check";

Result<std::optional<db::Blob>> get(db::Database& db, std::string_view key);
Result<std::optional<std::string>> get_text(db::Database& db, std::string_view key);
Result<std::optional<int64_t>> get_int(db::Database& db, std::string_view key);
Result<void> put(db::Database& db, std::string_view key, std::span<const unsigned char> value);
Result<void> put_text(db::Database& db, std::string_view key, std::string_view value);
Result<void> erase(db::Database& db, std::string_view key);

}  // namespace keygate::meta
