#include "gateway/messages_api.hpp"

#include "gateway/translating_exchange.hpp"
#include "providers/anthropic_inbound.hpp"

namespace keygate::gateway {

namespace {

// Anthropic's Messages API as the chat pipeline's answers are written: messages, stream events
// and errors in Anthropic's shape (providers/anthropic_inbound.hpp).
class AnthropicDialect final : public ClientDialect {
 public:
  Result<std::string> answer(std::string_view chat_completion) override {
    return providers::to_anthropic_message(chat_completion);
  }
  std::string error_body(const Error& error) const override {
    return providers::anthropic_error_body(error);
  }
  Result<void> feed(std::string_view openai_bytes, std::string& out) override {
    return writer_.feed(openai_bytes, out);
  }
  void fail_stream(const Error& error, std::string& out) override {
    const std::string body = providers::anthropic_error_body(error);
    out.append("event: error\ndata: ").append(body).append("\n\n");
  }
  bool finished() const override { return writer_.finished(); }
  bool speaks_anthropic() const override { return true; }

 private:
  providers::AnthropicStreamWriter writer_;
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
  AnthropicDialect dialect;
  TranslatingExchange anthropic(ex, *openai_body, dialect,
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
