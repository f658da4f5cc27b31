#pragma once
// Another API in front of the chat pipeline (Anthropic's Messages: messages_api.cpp; OpenAI's
// Responses: responses_api.cpp). The pipeline runs as for a chat completion, behind an exchange
// that writes every answer it gives (the whole answer, stream events, errors) in the client's
// API, through that API's ClientDialect.

#include <functional>
#include <string>
#include <string_view>

#include "gateway/http_exchange.hpp"

namespace keygate::gateway {

// Runs the chat pipeline for `exchange` with `chat_body` (an OpenAI chat request) as the request.
using ChatPipeline =
    std::function<awaitable<void>(HttpExchange& exchange, const std::string& chat_body)>;

// How one client API writes what the chat pipeline answers (providers/*_inbound.hpp hold the
// transforms).
class ClientDialect {
 public:
  virtual ~ClientDialect() = default;
  // A whole 2xx answer, a chat.completion, in the client's format.
  virtual Result<std::string> answer(std::string_view chat_completion) = 0;
  // An error answered before any stream began.
  virtual std::string error_body(const Error& error) const = 0;
  // The OpenAI stream bytes the pipeline writes, as the client's events (appended to `out`).
  virtual Result<void> feed(std::string_view openai_bytes, std::string& out) = 0;
  // The event that ends a failed stream, appended to `out` (nothing once the stream has ended).
  virtual void fail_stream(const Error& error, std::string& out) = 0;
  // True once the stream's last event went out.
  virtual bool finished() const = 0;
  // The client speaks Claude's API: Claude's answers may reach it as Claude sent them.
  virtual bool speaks_anthropic() const { return false; }
};

// The chat pipeline's view of another API's request: the same connection, caller and request,
// with answers written through `dialect`. The pipeline writes the access-log fields and response
// headers into this object; they are handed to the connection before anything goes out, and
// when the request ends.
class TranslatingExchange final : public HttpExchange {
 public:
  // `chat_body`: the translated request, freed once a stream starts (no fallback can follow
  // then, and the pipeline has parsed it already): a long conversation is hundreds of KB.
  // `translate_answers` false: a 2xx answer goes out as it is (Anthropic's count_tokens writes
  // its own shape); errors still go through the dialect.
  TranslatingExchange(HttpExchange& inner, std::string& chat_body, ClientDialect& dialect,
                      bool translate_answers = true);
  ~TranslatingExchange() override;

  const Request& request() const override { return inner_.request(); }
  const std::string& remote_address() const override { return inner_.remote_address(); }
  std::string_view param(std::string_view name) const override { return inner_.param(name); }
  std::string_view query(std::string_view name) const override { return inner_.query(name); }
  bool has_query(std::string_view name) const override { return inner_.has_query(name); }

  awaitable<bool> reply(http::status status, std::string_view body,
                        std::string_view content_type) override;
  awaitable<bool> reply_error(const Error& error) override;
  awaitable<bool> reply_empty(http::status status) override;
  awaitable<bool> start_stream(http::status status) override;
  awaitable<bool> write_stream(std::string_view bytes) override;
  awaitable<void> end_stream(std::string_view last_bytes) override;

  bool stream_started() const override { return inner_.stream_started(); }
  void on_client_gone(std::function<void()> callback) override {
    inner_.on_client_gone(std::move(callback));
  }
  bool client_gone() const override { return inner_.client_gone(); }
  bool speaks_anthropic() const override {
    return translate_answers_ && dialect_.speaks_anthropic();
  }

 private:
  void fail_stream(const Error& error);
  // What the pipeline set for the access log and the response's headers goes to the connection.
  void hand_over();

  HttpExchange& inner_;
  std::string& chat_body_;
  ClientDialect& dialect_;
  bool translate_answers_;
  bool failed_ = false;  // the stream's error event went out: nothing more does
  std::string events_;   // the translated events of one write
};

}  // namespace keygate::gateway
