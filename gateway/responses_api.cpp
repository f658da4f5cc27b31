#include "gateway/responses_api.hpp"

#include <chrono>
#include <cstdio>
#include <random>
#include <string_view>
#include <utility>

#include "providers/responses_inbound.hpp"

namespace keygate::gateway {

namespace {

// The Responses API as the chat pipeline's answers are written: a Response object, Responses
// stream events, and OpenAI's error shape.
class ResponsesDialect final : public ClientDialect {
 public:
  explicit ResponsesDialect(std::string echo) : echo_(std::move(echo)), writer_(echo_) {}

  Result<std::string> answer(std::string_view chat_completion) override {
    return providers::chat_to_response(chat_completion, echo_);
  }
  // The pipeline's refusals name chat fields; the client wrote the Responses ones.
  std::string error_body(const Error& error) const override {
    static constexpr std::pair<std::string_view, std::string_view> kRenamed[] = {
        {"max_completion_tokens", "max_output_tokens"},
        {"reasoning_effort", "reasoning.effort"},
        {"response_format", "text.format"},
        {"messages", "input"},
    };
    for (const auto& [chat, responses] : kRenamed) {
      if (error.param == chat) {
        Error renamed = error;
        renamed.param = std::string(responses);
        return renamed.to_json();
      }
    }
    return error.to_json();
  }
  Result<void> feed(std::string_view openai_bytes, std::string& out) override {
    return writer_.feed(openai_bytes, out);
  }
  void fail_stream(const Error& error, std::string& out) override { writer_.fail(error, out); }
  bool finished() const override { return writer_.finished(); }

 private:
  std::string echo_;
  providers::ResponsesStreamWriter writer_;
};

// "resp_" and 128 random bits: ids only need to be unique (keygate stores no responses), so a
// per-thread generator seeded once is enough.
providers::ResponseIdentity new_identity() {
  static thread_local std::mt19937_64 random = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  char id[5 + 32 + 1];
  std::snprintf(id, sizeof id, "resp_%016llx%016llx", static_cast<unsigned long long>(random()),
                static_cast<unsigned long long>(random()));
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {id, std::chrono::duration_cast<std::chrono::seconds>(now).count()};
}

}  // namespace

awaitable<void> openai_responses(HttpExchange& ex, ChatPipeline chat) {
  auto translated = providers::responses_to_chat_request(ex.request().body(), new_identity());
  if (!translated) {
    co_await ex.reply_error(translated.error());
    co_return;
  }
  ResponsesDialect dialect(std::move(translated->echo));
  TranslatingExchange responses(ex, translated->chat_request, dialect);
  co_await chat(responses, translated->chat_request);
}

}  // namespace keygate::gateway
