#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/log_capture.hpp"

using namespace keygate;
using namespace keygate::testing;

namespace {

// The logged lines whose "msg" is "request", each parsed; a line that is not a JSON object
// fails the test.
std::vector<rapidjson::Document> request_lines(const std::string& text) {
  std::vector<rapidjson::Document> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str(), line.size());
    INFO(line);
    REQUIRE_FALSE(d.HasParseError());
    REQUIRE(d.IsObject());
    if (d.HasMember("msg") && d["msg"].IsString() &&
        std::string(d["msg"].GetString()) == "request") {
      out.push_back(std::move(d));
    }
  }
  return out;
}

std::string str(const rapidjson::Value& v, const char* name) {
  return v.HasMember(name) && v[name].IsString() ? v[name].GetString() : "<missing>";
}

}  // namespace

TEST_CASE("each request's access-log line is valid JSON with what the client sent and got",
          "[server][log]") {
  // Guards the values the line quotes without escaping (request id, method, peer address): an
  // odd but valid method, with every punctuation character HTTP allows in one, must still give
  // a JSON line; so must a path with escapes, quoted by the escaping writer.
  LogCapture log;
  TestGateway gw;
  const std::string odd_method = "M-!#$%&'*+.^_`|~9";
  HttpResponse odd;
  {
    HttpConnection conn(gw.port());  // raw: the test client sends only the methods it knows
    conn.send_raw(odd_method + " /healthz HTTP/1.1\r\nHost: keygate\r\n\r\n");
    odd.status = conn.read_header();
    odd.headers["x-request-id"] = conn.header("x-request-id");
    conn.read_rest();
  }
  auto escaped = http_request(gw.port(), "GET", "/v1/%22x%5C?q=1");
  auto ok = http_request(gw.port(), "GET", "/healthz");
  REQUIRE(ok.status == 200);
  REQUIRE(odd.status == 405);
  REQUIRE(escaped.status == 404);

  gw.stop();  // every line is written by the time the server is down
  const auto lines = request_lines(log.text());
  REQUIRE(lines.size() == 3);
  // Lines are matched by request id, not by order: each response goes to the socket before its
  // line is logged, so the next request (on another connection, maybe another I/O thread) can
  // be logged first.
  auto line_for = [&](const HttpResponse& response) -> const rapidjson::Value& {
    const std::string id = response.header("x-request-id");
    for (const auto& line : lines) {
      if (str(line, "request_id") == id)
        return line;
    }
    FAIL("no access-log line for request id " << id);
    return lines.front();
  };
  const std::vector<std::tuple<const HttpResponse*, std::string, std::string>> expected = {
      {&odd, odd_method, "/healthz"}, {&escaped, "GET", "/v1/%22x%5C"}, {&ok, "GET", "/healthz"}};
  for (const auto& [response, method, path] : expected) {
    const auto& line = line_for(*response);
    CHECK(str(line, "method") == method);
    CHECK(line["status"].GetInt() == response->status);
    CHECK(str(line, "remote") == "127.0.0.1");
    CHECK(str(line, "path") == path);
  }
}
