#pragma once
// The one error type of keygate. Every fallible function returns std::expected<T, Error>; the
// error knows the HTTP status it maps to and whether retrying (or falling back) can help.

#include <expected>
#include <string>
#include <string_view>

namespace keygate {

struct Error {
  int status = 500;          // HTTP status the client sees
  std::string type;          // OpenAI error "type", e.g. invalid_request_error
  std::string code;          // machine-readable code, e.g. model_not_found
  std::string message;       // human-readable, never contains a secret
  std::string param;         // offending request field, empty if none
  bool retryable = false;    // true: another attempt or a fallback provider may succeed

  // Body in OpenAI's error shape: {"error":{"message","type","param","code"}}.
  std::string to_json() const;

  // Constructors for the classes of failure we use. Keep the list short.
  static Error invalid_request(std::string message, std::string param = {},
                               std::string code = "invalid_request");
  static Error unauthorized(std::string message, std::string code = "invalid_api_key");
  static Error forbidden(std::string message);
  static Error not_found(std::string message, std::string code = "not_found");
  static Error conflict(std::string message);
  static Error payload_too_large(std::string message);
  static Error rate_limited(std::string message, std::string code = "rate_limit_exceeded");
  static Error provider_key_missing(std::string_view provider);
  static Error unavailable(std::string message, std::string code = "service_unavailable");
  static Error upstream_unreachable(std::string message);  // 502, retryable
  static Error upstream_timeout(std::string message);      // 504, retryable
  static Error upstream_status(int status, std::string message, std::string type = {},
                               std::string code = {});     // upstream 4xx/5xx passed on
  static Error internal(std::string message);
};

template <class T>
using Result = std::expected<T, Error>;

// Shorthand for returning an error from a function that returns Result<T>.
inline std::unexpected<Error> fail(Error e) { return std::unexpected<Error>(std::move(e)); }

}  // namespace keygate
