#pragma once
// A small blocking HTTP/1.1 client for tests: whole requests, or a response read event by event,
// and the ability to hang up mid-response (a client that goes away).

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

namespace keygate::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection. status 0 when the connection failed or was closed.
HttpResponse http_request(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = {}, const Headers& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A connection kept open across calls; reads a streamed response piece by piece.
class HttpConnection {
 public:
  explicit HttpConnection(uint16_t port);
  ~HttpConnection();
  void send(const std::string& method, const std::string& target, const std::string& body,
            const Headers& headers = {});
  // Sends raw bytes (malformed requests, slow headers).
  void send_raw(const std::string& bytes);
  // Reads the response header; returns the status (0 on error or close).
  int read_header(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::string header(const std::string& name) const;
  // Every header field, by lower-case name (the last of a repeated one).
  std::map<std::string, std::string> headers() const;
  // Next body bytes (empty at the end or on error).
  std::string read_some(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Reads the rest of the body.
  std::string read_rest(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Raw read of whatever arrives (for malformed-request answers); empty on close.
  std::string read_raw(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void close();

 private:
  bool run_for(std::chrono::milliseconds timeout);
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser_;
  std::vector<char> chunk_;
  bool failed_ = false;  // the last read failed (closed, timed out)
};

// SSE "data:" payloads found in a body.
std::vector<std::string> sse_data(const std::string& body);

std::string bearer(const std::string& token);

// An answer's body as JSON (a parse error leaves a non-object document).
rapidjson::Document parse_json(const std::string& text);
// The OpenAI-shaped error's code, or a text that says there was none (and shows the body).
std::string error_code_of(const HttpResponse& response);

}  // namespace keygate::testing
