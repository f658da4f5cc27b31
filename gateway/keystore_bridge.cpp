#include "gateway/keystore_bridge.hpp"

#include <algorithm>
#include <cstdlib>

#include "gateway/log.hpp"

namespace keygate::gateway {

std::optional<SecretKey> key_from_environment(const providers::Provider& provider) {
  if (provider.env_var.empty()) {
    return std::nullopt;
  }
  const char* value = std::getenv(provider.env_var.c_str());
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return SecretKey(std::string_view(value));
}

awaitable<Result<Caller>> KeystoreAuthenticator::authenticate(std::string_view token) {
  // Fast path on this I/O thread: a recently verified token, from memory (no database).
  if (auto cached = keystore_.authenticate_cached(token)) {
    if (!*cached) {
      co_return fail(cached->error());
    }
    // The identity is this request's own copy: its strings move into the caller.
    Identity& identity = **cached;
    co_return Caller{std::move(identity.user_id), std::move(identity.user_name),
                     std::move(identity.token_id), identity.admin};
  }
  std::string copy(token);
  auto work = [this, &copy] {
    auto r = keystore_.authenticate(copy);
    std::fill(copy.begin(), copy.end(), '\0');  // the token never lingers in freed memory
    return r;
  };
  auto identity = co_await db_.run(work);
  if (!identity) {
    co_return fail(identity.error());
  }
  co_return Caller{std::move(identity->user_id), std::move(identity->user_name),
                   std::move(identity->token_id), identity->admin};
}

awaitable<Result<Credential>> KeystoreKeyResolver::resolve(const Caller& caller,
                                                           const providers::Provider& provider) {
  if (!provider.requires_key) {
    co_return Credential{std::nullopt, "none", {}};
  }
  // Fast path: the sealed row from memory, opened here (a microsecond of crypto, no I/O).
  auto cached = keystore_.resolve_cached(caller.user_id, provider.id);
  auto work = [&] { return keystore_.resolve(caller.user_id, provider.id); };
  if (!cached) {
    cached.emplace(co_await db_.run(work));
  }
  auto& resolved = *cached;
  if (!resolved) {
    co_return fail(resolved.error());
  }
  if (*resolved) {
    auto& key = **resolved;
    co_return Credential{std::move(key.secret), std::move(key.source), std::move(key.key_id)};
  }
  if (auto env = key_from_environment(provider)) {
    co_return Credential{std::move(env), "env", {}};
  }
  co_return fail(Error::provider_key_missing(provider.id));
}

void KeystoreKeyResolver::key_rejected(const Credential& credential, int status) {
  if (credential.source != "user" || credential.key_id.empty()) {
    return;
  }
  // Fire and forget on the database pool: the request's answer does not wait for it.
  net::post(db_.executor(), [this, id = credential.key_id, status] {
    auto r =
        keystore_.set_key_status(id, "error", std::nullopt,
                                 "upstream refused the key (HTTP " + std::to_string(status) + ")");
    if (!r) {
      log_event("warn", "could not mark key as error", ",\"key_id\":\"" + id + "\"");
    }
  });
}

}  // namespace keygate::gateway
