#include "gateway/http_session.hpp"

#include <boost/beast/core/buffers_suffix.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cstdio>
#include <random>

#include "gateway/buffered_parse.hpp"
#include "gateway/log.hpp"
#include "gateway/request_target.hpp"
#include "gateway/write_at_once.hpp"
#include "providers/anthropic_inbound.hpp"
#include "schema/json.hpp"

namespace keygate::gateway {
namespace {

// The read that waits for a keep-alive connection's next request asks for this much: a chat
// request's header and a short body in one read. The buffer is trimmed back to it after a request
// whose body grew it.
constexpr std::size_t kKeptBuffer = 4096;
// The largest single read of a request body whose length is known.
constexpr std::size_t kMaxBodyRead = 64 * 1024;

// Built only when a body is too large (it was once built for every request, to keep it out of a
// co_await expression: see http_exchange.hpp).
Error body_too_large(std::size_t limit) {
  return Error::payload_too_large("Request body is larger than the limit of " +
                                  std::to_string(limit) + " bytes.");
}

// Names that would put a credential into a URL (and so into proxy and access logs). Refused.
constexpr std::string_view kCredentialQueryNames[] = {"api_key", "apikey",       "key",
                                                      "token",   "access_token", "auth"};

// Appends `text` in quotes, unescaped: only for text keygate made or checked itself, which has
// no quote, backslash or control character (JSON-escaping short strings was a fifth of the
// access log's cost).
void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  out += text;
  out += '"';
}

std::string make_request_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  // Built in place and copied once: appending a character at a time grew the string twice.
  char id[4 + 24] = {'r', 'e', 'q', '_'};
  const uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) {
    id[4 + i] = kHex[(a >> (i * 4)) & 0xF];
  }
  for (int i = 0; i < 8; ++i) {
    id[20 + i] = kHex[(b >> (i * 4)) & 0xF];
  }
  return std::string(id, sizeof id);
}

// The token from "Authorization: Bearer <t>" or "x-api-key: <t>" (Anthropic-style clients).
std::string_view bearer_token(const Request& req) {
  auto auth = req["authorization"];
  if (!auth.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    // ASCII case folding (std::tolower is a locale-aware call per character).
    if (auth.size() > kBearer.size() && beast::iequals(auth.substr(0, kBearer.size()), kBearer)) {
      return auth.substr(kBearer.size());
    }
    return {};
  }
  return req["x-api-key"];
}

}  // namespace

HttpSession::HttpSession(Server& server, tcp::socket socket)
    : server_(server), socket_(std::move(socket)), deadline_(socket_.get_executor(), [this] {
        error_code ignored;
        socket_.close(ignored);  // as Beast's timeouts do: the operation waiting on it ends
      }) {
  error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  remote_ = ec ? "unknown" : endpoint.address().to_string();
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // write_now() must never block the I/O thread
  watch_timer_ = server_.client_watch();
  // On the timer's thread, under its lock: hand over to this session's executor, unless the
  // session is on its way out. The reference moves into the posted handler: were it released
  // here as the last one, ~HttpSession would run under the timer's lock and take it again.
  watch_entry_.on_due = [this](uint64_t request) {
    if (auto self = weak_from_this().lock()) {
      auto executor = socket_.get_executor();
      net::post(executor, [self = std::move(self), request] { self->on_watch_due(request); });
    }
  };
}

HttpSession::~HttpSession() {
  watch_timer_->remove(watch_entry_);  // a request cut short with the io_context
}

void HttpSession::drain() {
  draining_ = true;
  if (idle_) {
    force_close();
  }
}

void HttpSession::force_close() {
  error_code ignored;
  socket_.cancel(ignored);
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

std::string_view HttpSession::param(std::string_view name) const {
  for (auto& [k, v] : params_) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

std::string_view HttpSession::query(std::string_view name) const {
  for (auto& [k, v] : query_) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

bool HttpSession::has_query(std::string_view name) const {
  for (auto& [k, v] : query_) {
    if (k == name) {
      return true;
    }
  }
  return false;
}

void HttpSession::on_client_gone(std::function<void()> callback) {
  on_gone_ = std::move(callback);
  if (client_gone_ && on_gone_) {
    on_gone_();
  }
}

awaitable<void> HttpSession::run() {
  auto self = shared_from_this();
  while (!draining_) {
    if (!co_await read_request()) {
      break;
    }
    // Counted until its answer is done: the usage writer paces itself by it (app.cpp). Not by a
    // guard object: a frame destroyed with the io_context at exit must not touch the server.
    std::atomic<std::size_t>& in_flight = server_.requests_in_flight_counter();
    in_flight.fetch_add(1, std::memory_order_relaxed);
    co_await handle_request();
    in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (!keep_alive_ || client_gone_ || draining_) {
      break;
    }
  }
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  socket_.close(ignored);
  server_.session_ended(this);
}

// Reads one request. False: the connection is done (closed, timed out, or answered with an error
// that ends it).
awaitable<bool> HttpSession::read_request() {
  bool ok = false;
  auto error = co_await read_request_into(ok);
  if (error) {
    keep_alive_ = false;
    co_await reply_error(*error);
    co_return false;
  }
  co_return ok;
}

awaitable<std::optional<Error>> HttpSession::read_request_into(bool& ok) {
  const auto& limits = server_.limits();
  ok = false;
  idle_ = true;
  // Keep-alive: wait for the first byte of the next request with the idle timeout; the header
  // then has its own, shorter deadline from its first byte (slowloris).
  if (buffer_.size() == 0) {
    if (std::exchange(answered_at_once_, false)) {
      // The answer went out a moment ago: the client cannot have sent its next request yet, and
      // a read started now would find nothing (Asio tries the socket before it waits on epoll:
      // a wasted recvfrom per request). Started after the work that is ready, it often finds
      // the request there.
      co_await net::post(socket_.get_executor(), net::deferred);
    }
    deadline_.expires_after(limits.idle_timeout);
    auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(kKeptBuffer), use_tuple);
    if (ec) {
      co_return std::nullopt;
    }
    buffer_.commit(n);
  }
  idle_ = false;
  if (draining_) {
    co_return std::nullopt;
  }
  ClientRequestParser parser(request_);  // fills request_ in place: no allocation once warm
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  reset_exchange();

  // The request usually came whole in the idle read: parse it here, and await read_into (a
  // coroutine frame and its resumptions) only for the bytes still missing.
  auto hec = feed_parser(parser, buffer_, true);
  if (hec == http::error::need_more) {
    hec = co_await read_into(parser, true, limits.header_read_timeout);
  }
  if (hec == http::error::body_limit) {
    // Beast checks Content-Length against the body limit while it reads the header.
    co_return body_too_large(limits.max_body_bytes);
  }
  if (hec == http::error::header_limit) {
    co_return Error{431,
                    "invalid_request_error",
                    "header_too_large",
                    "Request header is larger than the limit.",
                    {},
                    false};
  }
  if (hec == beast::error::timeout) {
    co_return Error{408,
                    "invalid_request_error",
                    "request_timeout",
                    "The request header did not arrive in time.",
                    {},
                    false};
  }
  if (hec) {
    if (hec != http::error::end_of_stream && hec != net::error::eof) {
      co_return Error::invalid_request("Malformed HTTP request.", {}, "bad_http");
    }
    co_return std::nullopt;
  }
  auto length = parser.content_length();
  if (length && *length > limits.max_body_bytes) {
    // Answer before reading the body; the unread body makes the connection unusable.
    co_return body_too_large(limits.max_body_bytes);
  }
  if (!parser.is_done()) {
    auto bec = feed_parser(parser, buffer_, false);
    if (bec == http::error::need_more) {
      bec = co_await read_into(parser, false, limits.body_read_timeout);
    }
    if (bec == http::error::body_limit) {
      co_return body_too_large(limits.max_body_bytes);
    }
    if (bec == beast::error::timeout) {
      co_return Error{408,
                      "invalid_request_error",
                      "request_timeout",
                      "The request body did not arrive in time.",
                      {},
                      false};
    }
    if (bec && bec.category() == http::make_error_code(http::error::bad_chunk).category() &&
        bec != http::error::end_of_stream && bec != http::error::partial_message) {
      // A malformed body (a bad chunk size): the client is told, and the connection closes.
      co_return Error::invalid_request("Malformed HTTP request body.", {}, "bad_http");
    }
    if (bec) {
      co_return std::nullopt;
    }
  }
  deadline_.expires_never();
  if (buffer_.capacity() > kKeptBuffer) {
    buffer_.shrink_to_fit();  // a long body's read buffer is not kept under an idle keep-alive
  }
  keep_alive_ = request_.keep_alive();
  ok = true;
  co_return std::nullopt;
}

// Beast's async_read(_header) would do the same, but completes through the scheduler (a post)
// even when the request is already buffered, which it usually is: a request arrives in one
// segment and the idle read took it whole. So parse in place and read only for what is missing.
awaitable<error_code> HttpSession::read_into(ClientRequestParser& parser, bool header_only,
                                             Millis timeout) {
  // One deadline for the whole header (or body), not one per read: a client trickling a byte at
  // a time must not reset it (slowloris).
  deadline_.expires_after(timeout);
  for (;;) {
    const error_code parsed = feed_parser(parser, buffer_, header_only);
    if (parsed != http::error::need_more) {
      co_return parsed;
    }
    std::size_t size = next_read_size(buffer_);
    if (!header_only) {
      // The body's length is known: ask for the rest of it at once (a long conversation is tens
      // of KB), not in steps of the buffer's size. The buffer is trimmed once the request is in.
      if (const auto rest = parser.content_length_remaining()) {
        size = std::clamp<std::size_t>(*rest, size, kMaxBodyRead);
      }
    }
    auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(size), use_tuple);
    buffer_.commit(n);
    if (ec == net::error::eof) {
      if (!parser.got_some()) {
        co_return http::error::end_of_stream;
      }
      error_code eof_ec;
      parser.put_eof(eof_ec);  // a message that may end at EOF ends here; anything else is cut
      if (eof_ec) {
        co_return eof_ec;
      }
      continue;
    }
    if (ec) {
      co_return deadline_.outcome(ec);
    }
  }
}

void HttpSession::reset_exchange() {
  route_ = nullptr;
  caller = {};
  log = {};
  response_headers.clear();
  params_.clear();
  query_.clear();
  status_ = 0;
  responded_ = false;
  streaming_ = false;
  std::string().swap(stream_head_);
  client_gone_ = false;
  on_gone_ = nullptr;
}

awaitable<void> HttpSession::handle_request() {
  log.request_id = make_request_id();
  response_headers.emplace_back("x-request-id", log.request_id);
  co_await dispatch();
  if (!responded_ && !client_gone_) {
    co_await reply_unanswered();
  }
  if (watching_) {
    watch_timer_->remove(watch_entry_);
    if (peeking_) {
      error_code ignored;
      socket_.cancel(ignored);  // ends watch_client()
      peeking_ = false;
    }
    watching_ = false;
  }
  write_access_log();
}

// A handler that returns without answering is our bug; the client still gets an answer. A
// coroutine of its own: handle_request's frame stays small for the stream it may be relaying.
awaitable<void> HttpSession::reply_unanswered() {
  const Error unanswered = Error::internal("The request was not answered.");
  co_await reply_error(unanswered);
}

awaitable<void> HttpSession::dispatch() {
  std::unique_ptr<Error> refusal;
  if (auto decided = route_and_authenticate_cached()) {
    refusal = std::move(*decided);
  } else {
    refusal = co_await authenticate_from_store();
  }
  if (refusal) {
    co_await reply_error(*refusal);
    co_return;
  }
  // While the handler works, notice a client that goes away (to cancel upstream work), once
  // the request has run for the watch timer's delay: most are answered before then.
  if (route_->access != Access::open) {
    watching_ = true;
    watch_timer_->add(watch_entry_, log.started, ++request_number_);
  }
  co_await route_->handler(*this);
}

// A refusal on the heap: the error travels through dispatch's frame, which stays for the whole
// request (a whole stream's length), and an Error in place would take 150 bytes of it.
static std::unique_ptr<Error> refuse(Error e) {
  return std::make_unique<Error>(std::move(e));
}

// Finds the route and checks the caller: an error to answer when the request cannot proceed,
// nullptr when it can, nullopt when the token must be looked up (authenticate_from_store).
// Synchronous: nearly every request is decided here, without a coroutine frame of its own.
std::optional<std::unique_ptr<Error>> HttpSession::route_and_authenticate_cached() {
  route_ = nullptr;
  auto target = request_.target();
  if (is_plain_path(target)) {
    path_.assign(target.data(), target.size());  // nearly every request: no query, no escapes
  } else {
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) {
      return refuse(Error::invalid_request("Malformed request target.", {}, "bad_path"));
    }
    path_ = std::string(parsed->encoded_path());
    for (auto p : parsed->params()) {
      query_.emplace_back(p.key, p.value);
    }
  }
  for (auto& [k, v] : query_) {
    for (auto name : kCredentialQueryNames) {
      if (k == name) {
        return refuse(Error::invalid_request(
            "Credentials in the query string are refused (they end up in logs). Send the token "
            "in the Authorization header.",
            k, "credential_in_query"));
      }
    }
  }
  auto match = server_.routes().match(request_.method(), path_);
  if (!match.route) {
    if (match.path_matched) {
      return refuse(Error{405,
                          "invalid_request_error",
                          "method_not_allowed",
                          "Method not allowed on " + path_ + ".",
                          {},
                          false});
    }
    return refuse(Error::not_found("Unknown path " + path_ + ".", "unknown_url"));
  }
  params_ = std::move(match.params);
  route_ = match.route;
  if (route_->access == Access::open) {
    return nullptr;
  }
  auto token = bearer_token(request_);
  if (token.empty()) {
    return refuse(Error::unauthorized(
        "Missing token: send 'Authorization: Bearer <keygate token>'.", "missing_token"));
  }
  auto who = server_.authenticator().authenticate_cached(token);
  if (!who) {
    return std::nullopt;
  }
  return admit(*who);
}

// The token's lookup in the keystore, off the I/O thread: a token not seen lately.
awaitable<std::unique_ptr<Error>> HttpSession::authenticate_from_store() {
  const std::string_view token = bearer_token(request_);
  auto who = co_await server_.authenticator().authenticate(token);
  co_return admit(who);
}

// The authenticated caller for this request, if the route lets it in.
std::unique_ptr<Error> HttpSession::admit(Result<Caller>& who) {
  if (!who) {
    return refuse(who.error());
  }
  caller = std::move(*who);
  if (route_->access == Access::admin && !caller.admin) {
    return refuse(Error::forbidden("This route is for administrators."));
  }
  return nullptr;
}

// A one-byte peek rather than async_wait: a wait re-arms the socket in epoll (an epoll_ctl per
// request), a read on a socket epoll already watches does not. And a plain handler rather than a
// coroutine: no frame to allocate for what is almost always cancelled.
void HttpSession::watch_client() {
  socket_.async_receive(net::buffer(&peeked_, 1), tcp::socket::message_peek,
                        [self = shared_from_this()](const error_code& ec, std::size_t n) {
                          self->on_client_readable(ec, n);
                        });
}

void HttpSession::on_watch_due(uint64_t request) {
  if (watching_ && !peeking_ && request == request_number_ && !client_gone_) {
    peeking_ = true;
    watch_client();
  }
}

void HttpSession::on_client_readable(const error_code& ec, std::size_t n) {
  if (!watching_ || ec == net::error::operation_aborted) {
    return;  // cancelled: the request finished
  }
  // A byte: the client pipelined its next request, which stays unread. EOF or an error: gone.
  if (ec || n == 0) {
    client_gone_ = true;
    keep_alive_ = false;
    if (on_gone_) {
      on_gone_();
    }
  }
}

ResponseHead HttpSession::common_head(unsigned status) {
  ResponseHead head(request_.version(), status);
  head.add("Server", "keygate");
  // A handler may set a field twice (the provider, per fallback attempt): the last one counts.
  for (std::size_t i = 0; i < response_headers.size(); ++i) {
    const auto& [name, value] = response_headers[i];
    bool overridden = false;
    for (std::size_t j = i + 1; j < response_headers.size() && !overridden; ++j) {
      overridden = beast::iequals(response_headers[j].first, name);
    }
    if (!overridden) {
      head.add(name, value);
    }
  }
  // keygate's own time so far: everything but waiting on the upstream (for a stream, up to its
  // start). Microsecond resolution: the overhead is usually well under a millisecond.
  using namespace std::chrono;
  auto own = duration_cast<microseconds>(steady_clock::now() - log.started - log.upstream_time);
  std::string overhead;
  append_millis(overhead, std::max<int64_t>(own.count(), 0));
  head.add("x-keygate-overhead-ms", overhead);
  const bool keep = keep_alive_ && !draining_ && !server_.draining();
  if (request_.version() >= 11 && !keep) {
    head.add("Connection", "close");
  } else if (request_.version() < 11 && keep) {
    head.add("Connection", "keep-alive");
  }
  keep_alive_ = keep;
  return head;
}

void HttpSession::client_lost() {
  client_gone_ = true;
  keep_alive_ = false;
}

std::optional<bool> HttpSession::write_now(const WireBuffers& buffers, std::size_t& written) {
  const std::optional<error_code> done = write_at_once(socket_, buffers, written);
  if (!done) {
    return std::nullopt;
  }
  if (*done) {
    client_lost();
    return false;
  }
  answered_at_once_ = true;
  return true;
}

awaitable<bool> HttpSession::write_wire(const WireBuffers& buffers, std::size_t written) {
  beast::buffers_suffix<WireBuffers> rest(buffers);
  rest.consume(written);
  deadline_.expires_after(server_.limits().write_timeout);
  auto [ec, n] = co_await net::async_write(socket_, rest, use_tuple);
  deadline_.expires_never();
  if (ec) {
    client_lost();
    co_return false;
  }
  co_return true;
}

awaitable<bool> HttpSession::reply_error(const Error& error) {
  add_retry_advice(*this, error);
  // route_ is the request's once routing found it, null before (reset per request).
  const std::string body = route_ != nullptr && route_->errors == ErrorFormat::anthropic
                               ? providers::anthropic_error_body(error)
                               : error.to_json();
  co_return co_await reply(static_cast<http::status>(error.status), body, "application/json");
}

awaitable<bool> HttpSession::reply(http::status status, std::string_view body,
                                   std::string_view content_type) {
  if (responded_ || client_gone_) {
    co_return false;
  }
  responded_ = true;
  status_ = static_cast<unsigned>(status);
  ResponseHead head = common_head(status_);
  head.add("Content-Type", content_type);
  head.add_content_length(body.size());
  const std::string text = head.finish();
  const WireBuffers wire{net::buffer(text), net::buffer(body.data(), body.size())};
  std::size_t written = 0;
  if (const std::optional<bool> done = write_now(wire, written)) {
    co_return *done;
  }
  co_return co_await write_wire(wire, written);
}

awaitable<bool> HttpSession::reply_empty(http::status status) {
  if (responded_ || client_gone_) {
    co_return false;
  }
  responded_ = true;
  status_ = static_cast<unsigned>(status);
  ResponseHead head = common_head(status_);
  // RFC 9110: 1xx, 204 and 304 carry no Content-Length of a body; everything else says 0.
  if (status_ >= 200 && status_ != 204 && status_ != 304) {
    head.add_content_length(0);
  }
  const std::string text = head.finish();
  const WireBuffers wire{net::buffer(text)};
  std::size_t written = 0;
  if (const std::optional<bool> done = write_now(wire, written)) {
    co_return *done;
  }
  co_return co_await write_wire(wire, written);
}

awaitable<bool> HttpSession::start_stream(http::status status) {
  if (responded_ || client_gone_) {
    co_return false;
  }
  responded_ = true;
  streaming_ = true;
  status_ = static_cast<unsigned>(status);
  ++server_.active_streams_counter();
  ResponseHead head = common_head(status_);
  head.add("Content-Type", "text/event-stream");
  head.add("Cache-Control", "no-cache");
  head.add("X-Accel-Buffering", "no");  // tells nginx-style proxies in front not to buffer
  head.add("Transfer-Encoding", "chunked");
  stream_head_ = head.finish();  // sent with the first bytes
  std::vector<std::pair<std::string, std::string>>().swap(response_headers);  // in the head now
  // The handler has read the request body (a chat request is parsed before anything is sent);
  // a long conversation's body can be hundreds of KB, not to be held for a stream's whole length.
  // Nor are its header fields read once the stream's head is built: they go too (the bearer
  // token among them), keeping the method and version for the access log and keep-alive.
  request_.release_storage();
  buffer_.shrink_to_fit();
  co_return true;
}

awaitable<bool> HttpSession::write_stream(std::string_view bytes) {
  if (!streaming_ || client_gone_) {
    co_return false;
  }
  if (bytes.empty()) {
    co_return true;  // an empty chunk would end the chunked body
  }
  char size_line[24];
  const WireBuffers wire{net::buffer(stream_head_),
                         net::buffer(chunk_size_line(bytes.size(), size_line)),
                         net::buffer(bytes.data(), bytes.size()), net::buffer("\r\n", 2)};
  std::size_t written = 0;
  std::optional<bool> ok = write_now(wire, written);
  if (!ok) {
    ok = co_await write_wire(wire, written);
  }
  std::string().swap(stream_head_);
  co_return *ok;
}

awaitable<void> HttpSession::end_stream(std::string_view last_bytes) {
  if (!streaming_) {
    co_return;
  }
  streaming_ = false;
  --server_.active_streams_counter();
  if (client_gone_) {
    std::string().swap(stream_head_);
    co_return;
  }
  char size_line[24];
  WireBuffers wire{net::buffer(stream_head_)};
  if (!last_bytes.empty()) {
    wire[1] = net::buffer(chunk_size_line(last_bytes.size(), size_line));
    wire[2] = net::buffer(last_bytes.data(), last_bytes.size());
    wire[3] = net::buffer("\r\n", 2);
  }
  wire[4] = net::buffer("0\r\n\r\n", 5);  // the last chunk, no trailers
  std::size_t written = 0;
  if (!write_now(wire, written)) {
    co_await write_wire(wire, written);
  }
  std::string().swap(stream_head_);
}

void HttpSession::write_access_log() {
  if (streaming_) {
    // A handler that did not end its stream (client gone): keep the gauge right.
    streaming_ = false;
    --server_.active_streams_counter();
  }
  // One line per request, built by appending (a RapidJSON writer cost more than the rest of the
  // line's work) into a buffer each I/O thread keeps; every value that a client or an operator
  // influences goes through append_json_string. Values keygate made or checked itself (the
  // request id, the method, a token by HTTP's grammar, and the peer's address) are quoted as is.
  using namespace std::chrono;
  const auto elapsed = duration_cast<microseconds>(steady_clock::now() - log.started).count();
  thread_local std::string line;
  line.clear();
  line += "{\"ts_ms\":";
  append_integer(line, duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  line += ",\"level\":\"info\",\"msg\":\"request\",\"request_id\":";
  append_quoted(line, log.request_id);
  line += ",\"method\":";
  append_quoted(line, request_.method_string());
  line += ",\"path\":";
  append_json_string(line, path_);  // path only: the query string could carry anything
  line += ",\"status\":";
  append_integer(line, client_gone_ && status_ == 0 ? 499 : status_);
  line += ",\"duration_ms\":";
  append_millis(line, elapsed);
  if (!log.upstream.empty()) {
    line += ",\"upstream\":";
    append_json_string(line, log.upstream);
    line += ",\"model\":";
    append_json_string(line, log.model);
    line += ",\"upstream_ms\":";
    append_millis(line, duration_cast<microseconds>(log.upstream_time).count());
  }
  if (!caller.user_id.empty()) {
    line += ",\"user\":";
    append_json_string(line, caller.user_name);
  }
  if (client_gone_) {
    line += ",\"client_gone\":true";
  }
  line += ",\"remote\":";
  append_quoted(line, remote_);
  line += '}';
  Logger::instance().write_line(line);
}

}  // namespace keygate::gateway
