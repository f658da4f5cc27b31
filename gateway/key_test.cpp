#include "gateway/key_test.hpp"

#include <algorithm>

#include "gateway/scrub.hpp"

namespace keygate::gateway {

awaitable<KeyTestResult> run_key_test(UpstreamClient& upstream, const providers::Provider& provider,
                                      SecretKey secret) {
  KeyTestResult result;
  auto target = parse_base_url(provider.base_url);
  if (!target) {
    result.message = "The provider's base URL is invalid: " + target.error().message;
    co_return result;
  }
  const providers::UpstreamRequest built = provider.adapter->build_key_test_request();
  UpstreamRequestMessage msg(built.method, target->base_path + built.path);
  for (const auto& [name, value] : built.headers) {
    msg.set(name, value);
  }
  // Straight from one wiping buffer into the request's wiping head, as upstream_call does.
  if (!msg.set(provider.auth.header, provider.auth.prefix, secret.expose())) {
    result.message = "The key holds a control character (a line break?) and cannot be sent.";
    co_return result;
  }
  msg.set("Accept", "application/json");
  msg.set("User-Agent", "keygate/0.1");
  if (!built.body.empty()) {
    msg.set("Content-Type", "application/json");
    msg.body() = built.body;
  }

  // The call is built outside the co_await: its by-value std::function argument is a class
  // temporary (see the g++ 12 rule in http_exchange.hpp).
  auto sending = upstream.send(*target, msg);
  auto response = co_await std::move(sending);
  if (!response) {
    result.message = scrub_secret(response.error().message, secret.expose());
    co_return result;
  }
  result.upstream_status = (*response)->status();
  // Read the body either way: a drained connection goes back to the pool.
  auto body = co_await (*response)->read_all();
  if (result.upstream_status >= 200 && result.upstream_status < 300) {
    result.ok = true;
    result.new_status = "active";
    result.message = "The key works.";
    co_return result;
  }
  const Error error = body ? provider.adapter->translate_error(result.upstream_status, *body)
                           : Error::upstream_status(result.upstream_status, "Upstream error.");
  const std::string upstream_message = scrub_secret(error.message, secret.expose());
  const std::string status_text = std::to_string(result.upstream_status);
  if (result.upstream_status == 401 || result.upstream_status == 403) {
    result.new_status = "error";
    result.last_error = "upstream refused the key (HTTP " + status_text + ")";
    result.message = "The provider refused the key (HTTP " + status_text + "): " + upstream_message;
  } else {
    result.message = "The test was inconclusive (HTTP " + status_text + "): " + upstream_message;
  }
  co_return result;
}

std::string status_after_test(const KeyRecord& key, const KeyTestResult& result) {
  if (!result.new_status || key.status == "inactive" || key.status == "revoked") {
    return key.status;
  }
  return *result.new_status;
}

std::optional<std::string> last_error_after_test(const KeyRecord& key,
                                                 const KeyTestResult& result) {
  if (result.ok) {
    return std::nullopt;
  }
  return result.last_error ? result.last_error : key.last_error;
}

}  // namespace keygate::gateway
