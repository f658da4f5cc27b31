#pragma once
// The transport to providers: async HTTP/1.1 over TCP or TLS (system CAs, SNI, host name
// verification), a keep-alive pool per host, a short DNS cache, and a timeout on every step
// (connect, time to first byte, idle between body reads — never a total one, which would cut long
// streams). See upstream_client.md for the design.

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/asio_fwd.hpp"
#include "gateway/buffered_parse.hpp"
#include "gateway/config.hpp"
#include "gateway/deadline.hpp"
#include "gateway/upstream_parser.hpp"
#include "gateway/upstream_request.hpp"
#include "gateway/wiping_allocator.hpp"
#include "schema/error.hpp"

namespace keygate::gateway {

// A provider base URL split for the transport.
struct UpstreamTarget {
  bool tls = true;
  std::string host;
  std::string port;
  std::string base_path;  // "/v1", no trailing slash; may be empty
  std::string pool_key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};
Result<UpstreamTarget> parse_base_url(std::string_view base_url);

using ResponseParser = UpstreamParser;

// One connection to an upstream host: plain or TLS. Used by one request at a time.
class UpstreamConnection {
 public:
  UpstreamConnection(net::any_io_executor executor, std::string pool_key);
  UpstreamConnection(net::any_io_executor executor, net::ssl::context& tls_context,
                     std::string pool_key);

  awaitable<error_code> connect(const tcp::resolver::results_type& endpoints,
                                const std::string& host, Millis timeout);
  // Writes what a plain connection's socket takes at once, without waiting: the outcome when
  // that was the whole request or an error, nothing when the rest (from byte `written`) must be
  // written with write(). A request nearly always fits in the send buffer, and async_write would
  // complete through the scheduler even then. A TLS connection always goes through write().
  std::optional<error_code> write_now(UpstreamRequestMessage& request, std::size_t& written);
  awaitable<error_code> write(UpstreamRequestMessage& request, Millis timeout,
                              std::size_t written = 0);
  awaitable<error_code> read_header(ResponseParser& parser, Millis timeout);
  // Reads whatever arrives next into the connection's buffer, waiting at most `timeout`; the
  // caller passes the byte count to commit(). Not a coroutine: no frame of its own to keep
  // under every idle stream, only the read's.
  awaitable<std::tuple<error_code, std::size_t>> read_more(Millis timeout);
  void commit(std::size_t n) {
    buffer_.commit(n);
    read_size_.completed(asked_, n);
  }
  // Feeds the parser what was already read, without I/O (a small response's body usually arrives
  // in the header's segment). need_more: nothing, or not enough, was buffered.
  error_code parse_buffered(ResponseParser& parser);
  // Cancels pending operations and closes the socket (client went away, or shutdown).
  void close();
  bool is_open() const;
  // Bytes read past the end of the last response. An upstream that sends any leaves the
  // connection out of step: the next request on it would read them as its answer.
  bool has_unread_bytes() const { return buffer_.size() > 0; }
  // Bytes waiting in the socket: on an idle pooled connection, an upstream that wrote past its
  // answer after keygate had read it.
  bool has_pending_bytes();
  // Runs the connection's timeouts beside the handlers of `executor` (the strand of the client
  // connection now using it), and stops timing: a pooled connection has no deadline.
  void adopt(const net::any_io_executor& executor) { deadline_.rebind(executor); }
  void stop_timing() { deadline_.expires_never(); }
  // A read_more() error as the caller should see it: beast::error::timeout past the deadline.
  error_code outcome(const error_code& ec) const { return deadline_.outcome(ec); }

  const std::string& pool_key() const { return pool_key_; }
  std::chrono::steady_clock::time_point idle_since;
  bool reused = false;  // came from the pool (a stale keep-alive is retried once)

 private:
  tcp::socket& socket();
  net::mutable_buffer prepare_read();
  std::string pool_key_;
  std::unique_ptr<tcp::socket> plain_;
  std::unique_ptr<net::ssl::stream<tcp::socket>> tls_;
  Deadline deadline_;  // of the step in progress (connect, time to first byte, each body read)
  beast::flat_buffer buffer_;
  AdaptiveReadSize read_size_;
  std::size_t asked_ = 0;  // by the read in flight
};

// An upstream response being read. The body is read in pieces (streams are relayed as they come).
class UpstreamResponse {
 public:
  int status() const { return parser_.status(); }
  // Next piece of the body into `piece`; empty at the end. Each call waits at most the idle
  // timeout. The view points into the connection's read buffer: valid until the next call.
  // False: the read failed, as error() says. (Not a Result: the frame awaiting it is alive for a
  // stream's whole length, and a Result holds a whole Error.)
  awaitable<bool> read_some(std::string_view& piece);
  Error error() const;
  // The whole remaining body, bounded by the configured limit (502 when larger).
  awaitable<Result<std::string>> read_all();
  // read_all() in two steps. append_buffered() appends the body already read to `all`, without
  // I/O: true when that was the whole body, false when it failed (error()), nothing when the
  // rest must be read; read_rest() reads and appends it (false: failed). A small answer usually
  // arrives with its header, and then costs no coroutine frame to read.
  std::optional<bool> append_buffered(std::string& all);
  awaitable<bool> read_rest(std::string& all);
  bool done() const { return parser_.is_done(); }
  // read_some() without I/O: nothing when the bytes already read hold no piece (it would wait).
  std::optional<bool> read_buffered(std::string_view& piece);
  // Aborts the exchange now (client disconnect): the connection is closed, not pooled.
  void abort();
  // Done with the connection: a cleanly finished keep-alive one goes back to the pool now, before
  // the answer is relayed, so the client's next request can reuse it; any other is closed.
  // Pieces from read_some() are invalid after this.
  void release_connection();

 private:
  friend class UpstreamClient;
  UpstreamResponse(class UpstreamClient& client, std::unique_ptr<UpstreamConnection> conn);
  // Appends a piece of the body to `all`; false when that passes max_response_bytes.
  bool append_within_limit(std::string& all, std::string_view piece);
  UpstreamClient& client_;
  std::unique_ptr<UpstreamConnection> conn_;
  ResponseParser parser_;
  bool failed_ = false;
  bool too_large_ = false;  // the body passed max_response_bytes
  error_code read_error_;   // why read_some() failed

 public:
  ~UpstreamResponse() { release_connection(); }
};

struct UpstreamStats {
  uint64_t connections_opened = 0;
  uint64_t connections_reused = 0;
  std::size_t idle_pooled = 0;
};

class UpstreamClient {
 public:
  UpstreamClient(net::any_io_executor executor, UpstreamLimits limits);
  ~UpstreamClient();

  // Sends the request and waits for the response header. 502 when the host cannot be reached,
  // 504 on a timeout. A pooled connection that turns out stale is replaced once, transparently.
  // `*live` (when given) always holds the connection in use, or null, so that a client
  // disconnect can close it. A plain pointer on purpose: a coroutine keeps reference parameters,
  // and a reference to a temporary (a default std::function) would dangle once awaited.
  awaitable<Result<std::unique_ptr<UpstreamResponse>>> send(const UpstreamTarget& target,
                                                            UpstreamRequestMessage& request,
                                                            UpstreamConnection** live = nullptr);

  const UpstreamLimits& limits() const { return limits_; }
  UpstreamStats stats();
  void close_idle();  // shutdown: drop pooled connections

 private:
  friend class UpstreamResponse;
  awaitable<Result<std::unique_ptr<UpstreamConnection>>> connect(const UpstreamTarget& target);
  awaitable<Result<tcp::resolver::results_type>> resolve(const UpstreamTarget& target);
  std::unique_ptr<UpstreamConnection> take_idle(const std::string& key);
  void give_back(std::unique_ptr<UpstreamConnection> conn);

  net::any_io_executor executor_;
  UpstreamLimits limits_;
  net::ssl::context tls_context_;
  std::mutex mutex_;  // guards pool_ and dns_; held only for map operations, never across I/O
  std::map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> pool_;
  struct DnsEntry {
    tcp::resolver::results_type results;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, DnsEntry> dns_;
  UpstreamStats stats_;
};

}  // namespace keygate::gateway
