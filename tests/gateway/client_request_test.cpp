#include <catch2/catch.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <cstring>
#include <string>
#include <string_view>

#include "gateway/buffered_parse.hpp"
#include "gateway/client_request.hpp"

using namespace keygate::gateway;
namespace http = boost::beast::http;

namespace {

// Parses `text` whole into `request`; the parser's error (none when the request is complete).
boost::system::error_code parse(ClientRequest& request, std::string_view text,
                                std::uint64_t body_limit = 1024 * 1024) {
  ClientRequestParser parser(request);
  parser.body_limit(body_limit);
  boost::beast::flat_buffer buffer;
  auto space = buffer.prepare(text.size());
  std::memcpy(space.data(), text.data(), text.size());
  buffer.commit(text.size());
  return feed_parser(parser, buffer, false);
}

}  // namespace

TEST_CASE("a request's start line, fields and body are kept", "[client_request]") {
  ClientRequest r;
  const auto ec = parse(r,
                        "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
                        "Host: keygate\r\n"
                        "Authorization: Bearer kg_abc\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: 11\r\n"
                        "\r\n"
                        "{\"a\":\"bc\"}\n");
  REQUIRE_FALSE(ec);
  CHECK(r.method() == http::verb::post);
  CHECK(r.method_string() == "POST");
  CHECK(r.target() == "/v1/chat/completions?x=1");
  CHECK(r.version() == 11);
  CHECK(r.keep_alive());
  CHECK(r.field_count() == 4);
  CHECK(r["authorization"] == "Bearer kg_abc");
  CHECK(r["CONTENT-TYPE"] == "application/json");
  CHECK(r.body() == "{\"a\":\"bc\"}\n");
  CHECK_FALSE(r.find("x-agent-id"));
  CHECK(r["x-agent-id"].empty());
}

TEST_CASE("a field sent empty is found, and the first of two fields counts", "[client_request]") {
  // Guards against an empty X-Agent-Id being read as absent (it is an error, not "no agent").
  ClientRequest r;
  REQUIRE_FALSE(parse(r,
                      "GET / HTTP/1.1\r\nX-Agent-Id:\r\nX-Api-Key: first\r\n"
                      "x-api-key: second\r\n\r\n"));
  REQUIRE(r.find("x-agent-id"));
  CHECK(r.find("x-agent-id")->empty());
  CHECK(r["x-api-key"] == "first");
}

TEST_CASE("keep-alive follows the version and the Connection field", "[client_request]") {
  ClientRequest r;
  REQUIRE_FALSE(parse(r, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK_FALSE(r.keep_alive());
  REQUIRE_FALSE(parse(r, "GET / HTTP/1.0\r\n\r\n"));
  CHECK(r.version() == 10);
  CHECK_FALSE(r.keep_alive());
  REQUIRE_FALSE(parse(r, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK(r.keep_alive());
  REQUIRE_FALSE(parse(r, "GET / HTTP/1.1\r\n\r\n"));
  CHECK(r.keep_alive());
}

TEST_CASE("a chunked body is joined, trailer fields included", "[client_request]") {
  ClientRequest r;
  REQUIRE_FALSE(parse(r,
                      "POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"));
  CHECK(r.body() == "abcdefg");
  CHECK(r["x-trailer"] == "t");
}

TEST_CASE("the next request on a connection sees none of the one before", "[client_request]") {
  // Guards against a field (a token) or body of one request leaking into the next: the same
  // object is filled for every request of a session.
  ClientRequest r;
  REQUIRE_FALSE(parse(r,
                      "POST /a HTTP/1.1\r\nAuthorization: Bearer kg_one\r\nX-Agent-Id: bot\r\n"
                      "Content-Length: 5\r\n\r\nhello"));
  REQUIRE_FALSE(parse(r, "GET /b HTTP/1.1\r\nX-Api-Key: kg_two\r\n\r\n"));
  CHECK(r.method() == http::verb::get);
  CHECK(r.target() == "/b");
  CHECK(r.field_count() == 1);
  CHECK_FALSE(r.find("authorization"));
  CHECK_FALSE(r.find("x-agent-id"));
  CHECK(r["x-api-key"] == "kg_two");
  CHECK(r.body().empty());
}

TEST_CASE("a kept request keeps its storage, up to a bound", "[client_request]") {
  ClientRequest r;
  REQUIRE_FALSE(
      parse(r, "POST /a HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x')));
  const auto small = r.body().capacity();
  r.clear();
  CHECK(r.body().capacity() == small);
  REQUIRE_FALSE(
      parse(r, "POST /a HTTP/1.1\r\nContent-Length: 200000\r\n\r\n" + std::string(200000, 'x')));
  CHECK(r.body().size() == 200000);
  r.clear();
  CHECK(r.body().capacity() < 200000);  // a long conversation is not held by an idle connection
}

TEST_CASE("release_storage keeps only the method and version", "[client_request]") {
  ClientRequest r;
  REQUIRE_FALSE(parse(r,
                      "POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer kg_x\r\n"
                      "Content-Length: 2\r\n\r\n{}"));
  r.release_storage();
  CHECK(r.method_string() == "POST");
  CHECK(r.version() == 10);
  CHECK(r.field_count() == 0);
  CHECK_FALSE(r.find("authorization"));
  CHECK(r.body().capacity() == std::string().capacity());
  CHECK(r.target().empty());
}

TEST_CASE("the parser's limits and errors still apply", "[client_request]") {
  ClientRequest r;
  CHECK(parse(r, "POST /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'), 10) ==
        http::error::body_limit);
  CHECK(parse(r, "GET / HTTP/1.1\r\nBad Field: x\r\n\r\n"));
  CHECK(parse(r, "GET / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"));
  CHECK(parse(r, "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab") == http::error::need_more);
}

TEST_CASE("a method is any HTTP token, kept as sent", "[client_request]") {
  ClientRequest r;
  REQUIRE_FALSE(parse(r, "M-!#$%&'*+.^_`|~9 / HTTP/1.1\r\n\r\n"));
  CHECK(r.method() == http::verb::unknown);
  CHECK(r.method_string() == "M-!#$%&'*+.^_`|~9");
  CHECK(parse(r, "M\"X / HTTP/1.1\r\n\r\n"));
  CHECK(parse(r, "M\\X / HTTP/1.1\r\n\r\n"));
}
