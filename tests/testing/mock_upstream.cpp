#include "testing/mock_upstream.hpp"

#include <rapidjson/document.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace keygate::testing {

using net::ip::tcp;
constexpr auto tuple = net::as_tuple(net::use_awaitable);

net::awaitable<void> MockExchange::respond(int status, std::string_view body,
                                           std::string_view content_type) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.body().assign(body.data(), body.size());
  res.prepare_payload();
  res.keep_alive(true);
  co_await http::async_write(stream_, res, tuple);
}

net::awaitable<void> MockExchange::start_chunked(int status, std::string_view content_type) {
  http::response<http::empty_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, content_type);
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  co_await http::async_write_header(stream_, sr, tuple);
}

net::awaitable<bool> MockExchange::send_chunk(std::string_view data) {
  if (*peer_gone_) {
    co_return false;
  }
  auto [ec, n] = co_await net::async_write(
      stream_, http::make_chunk(net::const_buffer(data.data(), data.size())), tuple);
  co_return !ec;
}

net::awaitable<bool> MockExchange::send_raw(std::string_view bytes) {
  if (*peer_gone_) {
    co_return false;
  }
  auto [ec, n] = co_await net::async_write(stream_, net::buffer(bytes.data(), bytes.size()), tuple);
  co_return !ec;
}

net::awaitable<void> MockExchange::end_chunked() {
  co_await net::async_write(stream_, http::make_chunk_last(), tuple);
}

net::awaitable<void> MockExchange::sleep(std::chrono::milliseconds d) {
  // Wakes early when keygate goes away, so a cancelled handler ends promptly.
  net::steady_timer timer(co_await net::this_coro::executor);
  auto until = std::chrono::steady_clock::now() + d;
  while (!*peer_gone_ && std::chrono::steady_clock::now() < until) {
    timer.expires_after(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(10), until - std::chrono::steady_clock::now()));
    co_await timer.async_wait(tuple);
  }
}

void MockExchange::cut() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

MockUpstream::MockUpstream(MockHandler handler)
    : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
      handler_(std::move(handler)) {
  port_ = acceptor_.local_endpoint().port();
  net::co_spawn(ioc_, accept_loop(), net::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

MockUpstream::~MockUpstream() {
  net::post(ioc_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  ioc_.stop();
  thread_.join();
}

void MockUpstream::set_handler(MockHandler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

MockHandler MockUpstream::current_handler() {
  std::lock_guard lock(mutex_);
  return handler_;
}

std::vector<RecordedRequest> MockUpstream::requests() {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t MockUpstream::request_count() {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

std::size_t MockUpstream::cancellations() {
  std::lock_guard lock(mutex_);
  return cancellations_;
}

std::optional<std::chrono::steady_clock::time_point> MockUpstream::last_cancel_time() {
  std::lock_guard lock(mutex_);
  return last_cancel_;
}

bool MockUpstream::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool MockUpstream::wait_for_cancellations(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return cancellations_ >= n; });
}

net::awaitable<void> MockUpstream::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(tuple);
    if (ec) {
      co_return;
    }
    ++accepted_;
    net::co_spawn(ioc_, serve(std::move(socket)), net::detached);
  }
}

net::awaitable<void> MockUpstream::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    // Room for bodies past Beast's 1 MB default: tests send requests larger than a socket takes
    // in one write.
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (const int64_t delay = read_delay_ms_.load(); delay > 0) {
      net::steady_timer pause(stream.get_executor(), std::chrono::milliseconds(delay));
      co_await pause.async_wait(tuple);
    }
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, tuple);
    if (ec) {
      co_return;
    }
    http::request<http::string_body> req = parser.release();
    RecordedRequest rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      rec.headers[name] = std::string(f.value());
    }
    rec.body = req.body();
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(rec);
    }
    changed_.notify_all();

    auto gone = std::make_shared<bool>(false);
    auto handler_done = std::make_shared<bool>(false);
    // Watch for keygate closing the connection while the handler is still answering.
    net::co_spawn(
        ioc_,
        [this, &stream, gone, handler_done]() -> net::awaitable<void> {
          auto [wec] = co_await stream.socket().async_wait(tcp::socket::wait_read, tuple);
          if (wec || *handler_done) {
            co_return;
          }
          char byte;
          boost::system::error_code pec;
          auto got = stream.socket().receive(net::buffer(&byte, 1), tcp::socket::message_peek, pec);
          if (pec || got == 0) {
            *gone = true;
            {
              std::lock_guard lock(mutex_);
              ++cancellations_;
              last_cancel_ = std::chrono::steady_clock::now();
            }
            changed_.notify_all();
          }
        },
        net::detached);

    MockExchange exchange(rec, stream, gone);
    auto handler = current_handler();
    if (handler) {
      co_await handler(exchange);
    } else {
      co_await exchange.respond(500, R"({"error":{"message":"no handler"}})");
    }
    *handler_done = true;
    if (*gone || !stream.socket().is_open()) {
      co_return;
    }
    boost::system::error_code ignored;
    stream.socket().cancel(ignored);  // stop the watcher before the next read
    // Give the cancelled watcher a turn so it does not race the next read.
    net::steady_timer t(ioc_, std::chrono::milliseconds(0));
    co_await t.async_wait(tuple);
  }
}

// ---------------------------------------------------------------------------------------------

std::string openai_completion_json(const std::string& content, int prompt_tokens,
                                   int completion_tokens) {
  return R"({"id":"chatcmpl-mock1","object":"chat.completion","created":1731000000,)"
         R"("model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant",)"
         R"("content":")" +
         content +
         R"(","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":)" +
         std::to_string(prompt_tokens) + R"(,"completion_tokens":)" +
         std::to_string(completion_tokens) + R"(,"total_tokens":)" +
         std::to_string(prompt_tokens + completion_tokens) + R"(},"system_fingerprint":"fp_mock"})";
}

std::string openai_chunk_json(const std::string& delta_content, bool first,
                              const char* finish_reason) {
  std::string delta = first ? R"({"role":"assistant","content":")" + delta_content + "\"}"
                            : R"({"content":")" + delta_content + "\"}";
  if (finish_reason) {
    delta = "{}";
  }
  return R"({"id":"chatcmpl-mock2","object":"chat.completion.chunk","created":1731000000,)"
         R"("model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":)" +
         delta + R"(,"logprobs":null,"finish_reason":)" +
         (finish_reason ? "\"" + std::string(finish_reason) + "\"" : std::string("null")) + "}]}";
}

std::string openai_usage_chunk_json(int prompt_tokens, int completion_tokens) {
  return R"({"id":"chatcmpl-mock2","object":"chat.completion.chunk","created":1731000000,)"
         R"("model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":)" +
         std::to_string(prompt_tokens) + R"(,"completion_tokens":)" +
         std::to_string(completion_tokens) + R"(,"total_tokens":)" +
         std::to_string(prompt_tokens + completion_tokens) + "}}";
}

MockHandler openai_json_handler(std::string content) {
  return [content](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json(content);
    co_await ex.respond(200, body);
  };
}

MockHandler openai_stream_handler(int n, std::chrono::milliseconds gap) {
  return [n, gap](MockExchange& ex) -> net::awaitable<void> {
    // As OpenAI does: the usage chunk only for stream_options.include_usage = true.
    rapidjson::Document request;
    request.Parse(ex.request.body.data(), ex.request.body.size());
    const rapidjson::Value* options = request.IsObject() && request.HasMember("stream_options")
                                          ? &request["stream_options"]
                                          : nullptr;
    const bool usage =
        options != nullptr && options->IsObject() && options->HasMember("include_usage") &&
        (*options)["include_usage"].IsBool() && (*options)["include_usage"].GetBool();
    co_await ex.start_chunked();
    for (int i = 0; i < n; ++i) {
      if (gap.count() > 0) {
        co_await ex.sleep(gap);
      }
      const std::string chunk =
          "data: " + openai_chunk_json("tok" + std::to_string(i), i == 0) + "\n\n";
      if (!co_await ex.send_chunk(chunk)) {
        co_return;
      }
    }
    const std::string finish = "data: " + openai_chunk_json("", false, "stop") + "\n\n";
    co_await ex.send_chunk(finish);
    if (usage) {
      const std::string usage_chunk = "data: " + openai_usage_chunk_json(5, n) + "\n\n";
      co_await ex.send_chunk(usage_chunk);
    }
    co_await ex.send_chunk("data: [DONE]\n\n");
    co_await ex.end_chunked();
  };
}

}  // namespace keygate::testing
