// The HTTP server's limits and plain answers, over real loopback connections.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "gateway/memory_trim.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

TEST_CASE("healthz is open and answers ok", "[server]") {
  TestGateway gw;
  auto r = http_request(gw.port(), "GET", "/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"ok"})");
  auto ready = http_request(gw.port(), "GET", "/readyz");
  CHECK(ready.status == 200);
}

TEST_CASE("unknown paths are 404 and wrong methods 405, in OpenAI's error shape", "[server]") {
  TestGateway gw;
  auto r = http_request(gw.port(), "GET", "/v1/nothing-here");
  CHECK(r.status == 404);
  CHECK(r.body.find("\"error\"") != std::string::npos);
  CHECK(http_request(gw.port(), "DELETE", "/healthz").status == 405);
}

TEST_CASE("an oversized body is refused with 413 before it is read", "[server][limits]") {
  TestGateway gw(
      GatewayOptions{.tweak = [](gateway::Config& c) { c.server.max_body_bytes = 1024; }});
  std::string big(4096, 'x');
  auto r = http_request(gw.port(), "POST", "/v1/chat/completions", big,
                        {{"authorization", bearer(gw.user_token)}});
  CHECK(r.status == 413);
  CHECK(r.body.find("payload_too_large") != std::string::npos);
  // The server keeps serving.
  CHECK(http_request(gw.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("a chunked body over the limit is a 413 too", "[server][limits]") {
  TestGateway gw(
      GatewayOptions{.tweak = [](gateway::Config& c) { c.server.max_body_bytes = 1024; }});
  HttpConnection conn(gw.port());
  std::string chunk(800, 'y');
  char size[16];
  std::snprintf(size, sizeof size, "%zx", chunk.size());
  conn.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                gw.user_token + "\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\n" + chunk +
                "\r\n" + size + "\r\n" + chunk + "\r\n0\r\n\r\n");
  CHECK(conn.read_header() == 413);
}

TEST_CASE("an oversized header gets 431", "[server][limits]") {
  TestGateway gw;
  auto r = http_request(gw.port(), "GET", "/healthz", "", {{"x-big", std::string(20000, 'h')}});
  CHECK(r.status == 431);
}

TEST_CASE("a header that trickles in (slowloris) is cut off at the header timeout",
          "[server][limits]") {
  // Like nginx's client_header_timeout: the connection is closed (no answer is owed to a client
  // that never finished its request).
  TestGateway gw(
      GatewayOptions{.tweak = [](gateway::Config& c) { c.server.header_read_timeout = 300ms; }});
  HttpConnection conn(gw.port());
  auto t0 = std::chrono::steady_clock::now();
  bool cut = false;
  for (int i = 0; i < 30 && !cut; ++i) {
    try {
      conn.send_raw(i == 0 ? "GET /healthz HTTP/1.1\r\nHost: x\r\n" : "X-Slow: 1\r\n");
    } catch (const std::exception&) {
      cut = true;  // the server closed the connection
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  CHECK((cut || conn.closed_by_peer(500ms)));
  CHECK(std::chrono::steady_clock::now() - t0 < 2000ms);
  CHECK(http_request(gw.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout", "[server][limits]") {
  TestGateway gw(
      GatewayOptions{.tweak = [](gateway::Config& c) { c.server.idle_timeout = 300ms; }});
  HttpConnection conn(gw.port());
  conn.send("GET", "/healthz", "");
  REQUIRE(conn.read_header() == 200);
  conn.read_rest();
  CHECK(conn.closed_by_peer(2000ms));
}

TEST_CASE("keep-alive serves several requests on one connection", "[server]") {
  TestGateway gw;
  HttpConnection conn(gw.port());
  for (int i = 0; i < 3; ++i) {
    conn.send("GET", "/healthz", "");
    REQUIRE(conn.read_header() == 200);
    CHECK(conn.read_rest() == R"({"status":"ok"})");
  }
}

TEST_CASE("connections over the cap get a 503 and the server keeps going", "[server][limits]") {
  TestGateway gw(GatewayOptions{.tweak = [](gateway::Config& c) { c.server.max_connections = 2; }});
  HttpConnection a(gw.port()), b(gw.port());
  a.send("GET", "/healthz", "");
  REQUIRE(a.read_header() == 200);
  a.read_rest();
  b.send("GET", "/healthz", "");
  REQUIRE(b.read_header() == 200);
  b.read_rest();
  HttpConnection c(gw.port());
  auto answer = c.read_raw(2000ms);
  CHECK(answer.find("503") != std::string::npos);
  a.close();
  b.close();
  std::this_thread::sleep_for(200ms);
  CHECK(http_request(gw.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("garbage instead of HTTP gets a 400 and does not hurt the server", "[server]") {
  TestGateway gw;
  HttpConnection conn(gw.port());
  conn.send_raw("\x01\x02 this is not http\r\n\r\n");
  CHECK(conn.read_raw().find("400") != std::string::npos);
  CHECK(http_request(gw.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("a malformed chunked body gets a 400, not a silently closed connection", "[server]") {
  TestGateway gw;
  HttpConnection conn(gw.port());
  conn.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                gw.user_token +
                "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\n{}\r\n0\r\n\r\n");
  const std::string answer = conn.read_raw();
  INFO(answer);
  CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(answer.find("bad_http") != std::string::npos);
  CHECK(http_request(gw.port(), "GET", "/healthz").status == 200);
}

namespace {
std::atomic<int> trims{0};
void count_trim() {
  trims.fetch_add(1);
}
}  // namespace

TEST_CASE("a running server hands free memory back once a second, and keeps serving",
          "[server][memory]") {
  // Guards against: the allocator's trim never running (pages freed by connections gone idle
  // would stay resident: gateway/memory_trim.hpp), or running so often it costs the hot path.
  gateway::set_memory_trim(&count_trim);
  trims = 0;
  {
    TestGateway gw;
    std::this_thread::sleep_for(2600ms);
    CHECK(http_request(gw.port(), "GET", "/healthz").status == 200);
    const int seen = trims.load();
    CHECK(seen >= 2);
    CHECK(seen <= 3);
  }
  gateway::set_memory_trim(nullptr);
}

TEST_CASE("a request counts as in flight from its header until its answer is done", "[server]") {
  // The usage writer pauses less often while several requests are in hand (the count's reader,
  // keystore/usage_writer.hpp busy_slice). Guards against a count that misses requests, or keeps
  // one after its answer: the writer's pacing would be wrong for as long as the server runs.
  MockUpstream upstream([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.sleep(400ms);
    const std::string body = openai_completion_json("slow hello");
    co_await ex.respond(200, body);
  });
  setenv("OPENAI_API_KEY", "sk-env-test-key-0000000000001234", 1);
  GatewayOptions options;
  options.base_urls = {{"openai", upstream.base_url("/v1")}};
  TestGateway gw(options);
  const gateway::Server& server = gw.app().server();
  auto settles_at_zero = [&] {
    for (int i = 0; i < 200 && server.requests_in_flight() != 0; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    return server.requests_in_flight() == 0;
  };
  CHECK(server.requests_in_flight() == 0);

  std::atomic<int> ok{0};
  auto chat = [&] {
    auto r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body(),
                          {{"authorization", bearer(gw.user_token)}});
    ok += r.status == 200 ? 1 : 0;
  };
  std::thread first(chat);
  std::thread second(chat);
  const bool both_upstream = upstream.wait_for_requests(2, 5s);
  CHECK(both_upstream);
  CHECK(server.requests_in_flight() == 2);  // both wait on the upstream
  first.join();
  second.join();
  CHECK(ok == 2);
  CHECK(settles_at_zero());

  // Refusals and errors are answered requests too: none stays counted.
  CHECK(http_request(gw.port(), "GET", "/v1/nothing-here").status == 404);
  CHECK(http_request(gw.port(), "POST", "/v1/chat/completions", chat_body(),
                     {{"authorization", "Bearer kg_not_a_token"}})
            .status == 401);
  CHECK(http_request(gw.port(), "POST", "/v1/chat/completions", "{not json",
                     {{"authorization", bearer(gw.user_token)}})
            .status == 400);
  CHECK(settles_at_zero());
}
