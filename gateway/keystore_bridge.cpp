#include "gateway/keystore_bridge.hpp"

#include <algorithm>
#include <cstdlib>

#include "gateway/log.hpp"
#include "schema/time.hpp"

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

namespace {

Caller caller_of(Identity& identity) {
  // The identity is this request's own copy: its strings move into the caller.
  return Caller{std::move(identity.user_id), std::move(identity.user_name),
                std::move(identity.token_id), identity.admin};
}

// The keystore's answer for a caller and provider as the credential to use: the caller's or the
// operator's key, else the provider's environment variable, else an error.
Result<Credential> credential_from(Result<std::optional<ResolvedKey>>& resolved,
                                   const providers::Provider& provider) {
  if (!resolved) {
    return fail(resolved.error());
  }
  if (*resolved) {
    auto& key = **resolved;
    return Credential{std::move(key.secret), std::move(key.source), std::move(key.key_id)};
  }
  if (auto env = key_from_environment(provider)) {
    return Credential{std::move(env), "env", {}};
  }
  return fail(Error::provider_key_missing(provider.id));
}

}  // namespace

std::optional<Result<Caller>> KeystoreAuthenticator::authenticate_cached(std::string_view token) {
  // A recently verified token, from memory, on this I/O thread.
  auto cached = keystore_.authenticate_cached(token);
  if (!cached) {
    return std::nullopt;
  }
  if (!*cached) {
    return fail(cached->error());
  }
  return caller_of(**cached);
}

awaitable<Result<Caller>> KeystoreAuthenticator::authenticate(std::string_view token) {
  if (auto cached = authenticate_cached(token)) {
    co_return std::move(*cached);
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
  co_return caller_of(*identity);
}

std::optional<Result<Credential>> KeystoreKeyResolver::resolve_cached(
    const Caller& caller, const providers::Provider& provider) {
  if (!provider.requires_key) {
    return Credential{std::nullopt, "none", {}};
  }
  // The sealed row from memory, opened here (a microsecond of crypto, no I/O).
  auto cached = keystore_.resolve_cached(caller.user_id, provider.id);
  if (!cached) {
    return std::nullopt;
  }
  return within_budget(credential_from(*cached, provider), caller, provider);
}

Result<Credential> KeystoreKeyResolver::within_budget(Result<Credential> credential,
                                                      const Caller& caller,
                                                      const providers::Provider& provider) {
  if (limits_ == nullptr || !credential ||
      (credential->source != "system" && credential->source != "env")) {
    return credential;
  }
  if (auto refused = limits_->refuse(caller.user_id, provider.id, now_unix_ms())) {
    return fail(std::move(*refused));  // the operator's key is wiped as `credential` goes
  }
  return credential;
}

awaitable<Result<Credential>> KeystoreKeyResolver::resolve(const Caller& caller,
                                                           const providers::Provider& provider) {
  if (auto cached = resolve_cached(caller, provider)) {
    co_return std::move(*cached);
  }
  auto work = [&] { return keystore_.resolve(caller.user_id, provider.id); };
  auto resolved = co_await db_.run(work);
  co_return within_budget(credential_from(resolved, provider), caller, provider);
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
