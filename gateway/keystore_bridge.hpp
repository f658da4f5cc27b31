#pragma once
// The keystore seen from the request path: token authentication and key resolution, each run on
// the database thread pool so that SQLite never blocks an I/O thread.

#include "gateway/db_executor.hpp"
#include "gateway/key_resolver.hpp"
#include "gateway/server.hpp"
#include "gateway/spend_limits.hpp"
#include "keystore/keystore.hpp"

namespace keygate::gateway {

class KeystoreAuthenticator final : public Authenticator {
 public:
  KeystoreAuthenticator(Keystore& keystore, DbExecutor& db) : keystore_(keystore), db_(db) {}
  std::optional<Result<Caller>> authenticate_cached(std::string_view token) override;
  awaitable<Result<Caller>> authenticate(std::string_view token) override;

 private:
  Keystore& keystore_;
  DbExecutor& db_;
};

// The operator's keys (system keys, the providers' environment variables) only while the caller's
// budget on them lasts (`limits`; null: no budgets).
class KeystoreKeyResolver final : public KeyResolver {
 public:
  KeystoreKeyResolver(Keystore& keystore, DbExecutor& db, SpendLimits* limits = nullptr)
      : keystore_(keystore), db_(db), limits_(limits) {}
  std::optional<Result<Credential>> resolve_cached(const Caller& caller,
                                                   const providers::Provider& provider) override;
  awaitable<Result<Credential>> resolve(const Caller& caller,
                                        const providers::Provider& provider) override;
  void key_rejected(const Credential& credential, int status) override;

 private:
  Result<Credential> within_budget(Result<Credential> credential, const Caller& caller,
                                   const providers::Provider& provider);

  Keystore& keystore_;
  DbExecutor& db_;
  SpendLimits* limits_;
};

}  // namespace keygate::gateway
