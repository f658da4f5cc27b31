#include "testing/http_client.hpp"

#include <cctype>

namespace keygate::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::ip::tcp;

std::string bearer(const std::string& token) {
  return "Bearer " + token;
}

HttpResponse http_request(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body, const Headers& headers,
                          std::chrono::milliseconds timeout) {
  HttpConnection conn(port);
  conn.send(method, target, body, headers);
  HttpResponse r;
  r.status = conn.read_header(timeout);
  if (r.status == 0) {
    return r;
  }
  r.headers = conn.headers();
  r.body = conn.read_rest(timeout);
  return r;
}

HttpConnection::HttpConnection(uint16_t port) : stream_(ioc_), chunk_(64 * 1024) {
  stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
}

HttpConnection::~HttpConnection() {
  close();
}

void HttpConnection::close() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

void HttpConnection::send(const std::string& method, const std::string& target,
                          const std::string& body, const Headers& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (auto& [k, v] : headers) {
    req.set(k, v);
  }
  if (!body.empty() && req[http::field::content_type].empty()) {
    req.set(http::field::content_type, "application/json");
  }
  req.body() = body;
  req.prepare_payload();
  http::write(stream_, req);
  parser_.reset();
}

void HttpConnection::send_raw(const std::string& bytes) {
  net::write(stream_, net::buffer(bytes));
}

bool HttpConnection::run_for(std::chrono::milliseconds timeout) {
  ioc_.restart();
  ioc_.run_for(timeout);
  return true;
}

int HttpConnection::read_header(std::chrono::milliseconds timeout) {
  parser_ = std::make_unique<http::response_parser<http::buffer_body>>();
  failed_ = false;
  parser_->body_limit(boost::none);
  boost::system::error_code result = net::error::timed_out;
  bool done = false;
  stream_.expires_after(timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [&](boost::system::error_code ec, std::size_t) {
                            result = ec;
                            done = true;
                          });
  run_for(timeout + std::chrono::milliseconds(100));
  if (!done || result) {
    return 0;
  }
  return static_cast<int>(parser_->get().result_int());
}

std::map<std::string, std::string> HttpConnection::headers() const {
  std::map<std::string, std::string> all;
  if (parser_) {
    for (const auto& field : parser_->get()) {
      std::string name(field.name_string());
      for (char& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      all[name] = std::string(field.value());
    }
  }
  return all;
}

std::string HttpConnection::header(const std::string& name) const {
  if (!parser_) {
    return {};
  }
  auto it = parser_->get().find(name);
  return it == parser_->get().end() ? std::string() : std::string(it->value());
}

std::string HttpConnection::read_some(std::chrono::milliseconds timeout) {
  // A read may consume only chunk framing; keep reading until body bytes or the end.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (parser_ && !parser_->is_done() && std::chrono::steady_clock::now() < deadline) {
    auto& body = parser_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    boost::system::error_code result = net::error::timed_out;
    bool done = false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    stream_.expires_after(left);
    http::async_read_some(stream_, buffer_, *parser_,
                          [&](boost::system::error_code ec, std::size_t) {
                            result = ec;
                            done = true;
                          });
    run_for(left + std::chrono::milliseconds(100));
    if (!done || (result && result != http::error::need_buffer)) {
      failed_ = true;
      return {};
    }
    std::size_t got = chunk_.size() - body.size;
    if (got > 0) {
      return std::string(chunk_.data(), got);
    }
  }
  return {};
}

std::string HttpConnection::read_rest(std::chrono::milliseconds timeout) {
  std::string all;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (parser_ && !parser_->is_done() && !failed_ &&
         std::chrono::steady_clock::now() < deadline) {
    all += read_some(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
  }
  return all;
}

std::string HttpConnection::read_raw(std::chrono::milliseconds timeout) {
  // No stream expiry here: beast closes the socket when it expires, and a caller may want to
  // keep writing after a quiet read.
  std::vector<char> buf(64 * 1024);
  std::size_t got = 0;
  bool done = false;
  stream_.expires_never();
  stream_.socket().async_read_some(net::buffer(buf), [&](boost::system::error_code, std::size_t n) {
    got = n;
    done = true;
  });
  run_for(timeout);
  if (!done) {
    boost::system::error_code ignored;
    stream_.socket().cancel(ignored);
    ioc_.restart();
    ioc_.run_for(std::chrono::milliseconds(100));
  }
  return std::string(buf.data(), got);
}

bool HttpConnection::closed_by_peer(std::chrono::milliseconds timeout) {
  std::vector<char> buf(64 * 1024);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code result = net::error::timed_out;
    std::size_t got = 0;
    bool done = false;
    stream_.expires_after(deadline - std::chrono::steady_clock::now());
    stream_.async_read_some(net::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
      result = ec;
      got = n;
      done = true;
    });
    run_for(std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now()) +
            std::chrono::milliseconds(100));
    if (!done) {
      return false;
    }
    if (result == net::error::eof || result == net::error::connection_reset) {
      return true;
    }
    if (result) {
      return false;
    }
  }
  return false;
}

std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    auto end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      break;
    }
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

std::string error_code_of(const HttpResponse& response) {
  auto d = parse_json(response.body);
  if (!d.IsObject() || !d.HasMember("error") || !d["error"].IsObject() ||
      !d["error"].HasMember("code") || !d["error"]["code"].IsString()) {
    return "<no error code in: " + response.body + ">";
  }
  return d["error"]["code"].GetString();
}

}  // namespace keygate::testing
