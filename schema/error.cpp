#include "schema/error.hpp"

#include "schema/json.hpp"

namespace keygate {

std::string Error::to_json() const {
  JsonWriter w;
  w.start_object();
  w.key("error");
  w.start_object();
  w.field("message", message);
  w.field("type", type);
  w.key("param");
  if (param.empty()) {
    w.null();
  } else {
    w.string(param);
  }
  w.key("code");
  if (code.empty()) {
    w.null();
  } else {
    w.string(code);
  }
  w.end_object();
  w.end_object();
  return w.take();
}

Error Error::invalid_request(std::string message, std::string param, std::string code) {
  return {400, "invalid_request_error", std::move(code), std::move(message), std::move(param), false};
}
Error Error::unauthorized(std::string message, std::string code) {
  return {401, "authentication_error", std::move(code), std::move(message), {}, false};
}
Error Error::forbidden(std::string message) {
  return {403, "permission_error", "forbidden", std::move(message), {}, false};
}
Error Error::not_found(std::string message, std::string code) {
  return {404, "not_found_error", std::move(code), std::move(message), {}, false};
}
Error Error::conflict(std::string message) {
  return {409, "invalid_request_error", "conflict", std::move(message), {}, false};
}
Error Error::payload_too_large(std::string message) {
  return {413, "invalid_request_error", "payload_too_large", std::move(message), {}, false};
}
Error Error::rate_limited(std::string message, std::string code) {
  return {429, "rate_limit_error", std::move(code), std::move(message), {}, true};
}
Error Error::provider_key_missing(std::string_view provider) {
  std::string p(provider);
  return {400, "invalid_request_error", "provider_key_missing",
          "No API key for provider '" + p + "'. Add your own with POST /v1/keys {\"provider\": \"" +
              p + "\", \"api_key\": \"...\"}, or ask an operator to add a system key.",
          {}, false};
}
Error Error::unavailable(std::string message, std::string code) {
  return {503, "server_error", std::move(code), std::move(message), {}, true};
}
Error Error::upstream_unreachable(std::string message) {
  return {502, "upstream_error", "upstream_unreachable", std::move(message), {}, true};
}
Error Error::upstream_timeout(std::string message) {
  return {504, "upstream_error", "upstream_timeout", std::move(message), {}, true};
}
Error Error::upstream_status(int status, std::string message, std::string type, std::string code) {
  if (type.empty()) {
    type = status >= 500 ? "upstream_error" : "invalid_request_error";
  }
  if (code.empty()) {
    code = "upstream_" + std::to_string(status);
  }
  // 429 and 5xx may succeed on another attempt or another provider; other 4xx will not.
  bool retryable = status == 429 || status >= 500;
  return {status, std::move(type), std::move(code), std::move(message), {}, retryable};
}
Error Error::internal(std::string message) {
  return {500, "server_error", "internal_error", std::move(message), {}, false};
}

}  // namespace keygate
