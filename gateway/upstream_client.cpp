#include "gateway/upstream_client.hpp"

#include <array>
#include <tuple>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/url/parse.hpp>

#include <openssl/ssl.h>

#include "gateway/write_at_once.hpp"

namespace keygate::gateway {

using Clock = std::chrono::steady_clock;

Result<UpstreamTarget> parse_base_url(std::string_view base_url) {
  auto url = boost::urls::parse_absolute_uri(base_url);
  if (!url) {
    return fail(Error::internal("invalid provider base_url"));
  }
  UpstreamTarget t;
  std::string scheme(url->scheme());
  if (scheme == "https") {
    t.tls = true;
  } else if (scheme == "http") {
    t.tls = false;
  } else {
    return fail(Error::internal("provider base_url must be http or https"));
  }
  t.host = std::string(url->encoded_host());
  if (t.host.size() >= 2 && t.host.front() == '[') {
    t.host = t.host.substr(1, t.host.size() - 2);  // IPv6 literal
  }
  t.port = url->has_port() ? std::string(url->port()) : (t.tls ? "443" : "80");
  t.base_path = std::string(url->encoded_path());
  while (!t.base_path.empty() && t.base_path.back() == '/') {
    t.base_path.pop_back();
  }
  if (t.host.empty()) {
    return fail(Error::internal("provider base_url has no host"));
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// UpstreamConnection

UpstreamConnection::UpstreamConnection(net::any_io_executor executor, std::string pool_key)
    : pool_key_(std::move(pool_key)),
      plain_(std::make_unique<tcp::socket>(executor)),
      deadline_(executor, [this] { close(); }) {}

UpstreamConnection::UpstreamConnection(net::any_io_executor executor,
                                       net::ssl::context& tls_context, std::string pool_key)
    : pool_key_(std::move(pool_key)),
      tls_(std::make_unique<net::ssl::stream<tcp::socket>>(executor, tls_context)),
      deadline_(executor, [this] { close(); }) {}

tcp::socket& UpstreamConnection::socket() {
  return tls_ ? tls_->next_layer() : *plain_;
}

bool UpstreamConnection::has_pending_bytes() {
  error_code ec;
  const std::size_t n = socket().available(ec);
  return ec || n > 0;
}

bool UpstreamConnection::is_open() const {
  return tls_ ? tls_->next_layer().is_open() : plain_->is_open();
}

void UpstreamConnection::close() {
  error_code ignored;
  auto& sock = socket();
  sock.cancel(ignored);
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
}

awaitable<error_code> UpstreamConnection::connect(const tcp::resolver::results_type& endpoints,
                                                  const std::string& host, Millis timeout) {
  // One deadline for the connection and the TLS handshake together.
  deadline_.expires_after(timeout);
  auto [ec, endpoint] = co_await net::async_connect(socket(), endpoints, use_tuple);
  if (ec) {
    co_return deadline_.outcome(ec);
  }
  socket().set_option(tcp::no_delay(true), ec);
  if (!tls_) {
    plain_->non_blocking(true, ec);  // write_now() must never block the I/O thread
    co_return ec;
  }
  // SNI: many providers sit behind shared front ends that pick the certificate by name.
  if (!SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str())) {
    co_return error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
  }
  tls_->set_verify_callback(net::ssl::host_name_verification(host));
  auto [hec] = co_await tls_->async_handshake(net::ssl::stream_base::client, use_tuple);
  co_return deadline_.outcome(hec);
}

namespace {

std::array<net::const_buffer, 2> wire_of(UpstreamRequestMessage& request) {
  const WipingString& head = request.head();
  return {net::buffer(head.data(), head.size()), net::buffer(request.body())};
}

}  // namespace

std::optional<error_code> UpstreamConnection::write_now(UpstreamRequestMessage& request,
                                                        std::size_t& written) {
  read_size_.restart();
  written = 0;
  if (tls_) {
    return std::nullopt;
  }
  return write_at_once(*plain_, wire_of(request), written);
}

awaitable<error_code> UpstreamConnection::write(UpstreamRequestMessage& request, Millis timeout,
                                                std::size_t written) {
  read_size_.restart();
  beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(wire_of(request));
  rest.consume(written);
  deadline_.expires_after(timeout);
  if (tls_) {
    auto [ec, n] = co_await net::async_write(*tls_, rest, use_tuple);
    co_return deadline_.outcome(ec);
  }
  auto [ec, n] = co_await net::async_write(*plain_, rest, use_tuple);
  co_return deadline_.outcome(ec);
}

awaitable<error_code> UpstreamConnection::read_header(ResponseParser& parser, Millis timeout) {
  // As the session reads requests: parse what is buffered and read only for what is missing.
  // Beast's async_read_header is a composed operation that completes through the scheduler. One
  // deadline for the whole header: an upstream trickling bytes does not extend it.
  deadline_.expires_after(timeout);
  for (;;) {
    // Not eager: the parser stops at the end of the header.
    const error_code parsed = feed_parser(parser, buffer_, true);
    if (parsed != http::error::need_more) {
      co_return parsed;
    }
    const net::mutable_buffer room = prepare_read();
    error_code read_ec;
    std::size_t n = 0;
    if (tls_) {
      std::tie(read_ec, n) = co_await tls_->async_read_some(room, use_tuple);
    } else {
      std::tie(read_ec, n) = co_await plain_->async_read_some(room, use_tuple);
    }
    commit(n);
    if (read_ec == net::error::eof) {
      if (!parser.got_some()) {
        co_return http::error::end_of_stream;  // closed before answering (a stale keep-alive)
      }
      parser.put_eof(read_ec);
      co_return read_ec ? read_ec : error_code{http::error::partial_message};
    }
    if (read_ec) {
      co_return deadline_.outcome(read_ec);
    }
  }
}

awaitable<std::tuple<error_code, std::size_t>> UpstreamConnection::read_more(Millis timeout) {
  const net::mutable_buffer room = prepare_read();
  deadline_.expires_after(timeout);
  if (tls_) {
    return tls_->async_read_some(room, use_tuple_awaitable);
  }
  return plain_->async_read_some(room, use_tuple_awaitable);
}

net::mutable_buffer UpstreamConnection::prepare_read() {
  asked_ = read_size_.next();
  // A read about to wait gives back what a burst grew the buffer to: under an open stream that
  // waits for its next token, the buffer is all the connection holds.
  if (asked_ == AdaptiveReadSize::kWaiting &&
      buffer_.capacity() > buffer_.size() + 2 * AdaptiveReadSize::kWaiting) {
    buffer_.shrink_to_fit();
  }
  return buffer_.prepare(asked_);
}

error_code UpstreamConnection::parse_buffered(ResponseParser& parser) {
  error_code ec = http::error::need_more;
  if (buffer_.size() > 0) {
    ec = {};
    const std::size_t used = parser.put(buffer_.data(), ec);
    buffer_.consume(used);
    if (!ec && used == 0) {
      ec = http::error::need_more;  // no progress: read, rather than parse the same bytes again
    }
  }
  return ec;
}

// ---------------------------------------------------------------------------------------------
// UpstreamResponse

UpstreamResponse::UpstreamResponse(UpstreamClient& client, std::unique_ptr<UpstreamConnection> conn)
    : client_(client), conn_(std::move(conn)) {
  parser_.body_limit(boost::none);  // streams have no total size; read_all() bounds itself
  parser_.header_limit(64 * 1024);
}

void UpstreamResponse::release_connection() {
  if (!conn_) {
    return;
  }
  if (!failed_ && parser_.is_done() && parser_.keep_alive() && conn_->is_open() &&
      !conn_->has_unread_bytes()) {
    client_.give_back(std::move(conn_));
  } else {
    conn_->close();
    conn_.reset();
  }
}

void UpstreamResponse::abort() {
  failed_ = true;
  if (conn_) {
    conn_->close();
  }
}

static Error read_error(const error_code& ec, const char* what) {
  if (ec == beast::error::timeout) {
    return Error::upstream_timeout(std::string("Upstream timed out ") + what + ".");
  }
  return Error::upstream_unreachable(std::string("Upstream connection failed ") + what + ": " +
                                     ec.message());
}

std::optional<bool> UpstreamResponse::read_buffered(std::string_view& piece) {
  // Eager: one put() goes on from a chunk header into its data. Not while the header was read:
  // the first body piece would be taken then, unseen.
  parser_.eager(true);
  piece = {};
  if (parser_.is_done()) {
    return true;
  }
  error_code ec = conn_->parse_buffered(parser_);
  if (ec == http::error::need_buffer) {
    ec = {};  // a second body piece waits for the next call
  }
  if (ec && ec != http::error::need_more) {
    read_error_ = ec;
    failed_ = true;
    return false;
  }
  piece = parser_.take_piece();
  if (!piece.empty() || parser_.is_done()) {
    return true;
  }
  return std::nullopt;
}

awaitable<bool> UpstreamResponse::read_some(std::string_view& piece) {
  // Bytes already buffered are parsed first; the connection reads only when they hold no body.
  // A read may bring only framing (a chunk header) and no body byte: read again, so an empty
  // result always means the end of the body.
  for (;;) {
    if (const std::optional<bool> ready = read_buffered(piece)) {
      co_return *ready;
    }
    auto [read_ec, n] = co_await conn_->read_more(client_.limits().idle_timeout);
    conn_->commit(n);
    if (read_ec == net::error::eof) {
      read_ec = {};
      parser_.put_eof(read_ec);  // a body delimited by the connection's end ends here, else cut
    }
    if (read_ec) {
      read_error_ = conn_->outcome(read_ec);
      failed_ = true;
      co_return false;
    }
  }
}

Error UpstreamResponse::error() const {
  if (too_large_) {
    // The same request would bring the same answer (and the provider bills each one): not
    // retried, and not a sign the provider is down (no circuit breaker count).
    return Error{502,
                 "upstream_error",
                 "upstream_response_too_large",
                 "Upstream response is larger than the limit (upstream_max_response_bytes: " +
                     std::to_string(client_.limits().max_response_bytes) + " bytes).",
                 {},
                 false};
  }
  return read_error(read_error_, "while reading the response body");
}

bool UpstreamResponse::append_within_limit(std::string& all, std::string_view piece) {
  all.append(piece);
  if (all.size() > client_.limits().max_response_bytes) {
    failed_ = true;
    too_large_ = true;
    return false;
  }
  return true;
}

std::optional<bool> UpstreamResponse::append_buffered(std::string& all) {
  std::string_view piece;
  while (!parser_.is_done()) {
    const std::optional<bool> ready = read_buffered(piece);
    if (!ready || !*ready) {
      return ready;
    }
    if (!append_within_limit(all, piece)) {
      return false;
    }
  }
  return true;
}

awaitable<bool> UpstreamResponse::read_rest(std::string& all) {
  for (;;) {
    if (const std::optional<bool> whole = append_buffered(all)) {
      co_return *whole;
    }
    std::string_view piece;
    // A statement of its own: g++ 12 miscompiled `!co_await read_some(piece) || ...` here (the
    // piece was never appended and the body ended after its first read).
    const bool got = co_await read_some(piece);
    if (!got || !append_within_limit(all, piece)) {
      co_return false;
    }
  }
}

awaitable<Result<std::string>> UpstreamResponse::read_all() {
  std::string all;
  if (!co_await read_rest(all)) {
    co_return fail(error());
  }
  co_return all;
}

// ---------------------------------------------------------------------------------------------
// UpstreamClient

UpstreamClient::UpstreamClient(net::any_io_executor executor, UpstreamLimits limits)
    : executor_(std::move(executor)), limits_(limits), tls_context_(net::ssl::context::tls_client) {
  tls_context_.set_default_verify_paths();
  tls_context_.set_verify_mode(net::ssl::verify_peer);
  tls_context_.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                           net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                           net::ssl::context::no_tlsv1_1);
  // An idle TLS connection (a stream waiting for its next token, a pooled keep-alive) gives its
  // read and write record buffers (16 KB each) back until it needs them again.
  SSL_CTX_set_mode(tls_context_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
}

UpstreamClient::~UpstreamClient() {
  close_idle();
}

void UpstreamClient::close_idle() {
  std::lock_guard lock(mutex_);
  for (auto& [key, conns] : pool_) {
    for (auto& c : conns) {
      c->close();
    }
  }
  pool_.clear();
}

UpstreamStats UpstreamClient::stats() {
  std::lock_guard lock(mutex_);
  UpstreamStats s = stats_;
  s.idle_pooled = 0;
  for (auto& [key, conns] : pool_) {
    s.idle_pooled += conns.size();
  }
  return s;
}

std::unique_ptr<UpstreamConnection> UpstreamClient::take_idle(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = pool_.find(key);
  if (it == pool_.end()) {
    return nullptr;
  }
  auto now = Clock::now();
  auto& conns = it->second;
  while (!conns.empty()) {
    auto conn = std::move(conns.back());  // most recently used: least likely to be stale
    conns.pop_back();
    if (now - conn->idle_since < limits_.pool_idle_ttl && conn->is_open() &&
        !conn->has_pending_bytes()) {
      conn->reused = true;
      ++stats_.connections_reused;
      return conn;
    }
    conn->close();
  }
  return nullptr;
}

void UpstreamClient::give_back(std::unique_ptr<UpstreamConnection> conn) {
  conn->stop_timing();
  conn->idle_since = Clock::now();
  conn->reused = false;
  std::lock_guard lock(mutex_);
  auto& conns = pool_[conn->pool_key()];
  if (conns.size() >= limits_.max_idle_per_host) {
    conn->close();
    return;
  }
  conns.push_back(std::move(conn));
}

awaitable<Result<tcp::resolver::results_type>> UpstreamClient::resolve(
    const UpstreamTarget& target) {
  std::string key = target.host + ":" + target.port;
  {
    std::lock_guard lock(mutex_);
    auto it = dns_.find(key);
    if (it != dns_.end() && it->second.expires > Clock::now()) {
      co_return it->second.results;
    }
  }
  tcp::resolver resolver(co_await net::this_coro::executor);
  auto [ec, results] = co_await resolver.async_resolve(target.host, target.port, use_tuple);
  if (ec) {
    co_return fail(Error::upstream_unreachable("Cannot resolve upstream host '" + target.host +
                                               "': " + ec.message()));
  }
  std::lock_guard lock(mutex_);
  dns_[key] = DnsEntry{results, Clock::now() + limits_.dns_ttl};
  co_return results;
}

awaitable<Result<std::unique_ptr<UpstreamConnection>>> UpstreamClient::connect(
    const UpstreamTarget& target) {
  auto endpoints = co_await resolve(target);
  if (!endpoints) {
    co_return fail(endpoints.error());
  }
  // Sockets use the io_context's executor, not a strand: the coroutine that awaits an operation
  // resumes on its own executor, so a pooled connection can serve any client connection's strand.
  auto conn = target.tls
                  ? std::make_unique<UpstreamConnection>(executor_, tls_context_, target.pool_key())
                  : std::make_unique<UpstreamConnection>(executor_, target.pool_key());
  // The connect timeout, too, runs beside the handlers of the client connection that waits.
  const net::any_io_executor here = co_await net::this_coro::executor;
  conn->adopt(here);
  auto ec = co_await conn->connect(*endpoints, target.host, limits_.connect_timeout);
  if (ec) {
    if (ec == beast::error::timeout) {
      co_return fail(Error::upstream_timeout("Timed out connecting to the upstream provider."));
    }
    co_return fail(
        Error::upstream_unreachable("Cannot connect to the upstream provider: " + ec.message()));
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.connections_opened;
  }
  co_return conn;
}

namespace {

constexpr int kMaxInterimResponses = 5;

bool is_interim(int status) {
  return status >= 100 && status < 200 && status != 101;
}

Error unexpected_status(int status) {
  return {502,
          "upstream_error",
          "upstream_invalid_response",
          "The upstream provider answered with HTTP status " + std::to_string(status) +
              ", which is not an answer.",
          {},
          false};
}

}  // namespace

awaitable<Result<std::unique_ptr<UpstreamResponse>>> UpstreamClient::send(
    const UpstreamTarget& target, UpstreamRequestMessage& request, UpstreamConnection** live) {
  request.finish(target.host);
  // At most two attempts: a pooled keep-alive connection may have been closed by the upstream
  // while idle; that shows as a write error or an EOF before any response byte, and is safe to
  // retry on a fresh connection because the upstream never started on the request.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<UpstreamConnection> conn =
        attempt == 0 ? take_idle(target.pool_key()) : nullptr;
    if (!conn) {
      auto fresh = co_await connect(target);
      if (!fresh) {
        co_return fail(fresh.error());
      }
      conn = std::move(*fresh);
    }
    const net::any_io_executor here = co_await net::this_coro::executor;
    conn->adopt(here);
    if (live) {
      *live = conn.get();
    }
    bool reused = conn->reused;
    std::size_t written = 0;
    error_code ec;
    if (const std::optional<error_code> now = conn->write_now(request, written)) {
      ec = *now;
      if (!ec) {
        // As the session does before its next read (HttpSession::read_request_into): the
        // upstream cannot have answered yet, so read after the work that is ready.
        co_await net::post(here, net::deferred);
      }
    } else {
      ec = co_await conn->write(request, limits_.first_byte_timeout, written);
    }
    std::unique_ptr<UpstreamResponse> response;
    bool got_interim = false;
    if (!ec) {
      response.reset(new UpstreamResponse(*this, std::move(conn)));
      ec = co_await response->conn_->read_header(response->parser_, limits_.first_byte_timeout);
      // Interim answers (100 Continue, 103 Early Hints) come before the real one, on the same
      // connection: each is read and left behind (RFC 9110, 15.2). A few at most.
      for (int interim = 0; !ec && is_interim(response->status()); ++interim) {
        got_interim = true;
        if (interim == kMaxInterimResponses) {
          response->abort();
          if (live) {
            *live = nullptr;
          }
          co_return fail(unexpected_status(response->status()));
        }
        auto next = std::unique_ptr<UpstreamResponse>(
            new UpstreamResponse(*this, std::move(response->conn_)));
        response = std::move(next);
        ec = co_await response->conn_->read_header(response->parser_, limits_.first_byte_timeout);
      }
    } else {
      conn->close();
    }
    if (!ec && (response->status() < 200 || response->status() > 599 ||
                (response->status() >= 300 && response->status() < 400))) {
      // 101 (no upgrade was asked for), a redirect (keygate follows none: a provider's API
      // answers where it is asked), or a status HTTP does not define: not an answer.
      response->abort();
      if (live) {
        *live = nullptr;
      }
      co_return fail(unexpected_status(response->status()));
    }
    if (!ec) {
      co_return response;
    }
    if (response) {
      response->abort();
    }
    if (live) {
      *live = nullptr;
    }
    // Not after an interim answer: the upstream had started on the request then.
    bool stale = reused && !got_interim &&
                 (ec == http::error::end_of_stream || ec == net::error::eof ||
                  ec == net::error::connection_reset || ec == net::error::broken_pipe);
    if (stale) {
      continue;
    }
    if (ec == beast::error::timeout) {
      co_return fail(Error::upstream_timeout("The upstream provider did not answer in time."));
    }
    co_return fail(Error::upstream_unreachable("Upstream request failed: " + ec.message()));
  }
  co_return fail(Error::upstream_unreachable("Upstream closed the connection."));
}

}  // namespace keygate::gateway
