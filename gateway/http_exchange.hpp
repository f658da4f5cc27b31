#pragma once
// What a route handler sees of one HTTP request: the request, the caller, and ways to answer —
// a whole response, or a server-sent-event stream written piece by piece. Implemented by the
// connection (gateway/http_session.cpp); handlers never touch the socket.

#include <concepts>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/asio_fwd.hpp"
#include "gateway/client_request.hpp"
#include "schema/error.hpp"

namespace keygate::gateway {

using Request = ClientRequest;

// The authenticated caller (empty for open routes).
struct Caller {
  std::string user_id;
  std::string user_name;
  std::string token_id;
  bool admin = false;
};

// Fields that end up in the request's access-log line and usage row.
struct RequestLog {
  std::string request_id;
  std::string upstream;  // provider id that served it, if any
  std::string model;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration upstream_time{};  // time spent waiting on the upstream
};

class HttpExchange {
 public:
  virtual ~HttpExchange() = default;

  virtual const Request& request() const = 0;
  virtual const std::string& remote_address() const = 0;
  // Path parameters from the route pattern ("/v1/keys/{id}" → param("id")).
  virtual std::string_view param(std::string_view name) const = 0;
  virtual std::string_view query(std::string_view name) const = 0;
  virtual bool has_query(std::string_view name) const = 0;

  Caller caller;
  RequestLog log;
  // Extra response headers added to whatever the handler sends (x-request-id, ...).
  std::vector<std::pair<std::string, std::string>> response_headers;

  // A whole response. Returns false when the client is gone.
  //
  // Why string_view and const&, with the rvalue overloads deleted: g++ 12 mis-destroys
  // temporaries of class type inside a co_await expression (twice, or when their branch never
  // ran). Callers name their strings and errors first; the compiler enforces it.
  virtual awaitable<bool> reply(http::status status, std::string_view body,
                                std::string_view content_type = "application/json") = 0;
  template <class S>
  requires std::same_as<S, std::string> awaitable<bool> reply(http::status, S&&,
                                                              std::string_view = {})
  = delete;
  virtual awaitable<bool> reply_error(const Error& error) = 0;
  awaitable<bool> reply_error(Error&&) = delete;
  // 204 and similar: no body.
  virtual awaitable<bool> reply_empty(http::status status) = 0;

  // Server-sent events (chunked). start_stream() fixes the status and SSE headers; they go out
  // with the first bytes written, and the last bytes go out with the end of the body: a short
  // stream is one write, not three (each write on loopback costs a syscall and a wake-up).
  virtual awaitable<bool> start_stream(http::status status) = 0;
  virtual awaitable<bool> write_stream(std::string_view bytes) = 0;
  virtual awaitable<void> end_stream(std::string_view last_bytes) = 0;
  virtual bool stream_started() const = 0;

  // Called once, on the connection's strand, when the client disconnects while the handler is
  // still working (waiting on an upstream, streaming). The handler cancels its upstream call.
  virtual void on_client_gone(std::function<void()> callback) = 0;
  virtual bool client_gone() const = 0;
  // The client speaks Claude's API (POST /v1/messages): Claude's answers may reach it as Claude
  // sent them (providers/claude_native.hpp).
  virtual bool speaks_anthropic() const { return false; }
};

// Before an error goes out: the official SDKs (OpenAI's and Anthropic's) retry every 429 unless
// told otherwise, and a refusal that stands until the caller changes something (a spent budget)
// tells them so.
inline void add_retry_advice(HttpExchange& ex, const Error& error) {
  if (error.status == 429 && !error.retryable) {
    ex.response_headers.emplace_back("x-should-retry", "false");
  }
}

}  // namespace keygate::gateway
