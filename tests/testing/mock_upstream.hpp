#pragma once
// A fake provider on 127.0.0.1, port 0, running on its own thread. Each test installs a handler
// coroutine that answers like the real provider would (JSON, SSE, errors, stalls, a cut). The mock
// records every request and notices when keygate closes a connection while the handler is still
// working (the "cancel" that a client disconnect must cause).

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace keygate::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct RecordedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// What a handler uses to answer one request.
class MockExchange {
 public:
  const RecordedRequest& request;
  // A whole response with Content-Length.
  // string_view, with rvalue strings refused: g++ 12 mis-destroys class temporaries inside
  // co_await expressions, so handlers name their strings first.
  net::awaitable<void> respond(int status, std::string_view body,
                               std::string_view content_type = "application/json");
  template <class S>
  requires std::same_as<S, std::string> net::awaitable<void> respond(int, S&&,
                                                                     std::string_view = {})
  = delete;
  // Starts a chunked response (SSE by default), then pieces of it.
  net::awaitable<void> start_chunked(int status = 200,
                                     std::string_view content_type = "text/event-stream");
  net::awaitable<bool> send_chunk(std::string_view data);  // false once keygate has gone
  template <class S>
  requires std::same_as<S, std::string> net::awaitable<bool> send_chunk(S&&)
  = delete;
  net::awaitable<void> end_chunked();
  // Bytes exactly as given: a test shapes the wire itself (a header and its first chunk in one
  // segment, a chunk size line split across two writes, a body that ends with the connection).
  net::awaitable<bool> send_raw(std::string_view bytes);
  template <class S>
  requires std::same_as<S, std::string> net::awaitable<bool> send_raw(S&&)
  = delete;
  net::awaitable<void> sleep(std::chrono::milliseconds d);
  // Drops the connection without finishing the response (an upstream that dies).
  void cut();
  bool peer_gone() const { return *peer_gone_; }

  MockExchange(const RecordedRequest& r, beast::tcp_stream& s, std::shared_ptr<bool> gone)
      : request(r), stream_(s), peer_gone_(std::move(gone)) {}

 private:
  beast::tcp_stream& stream_;
  std::shared_ptr<bool> peer_gone_;
};

using MockHandler = std::function<net::awaitable<void>(MockExchange&)>;

class MockUpstream {
 public:
  explicit MockUpstream(MockHandler handler = {});
  ~MockUpstream();

  uint16_t port() const { return port_; }
  std::string base_url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void set_handler(MockHandler handler);
  // How long the mock waits before it reads each request: a client's large request then fills
  // the socket buffers and has to wait for room part-way.
  void set_read_delay(std::chrono::milliseconds delay) { read_delay_ms_ = delay.count(); }

  std::vector<RecordedRequest> requests();
  std::size_t request_count();
  // Connections keygate closed while a handler was still running, with when it happened.
  std::size_t cancellations();
  std::optional<std::chrono::steady_clock::time_point> last_cancel_time();
  std::size_t connections_accepted() const { return accepted_.load(); }
  // Waits until `n` requests have arrived (or the timeout passes); returns whether they did.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout);
  bool wait_for_cancellations(std::size_t n, std::chrono::milliseconds timeout);

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(net::ip::tcp::socket socket);
  MockHandler current_handler();

  net::io_context ioc_;
  net::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  MockHandler handler_;
  std::vector<RecordedRequest> requests_;
  std::size_t cancellations_ = 0;
  std::optional<std::chrono::steady_clock::time_point> last_cancel_;
  std::atomic<std::size_t> accepted_{0};
  std::atomic<int64_t> read_delay_ms_{0};
};

// Common answers in OpenAI's wire format.
std::string openai_completion_json(const std::string& content, int prompt_tokens = 5,
                                   int completion_tokens = 7);
std::string openai_chunk_json(const std::string& delta_content, bool first = false,
                              const char* finish_reason = nullptr);
std::string openai_usage_chunk_json(int prompt_tokens, int completion_tokens);
MockHandler openai_json_handler(std::string content = "Hello from the mock");
// Streams `n` content chunks ("tok0", "tok1", ...) `gap` apart, a usage chunk if asked, [DONE].
MockHandler openai_stream_handler(int n = 3, std::chrono::milliseconds gap = {});

}  // namespace keygate::testing
