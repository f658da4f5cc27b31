#pragma once
// One client connection: reads requests (with header/body limits and timeouts), authenticates,
// dispatches to the route table, and implements HttpExchange for the handler.

#include <boost/url/url_view.hpp>

#include <array>
#include <memory>
#include <optional>

#include "gateway/deadline.hpp"
#include "gateway/http_exchange.hpp"
#include "gateway/response_head.hpp"
#include "gateway/server.hpp"

namespace keygate::gateway {

class HttpSession : public std::enable_shared_from_this<HttpSession>, private HttpExchange {
 public:
  HttpSession(Server& server, tcp::socket socket);
  ~HttpSession();
  awaitable<void> run();
  // Shutdown: close now if idle, else after the current response. Call on the session's strand.
  void drain();
  void force_close();
  net::any_io_executor executor() { return socket_.get_executor(); }

 private:
  // HttpExchange
  const Request& request() const override { return request_; }
  const std::string& remote_address() const override { return remote_; }
  std::string_view param(std::string_view name) const override;
  std::string_view query(std::string_view name) const override;
  bool has_query(std::string_view name) const override;
  awaitable<bool> reply(http::status status, std::string_view body,
                        std::string_view content_type) override;
  awaitable<bool> reply_error(const Error& error) override;
  awaitable<bool> reply_empty(http::status status) override;
  awaitable<bool> start_stream(http::status status) override;
  awaitable<bool> write_stream(std::string_view bytes) override;
  awaitable<void> end_stream(std::string_view last_bytes) override;
  bool stream_started() const override { return streaming_; }
  void on_client_gone(std::function<void()> callback) override;
  bool client_gone() const override { return client_gone_; }

  awaitable<bool> read_request();
  // Reads one request; an error to answer (then close) when it is unacceptable.
  awaitable<std::optional<Error>> read_request_into(bool& ok);
  // Feeds the parser buffered bytes, reading more within `timeout` only while it needs them,
  // until the header (or the whole request) is complete.
  awaitable<error_code> read_into(ClientRequestParser& parser, bool header_only, Millis timeout);
  awaitable<void> handle_request();
  awaitable<void> dispatch();
  awaitable<void> reply_unanswered();
  std::optional<std::unique_ptr<Error>> route_and_authenticate_cached();
  awaitable<std::unique_ptr<Error>> authenticate_from_store();
  std::unique_ptr<Error> admit(Result<Caller>& who);
  void watch_client();
  void on_watch_due(uint64_t request);
  void on_client_readable(const error_code& ec, std::size_t n);
  // The status line and the fields every response carries; decides keep-alive.
  ResponseHead common_head(unsigned status);
  // Up to five buffers written in one go (head, chunk framing, data, ...).
  using WireBuffers = std::array<net::const_buffer, 5>;
  // Writes what the socket takes at once, without waiting: true when that was everything, false
  // when the client is gone, nothing when `written` bytes went and the rest must wait
  // (write_wire). Nearly every response fits in the socket's send buffer; written through
  // async_write it would still complete through the scheduler, a post and a resumption later.
  std::optional<bool> write_now(const WireBuffers& buffers, std::size_t& written);
  // Writes the buffers from byte `written` on, within the write timeout; false when the client
  // is gone.
  awaitable<bool> write_wire(const WireBuffers& buffers, std::size_t written);
  void client_lost();
  bool answered_at_once_ = false;  // the last write went out whole from write_now()

  void write_access_log();
  void reset_exchange();

  Server& server_;
  tcp::socket socket_;
  Deadline deadline_;  // of the read or write in progress; closes the socket when it passes
  beast::flat_buffer buffer_;
  std::string remote_;
  Request request_;
  std::string path_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::vector<std::pair<std::string, std::string>> query_;
  unsigned status_ = 0;
  bool responded_ = false;
  bool streaming_ = false;
  std::string stream_head_;  // the stream's head until its first write
  bool keep_alive_ = true;
  bool client_gone_ = false;
  bool idle_ = true;
  bool draining_ = false;
  bool watching_ = false;  // the handler runs: a hang-up is to be noticed (once due)
  bool peeking_ = false;   // watch_client()'s peek is pending
  char peeked_ = 0;        // watch_client()'s peek lands here; the byte stays in the socket
  std::shared_ptr<ClientWatchTimer> watch_timer_;
  ClientWatchTimer::Entry watch_entry_;
  uint64_t request_number_ = 0;  // tells a due watch of an earlier request from this one's
  std::function<void()> on_gone_;
  const Route* route_ = nullptr;
};

}  // namespace keygate::gateway
