#include "keystore/master_key.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace keygate {

namespace {

constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "keygate_";
constexpr std::string_view kCheckInput = "keygate master key check v1";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

Error errno_error(const std::string& what, const std::string& path) {
  return Error::unavailable(what + " " + path + ": " + std::strerror(errno),
                            "master_key_unreadable");
}

}  // namespace

Result<MasterKeyMaterial> master_key_from_base64(std::string_view base64, std::string origin) {
  base64 = trim(base64);
  // Decode straight into protected memory; one spare byte detects input longer than 32 bytes.
  SecretKey key = SecretKey::zeroed(kMasterKeyBytes + 1);
  size_t len = 0;
  int rc = sodium_base642bin(key.mutable_data(), key.size(), base64.data(), base64.size(), nullptr,
                             &len, nullptr, sodium_base64_VARIANT_ORIGINAL);
  if (rc != 0 || len != kMasterKeyBytes) {
    return fail(Error::unavailable(
        "master key from " + origin + " is not base64 of exactly 32 bytes", "master_key_invalid"));
  }
  key.truncate(kMasterKeyBytes);
  return MasterKeyMaterial{std::move(key), std::move(origin)};
}

Result<MasterKeyMaterial> read_master_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return fail(errno_error("cannot open master key file", path));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    return fail(errno_error("cannot stat master key file", path));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(Error::unavailable("master key file " + path + " has mode " + mode +
                                       " and is readable by group or others; run: chmod 600 " +
                                       path,
                                   "master_key_insecure"));
  }
  // A key file is ~45 bytes; read a bounded amount into protected memory.
  SecretKey buf = SecretKey::zeroed(256);
  ssize_t n = ::read(fd, buf.mutable_data(), buf.size());
  ::close(fd);
  if (n < 0) {
    return fail(errno_error("cannot read master key file", path));
  }
  buf.truncate(static_cast<size_t>(n));
  return master_key_from_base64(buf.expose(), path);
}

Result<MasterKeyMaterial> load_master_key(const MasterKeySource& source) {
  if (const char* env = std::getenv(kMasterKeyEnv); env != nullptr && *env != '\0') {
    return master_key_from_base64(env, std::string("environment variable ") + kMasterKeyEnv);
  }
  if (!source.key_file.empty()) {
    return read_master_key_file(source.key_file);
  }
  std::string path = (source.data_dir.empty() ? std::string(".") : source.data_dir) + "/master.key";
  if (::access(path.c_str(), F_OK) != 0) {
    return fail(
        Error::unavailable("no master key: set " + std::string(kMasterKeyEnv) +
                               ", pass --master-key-file, or run `keygate init` to create " + path,
                           "master_key_missing"));
  }
  return read_master_key_file(path);
}

MasterKeyMaterial generate_master_key() {
  return MasterKeyMaterial{SecretKey::random(kMasterKeyBytes), "generated"};
}

Result<void> create_master_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(errno_error("cannot create master key file", path));
  }
  MasterKeyMaterial m = generate_master_key();
  constexpr size_t kLen =
      sodium_base64_ENCODED_LEN(kMasterKeyBytes, sodium_base64_VARIANT_ORIGINAL);
  SecretKey text = SecretKey::zeroed(kLen + 1);
  sodium_bin2base64(reinterpret_cast<char*>(text.mutable_data()), kLen, m.key.bytes().data(),
                    m.key.size(), sodium_base64_VARIANT_ORIGINAL);
  text.truncate(kLen);                   // drop the terminator position
  text.mutable_data()[kLen - 1] = '\n';  // replace the NUL that sodium wrote with a newline
  bool ok = ::write(fd, text.bytes().data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());  // never leave a truncated key behind
    errno = saved;
    return fail(errno_error("cannot write master key file", path));
  }
  return {};
}

SecretKey derive_subkey(const SecretKey& parent, Subkey id) {
  SecretKey out = SecretKey::zeroed(crypto_kdf_KEYBYTES);
  crypto_kdf_derive_from_key(out.mutable_data(), out.size(), static_cast<uint64_t>(id), kKdfContext,
                             parent.bytes().data());
  return out;
}

std::string master_key_check_value(const SecretKey& master_key) {
  SecretKey subkey = derive_subkey(master_key, Subkey::check);
  unsigned char mac[32];
  crypto_generichash(mac, sizeof(mac), reinterpret_cast<const unsigned char*>(kCheckInput.data()),
                     kCheckInput.size(), subkey.bytes().data(), subkey.size());
  char hex[sizeof(mac) * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
  return hex;
}

}  // namespace keygate
