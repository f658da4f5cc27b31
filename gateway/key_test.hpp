#pragma once
// The upstream half of "test this key": one cheap authenticated call (the adapter's key test
// request, e.g. GET /models) and what its answer says about the key. Shared by
// POST /v1/keys/{id}/test and `keygate keys test`; storing the result is the caller's job.

#include <optional>
#include <string>

#include "gateway/upstream_client.hpp"
#include "keystore/secret.hpp"
#include "keystore/store.hpp"
#include "providers/catalog.hpp"

namespace keygate::gateway {

struct KeyTestResult {
  bool ok = false;          // the upstream accepted the key (2xx)
  int upstream_status = 0;  // 0: no answer (unreachable, timeout)
  std::string message;      // for people; scrubbed of any echo of the key
  // The key's new stored status: "active" (2xx) or "error" (401/403). nullopt: the answer says
  // nothing about the key (5xx, 429, unreachable), so its status stays as it was.
  std::optional<std::string> new_status;
  std::optional<std::string> last_error;  // set with new_status == "error"
};

// Sends the test request with `secret`, which is wiped when this returns. Never throws; never
// logs the key.
awaitable<KeyTestResult> run_key_test(UpstreamClient& upstream, const providers::Provider& provider,
                                      SecretKey secret);

// The stored status a test leaves on `key`. A working key that was marked "error" is active again;
// a key its owner deactivated (or that was revoked) keeps that status whatever the test says, so
// a test never undoes an owner's decision.
std::string status_after_test(const KeyRecord& key, const KeyTestResult& result);
// Its last_error: cleared by a success, set by a refusal, kept by an inconclusive test.
std::optional<std::string> last_error_after_test(const KeyRecord& key, const KeyTestResult& result);

}  // namespace keygate::gateway
