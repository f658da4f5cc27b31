#pragma once
// Which provider key a request uses: the caller's own key (BYOK), else the operator's system key
// (keystore, then the provider's documented environment variable), else a clear error.

#include <optional>
#include <string>

#include "gateway/asio_fwd.hpp"
#include "gateway/http_exchange.hpp"
#include "keystore/secret.hpp"
#include "providers/catalog.hpp"

namespace keygate::gateway {

struct Credential {
  std::optional<SecretKey> secret;  // empty for providers that need no key (local ollama)
  std::string source;               // "user" | "system" | "env" | "none"
  std::string key_id;               // keystore id, empty for env/none
};

class KeyResolver {
 public:
  virtual ~KeyResolver() = default;
  // The credential when it is known without I/O (the key cache), else nullopt: then resolve()
  // looks it up. Synchronous for the same reason as Authenticator::authenticate_cached.
  virtual std::optional<Result<Credential>> resolve_cached(
      const Caller& /*caller*/, const providers::Provider& /*provider*/) {
    return std::nullopt;
  }
  virtual awaitable<Result<Credential>> resolve(const Caller& caller,
                                                const providers::Provider& provider) = 0;
  // The upstream refused the key (401/403): a personal key is marked "error".
  virtual void key_rejected(const Credential& credential, int status) = 0;
};

// The environment-variable step, shared by resolvers. Reads the variable at call time.
std::optional<SecretKey> key_from_environment(const providers::Provider& provider);

}  // namespace keygate::gateway
