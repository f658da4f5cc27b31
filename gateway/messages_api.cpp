#include "gateway/messages_api.hpp"

#include "providers/anthropic_inbound.hpp"

namespace keygate::gateway {

namespace {

// The chat pipeline's view of a Messages API request: the same connection, caller and request,
// with every answer translated to Anthropic's format on its way out. The pipeline writes the
// access-log fields and response headers into this object; they are handed to the connection
// before anything goes out, and when the request ends.
class AnthropicExchange final : public HttpExchange {
 public:
  // `openai_body`: the translated request, freed once a stream starts (no fallback can follow
  // then, and the pipeline has parsed it already): a long conversation is hundreds of KB.
  // `translate_answers` false: a 2xx answer goes out as it is (count_tokens writes Anthropic's
  // shape itself); errors are still Anthropic's.
  AnthropicExchange(HttpExchange& inner, std::string& openai_body, bool translate_answers = true)
      : inner_(inner), openai_body_(openai_body), translate_answers_(translate_answers) {
    caller = inner.caller;
    log = inner.log;
    response_headers = inner.response_headers;
  }
  ~AnthropicExchange() override { hand_over(); }

  const Request& request() const override { return inner_.request(); }
  const std::string& remote_address() const override { return inner_.remote_address(); }
  std::string_view param(std::string_view name) const override { return inner_.param(name); }
  std::string_view query(std::string_view name) const override { return inner_.query(name); }
  bool has_query(std::string_view name) const override { return inner_.has_query(name); }

  awaitable<bool> reply(http::status status, std::string_view body,
                        std::string_view content_type) override {
    hand_over();
    if (static_cast<unsigned>(status) / 100 != 2 || !translate_answers_) {
      // The pipeline answers errors through reply_error(); anything else is passed on as is.
      co_return co_await inner_.reply(status, body, content_type);
    }
    auto message = providers::to_anthropic_message(body);
    if (!message) {
      co_return co_await reply_error(message.error());
    }
    co_return co_await inner_.reply(status, *message, "application/json");
  }

  awaitable<bool> reply_error(const Error& error) override {
    add_retry_advice(*this, error);
    hand_over();
    const std::string body = providers::anthropic_error_body(error);
    co_return co_await inner_.reply(static_cast<http::status>(error.status), body,
                                    "application/json");
  }

  awaitable<bool> reply_empty(http::status status) override {
    hand_over();
    co_return co_await inner_.reply_empty(status);
  }

  awaitable<bool> start_stream(http::status status) override {
    hand_over();
    std::string().swap(openai_body_);
    co_return co_await inner_.start_stream(status);
  }

  awaitable<bool> write_stream(std::string_view bytes) override {
    if (failed_) {
      co_return true;
    }
    events_.clear();
    if (auto ok = writer_.feed(bytes, events_); !ok) {
      append_error(ok.error());  // the client learns the stream failed; the rest is ignored
    }
    if (events_.empty()) {
      co_return true;
    }
    co_return co_await inner_.write_stream(events_);
  }

  awaitable<void> end_stream(std::string_view last_bytes) override {
    hand_over();
    events_.clear();
    if (failed_) {
      // the error event went out already
    } else if (auto ok = writer_.feed(last_bytes, events_); !ok) {
      append_error(ok.error());
    } else if (!writer_.finished()) {
      // The pipeline always ends a stream with [DONE] or an error frame; if it did not, the
      // client must not take the stream for complete.
      append_error(Error::internal("The stream ended before it was complete."));
    }
    co_await inner_.end_stream(events_);
  }

  bool stream_started() const override { return inner_.stream_started(); }
  void on_client_gone(std::function<void()> callback) override {
    inner_.on_client_gone(std::move(callback));
  }
  bool client_gone() const override { return inner_.client_gone(); }
  // count_tokens answers in its own shape: no message of Claude's to hand over there.
  bool speaks_anthropic() const override { return translate_answers_; }

 private:
  void append_error(const Error& error) {
    if (failed_) {
      return;
    }
    failed_ = true;
    const std::string body = providers::anthropic_error_body(error);
    events_.append("event: error\ndata: ").append(body).append("\n\n");
  }

  // What the pipeline set for the access log and the response's headers goes to the connection.
  void hand_over() {
    inner_.log = log;
    inner_.response_headers = response_headers;
  }

  HttpExchange& inner_;
  std::string& openai_body_;
  bool translate_answers_;
  providers::AnthropicStreamWriter writer_;
  bool failed_ = false;  // an error event went out: nothing more does
  std::string events_;   // the translated events of one write
};

// The client's anthropic-beta header: the features it asks Claude for (interleaved thinking,
// long context, ...), for the Anthropic adapter to send on.
std::string_view anthropic_beta(const HttpExchange& ex) {
  const auto value = ex.request().find("anthropic-beta");
  return value ? *value : std::string_view();
}

// The Messages request translated for `pipeline` (a 400 in Anthropic's shape when it cannot
// be), which then runs behind an exchange that answers in Anthropic's shape: its messages and
// streams translated, or (count_tokens, which writes Anthropic's shape itself) its errors only.
awaitable<void> run_translated(HttpExchange& ex, providers::MessagesRequest kind,
                               const ChatPipeline& pipeline) {
  auto openai_body = providers::to_openai_request(ex.request().body(), kind, anthropic_beta(ex));
  if (!openai_body) {
    const std::string body = providers::anthropic_error_body(openai_body.error());
    co_await ex.reply(static_cast<http::status>(openai_body.error().status), body);
    co_return;
  }
  AnthropicExchange anthropic(ex, *openai_body,
                              /*translate_answers=*/kind == providers::MessagesRequest::message);
  co_await pipeline(anthropic, *openai_body);
}

}  // namespace

awaitable<void> anthropic_count_tokens(HttpExchange& ex, ChatPipeline count) {
  co_await run_translated(ex, providers::MessagesRequest::count_tokens, count);
}

awaitable<void> anthropic_messages(HttpExchange& ex, ChatPipeline chat) {
  co_await run_translated(ex, providers::MessagesRequest::message, chat);
}

}  // namespace keygate::gateway
