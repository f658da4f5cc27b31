#include "gateway/translating_exchange.hpp"

namespace keygate::gateway {

TranslatingExchange::TranslatingExchange(HttpExchange& inner, std::string& chat_body,
                                         ClientDialect& dialect, bool translate_answers)
    : inner_(inner),
      chat_body_(chat_body),
      dialect_(dialect),
      translate_answers_(translate_answers) {
  caller = inner.caller;
  log = inner.log;
  response_headers = inner.response_headers;
}

TranslatingExchange::~TranslatingExchange() {
  hand_over();
}

awaitable<bool> TranslatingExchange::reply(http::status status, std::string_view body,
                                           std::string_view content_type) {
  hand_over();
  if (static_cast<unsigned>(status) / 100 != 2 || !translate_answers_) {
    // The pipeline answers errors through reply_error(); anything else is passed on as is.
    co_return co_await inner_.reply(status, body, content_type);
  }
  auto translated = dialect_.answer(body);
  if (!translated) {
    co_return co_await reply_error(translated.error());
  }
  co_return co_await inner_.reply(status, *translated, "application/json");
}

awaitable<bool> TranslatingExchange::reply_error(const Error& error) {
  add_retry_advice(*this, error);
  hand_over();
  const std::string body = dialect_.error_body(error);
  co_return co_await inner_.reply(static_cast<http::status>(error.status), body,
                                  "application/json");
}

awaitable<bool> TranslatingExchange::reply_empty(http::status status) {
  hand_over();
  co_return co_await inner_.reply_empty(status);
}

awaitable<bool> TranslatingExchange::start_stream(http::status status) {
  hand_over();
  std::string().swap(chat_body_);
  co_return co_await inner_.start_stream(status);
}

awaitable<bool> TranslatingExchange::write_stream(std::string_view bytes) {
  if (failed_) {
    co_return true;
  }
  events_.clear();
  if (auto ok = dialect_.feed(bytes, events_); !ok) {
    fail_stream(ok.error());  // the client learns the stream failed; the rest is ignored
  }
  if (events_.empty()) {
    co_return true;
  }
  co_return co_await inner_.write_stream(events_);
}

awaitable<void> TranslatingExchange::end_stream(std::string_view last_bytes) {
  hand_over();
  events_.clear();
  if (failed_) {
    // the error event went out already
  } else if (auto ok = dialect_.feed(last_bytes, events_); !ok) {
    fail_stream(ok.error());
  } else if (!dialect_.finished()) {
    // The pipeline always ends a stream with [DONE] or an error frame; if it did not, the
    // client must not take the stream for complete.
    fail_stream(Error::internal("The stream ended before it was complete."));
  }
  co_await inner_.end_stream(events_);
}

void TranslatingExchange::fail_stream(const Error& error) {
  if (failed_) {
    return;
  }
  failed_ = true;
  dialect_.fail_stream(error, events_);
}

void TranslatingExchange::hand_over() {
  inner_.log = log;
  inner_.response_headers = response_headers;
}

}  // namespace keygate::gateway
