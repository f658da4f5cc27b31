// How an upstream's bytes are cut into TCP segments must not change what the client gets, or when.
// keygate parses what it has already read before it reads again, and hands body pieces out as
// views into its read buffer (gateway/upstream_parser.hpp); these tests shape the wire by hand
// (MockExchange::send_raw) to reach each path of that: a header that arrives with its first
// event, events followed by a cut-short chunk, chunks split inside their size line, many chunks
// in one segment, a Content-Length body in pieces, and a body that ends with the connection.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

struct FramingFixture {
  MockUpstream upstream;
  std::unique_ptr<TestGateway> gw;
  explicit FramingFixture(MockHandler handler) : upstream(std::move(handler)) {
    setenv("OPENAI_API_KEY", "sk-env-test-key-0000000000001234", 1);
    GatewayOptions options;
    options.base_urls = {{"openai", upstream.base_url("/v1")}};
    gw = std::make_unique<TestGateway>(options);
  }
  // A non-stream chat request as alice, through keygate to the mock.
  HttpResponse post_chat() const {
    return http_request(gw->port(), "POST", "/v1/chat/completions", chat_body(),
                        {{"authorization", bearer(gw->user_token)}});
  }
};

// A 200 response header for a JSON body of `size` bytes.
std::string json_head(std::size_t size) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(size) + "\r\n\r\n";
}

std::string event(const std::string& content, bool first = false, const char* finish = nullptr) {
  return "data: " + openai_chunk_json(content, first, finish) + "\n\n";
}

std::string chunk(const std::string& data) {
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

// Sends `pieces` 30 ms apart, so that each arrives in a segment of its own.
net::awaitable<void> send_in_pieces(MockExchange& ex, const std::vector<std::string>& pieces) {
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (i > 0) {
      co_await ex.sleep(30ms);
    }
    co_await ex.send_raw(pieces[i]);
  }
}

constexpr std::string_view kChunkedHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST_CASE("a first event that arrives with the header reaches the client before the next one",
          "[proxy][stream][framing]") {
  // The bug this guards: the header read leaves the first chunk in the buffer, and a parser that
  // stops after the chunk's size line waits for more bytes that the upstream is not sending yet.
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    const std::string head_and_first = std::string(kChunkedHead) + chunk(event("first", true));
    co_await ex.send_raw(head_and_first);
    co_await ex.sleep(1500ms);
    const std::string rest = chunk(event("", false, "stop") + "data: [DONE]\n\n") + "0\r\n\r\n";
    co_await ex.send_raw(rest);
  });
  HttpConnection conn(f.gw->port());
  const auto t0 = std::chrono::steady_clock::now();
  conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", true),
            {{"authorization", bearer(f.gw->user_token)}});
  REQUIRE(conn.read_header() == 200);
  const std::string first = conn.read_some();
  CHECK(first.find("first") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);
  const std::string rest = conn.read_rest();
  CHECK(rest.find("[DONE]") != std::string::npos);
}

TEST_CASE("events that arrived are relayed even when the bytes after them wait for more",
          "[proxy][stream][framing]") {
  // keygate writes events that arrive together in one write, and writes only when the next piece
  // would wait on the network. The bug this guards: counting buffered bytes as "more to come"
  // when they are only the start of the next chunk (its size line cut short), so two events sat
  // in keygate until the upstream sent the rest.
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    const std::string next = chunk(event("third"));
    const std::string segment = std::string(kChunkedHead) + chunk(event("first", true)) +
                                chunk(event("second")) + next.substr(0, 1);
    co_await ex.send_raw(segment);
    co_await ex.sleep(1500ms);
    const std::string rest =
        next.substr(1) + chunk(event("", false, "stop") + "data: [DONE]\n\n") + "0\r\n\r\n";
    co_await ex.send_raw(rest);
  });
  HttpConnection conn(f.gw->port());
  const auto t0 = std::chrono::steady_clock::now();
  conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", true),
            {{"authorization", bearer(f.gw->user_token)}});
  REQUIRE(conn.read_header() == 200);
  std::string early;
  while (early.find("second") == std::string::npos &&
         std::chrono::steady_clock::now() - t0 < 3000ms) {
    const std::string piece = conn.read_some();
    if (piece.empty()) {
      break;
    }
    early += piece;
  }
  CHECK(early.find("first") != std::string::npos);
  CHECK(early.find("second") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);
  const std::string rest = conn.read_rest();
  CHECK(rest.find("third") != std::string::npos);
  CHECK(rest.find("[DONE]") != std::string::npos);
}

TEST_CASE("chunks split inside their size line, and many chunks in one segment, all arrive",
          "[proxy][stream][framing]") {
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.send_raw(kChunkedHead);
    // One chunk cut after its first size digit, and inside its data.
    const std::string one = chunk(event("a0", true));
    const std::vector<std::string> cuts{one.substr(0, 1), one.substr(1, 20), one.substr(21)};
    co_await send_in_pieces(ex, cuts);
    // Then twenty chunks, the finish and the terminator in one write.
    std::string many;
    for (int i = 1; i <= 20; ++i) {
      many += chunk(event("a" + std::to_string(i)));
    }
    many += chunk(event("", false, "stop") + "data: [DONE]\n\n") + "0\r\n\r\n";
    co_await ex.send_raw(many);
  });
  auto r = http_request(f.gw->port(), "POST", "/v1/chat/completions",
                        chat_body("openai/gpt-4o-mini", true),
                        {{"authorization", bearer(f.gw->user_token)}});
  REQUIRE(r.status == 200);
  for (int i = 0; i <= 20; ++i) {
    INFO("event a" << i);
    CHECK(r.body.find("\"content\":\"a" + std::to_string(i) + "\"") != std::string::npos);
  }
  CHECK(r.body.find("data: [DONE]") != std::string::npos);
}

TEST_CASE("a burst that grows the reads, cut inside an event, then a pause, arrives whole",
          "[proxy][stream][framing]") {
  // keygate's reads grow while each one fills (up to 64 KiB) and shrink back, giving up the
  // grown buffer, before a read that will wait. Here that buffer still holds the start of the
  // last chunk's size line when it shrinks: the event must come out whole once the rest arrives.
  constexpr int kEvents = 600;  // ~130 KB: several reads, the last ones at 64 KiB
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    std::string burst(kChunkedHead);
    burst += chunk(event("b0", true));
    for (int i = 1; i < kEvents; ++i) {
      burst += chunk(event("b" + std::to_string(i)));
    }
    const std::string last = chunk(event("the last word"));
    burst += last.substr(0, 1);
    co_await ex.send_raw(burst);
    co_await ex.sleep(300ms);
    const std::string rest =
        last.substr(1) + chunk(event("", false, "stop") + "data: [DONE]\n\n") + "0\r\n\r\n";
    co_await ex.send_raw(rest);
  });
  auto r = http_request(f.gw->port(), "POST", "/v1/chat/completions",
                        chat_body("openai/gpt-4o-mini", true),
                        {{"authorization", bearer(f.gw->user_token)}});
  REQUIRE(r.status == 200);
  std::size_t found = 0;
  for (int i = 0; i < kEvents; ++i) {
    found += r.body.find("\"content\":\"b" + std::to_string(i) + "\"") != std::string::npos;
  }
  CHECK(found == kEvents);
  CHECK(r.body.find("\"content\":\"the last word\"") != std::string::npos);
  CHECK(r.body.find("data: [DONE]") != std::string::npos);
}

TEST_CASE("a large Content-Length body in one segment is relayed whole", "[proxy][framing]") {
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json(std::string(300 * 1024, 'x') + "end");
    const std::string wire = json_head(body.size()) + body;
    co_await ex.send_raw(wire);
  });
  auto r = f.post_chat();
  REQUIRE(r.status == 200);
  CHECK(r.body.find(std::string(300 * 1024, 'x') + "end") != std::string::npos);
}

TEST_CASE("a long request body with the next request right behind it: both are served whole",
          "[proxy][framing]") {
  // keygate reads the rest of a body whose length it knows in one read (up to 64 KiB), then
  // trims its read buffer, which here still holds the next request's bytes.
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    const std::string body =
        openai_completion_json("got " + std::to_string(ex.request.body.size()));
    co_await ex.respond(200, body);
  });
  const std::string content(300 * 1024, 'c');
  const std::string body =
      R"({"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":")" + content +
      R"("}]})";
  const std::string auth = "Authorization: Bearer " + f.gw->user_token + "\r\n";
  HttpConnection conn(f.gw->port());
  conn.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: k\r\n" + auth +
                "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body + "GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n");
  REQUIRE(conn.read_header() == 200);
  conn.read_rest();
  REQUIRE(f.upstream.requests().size() == 1);
  CHECK(f.upstream.requests()[0].body.find(content) != std::string::npos);
  REQUIRE(conn.read_header() == 200);
  CHECK(conn.read_rest() == R"({"status":"ok"})");
}

TEST_CASE("a Content-Length JSON body that arrives in pieces is relayed whole",
          "[proxy][framing]") {
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("pieced together");
    const std::string head = json_head(body.size());
    const std::vector<std::string> pieces{head + body.substr(0, 10), body.substr(10, 30),
                                          body.substr(40)};
    co_await send_in_pieces(ex, pieces);
  });
  auto r = f.post_chat();
  REQUIRE(r.status == 200);
  CHECK(r.body.find("pieced together") != std::string::npos);
}

TEST_CASE("a body delimited by the upstream closing the connection ends there",
          "[proxy][framing]") {
  // HTTP/1.1 allows a response without Content-Length or chunking: the body ends at EOF.
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("until close");
    const std::string all =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + body;
    co_await ex.send_raw(all);
    ex.cut();
  });
  auto r = f.post_chat();
  REQUIRE(r.status == 200);
  CHECK(r.body.find("until close") != std::string::npos);
}

TEST_CASE("a Content-Length body cut short by the upstream is a 502, not a partial answer",
          "[proxy][framing][errors]") {
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("never complete");
    const std::string head = json_head(body.size());
    const std::string half = head + body.substr(0, body.size() / 2);
    co_await ex.send_raw(half);
    ex.cut();
  });
  auto r = f.post_chat();
  CHECK(r.status == 502);
  CHECK(r.body.find("\"error\"") != std::string::npos);
  CHECK(r.body.find("never complete") == std::string::npos);
}

TEST_CASE("a response header that arrives in pieces is read whole", "[proxy][framing]") {
  // keygate parses the upstream's header in place and reads only for what is missing; a header
  // cut inside a field, then inside its final blank line, must still be read whole.
  FramingFixture f([](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("header in pieces");
    const std::string head = json_head(body.size());
    // Cut inside a field, then inside the final blank line.
    const std::vector<std::string> pieces{head.substr(0, 20), head.substr(20, head.size() - 21),
                                          head.substr(head.size() - 1) + body};
    co_await send_in_pieces(ex, pieces);
  });
  auto r = f.post_chat();
  CHECK(r.status == 200);
  CHECK(r.body.find("header in pieces") != std::string::npos);
}

TEST_CASE("an upstream that closes inside its header, or before it, is a 502",
          "[proxy][framing][errors]") {
  for (const bool some_bytes : {true, false}) {
    INFO((some_bytes ? "closed inside the header" : "closed before any byte"));
    FramingFixture f([some_bytes](MockExchange& ex) -> net::awaitable<void> {
      if (some_bytes) {
        co_await ex.send_raw("HTTP/1.1 200 OK\r\nContent-Ty");
      }
      ex.cut();
    });
    auto r = f.post_chat();
    CHECK(r.status == 502);
    CHECK(r.body.find("\"error\"") != std::string::npos);
  }
}

TEST_CASE("a pooled connection the upstream closed while idle is replaced without an error",
          "[proxy][framing]") {
  // The upstream answers with keep-alive, then closes the connection while it sits in keygate's
  // pool. The next request finds it dead only when the header read meets the close: that is
  // retried once on a fresh connection (the upstream never saw the request), not a 502.
  std::atomic<int> calls{0};
  FramingFixture f([&calls](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("answer " + std::to_string(++calls));
    const std::string response = json_head(body.size()) + body;
    co_await ex.send_raw(response);
    if (calls == 1) {
      co_await ex.sleep(100ms);  // keygate has put the connection back in its pool by now
      ex.cut();
    }
  });
  auto first = f.post_chat();
  REQUIRE(first.status == 200);
  std::this_thread::sleep_for(300ms);
  auto second = f.post_chat();
  CHECK(second.status == 200);
  CHECK(second.body.find("answer 2") != std::string::npos);
  CHECK(f.upstream.connections_accepted() == 2);
  // Replaced inside the transport, not by the router's retry after a failed attempt (which
  // would also end in a 200, but count an upstream error and pause first).
  auto metrics = http_request(f.gw->port(), "GET", "/metrics", "",
                              {{"authorization", bearer(f.gw->admin_token)}});
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("keygate_upstream_errors_total{") == std::string::npos);
}

TEST_CASE("interim 1xx answers are read past, and never left for the next request to read",
          "[proxy][framing]") {
  // The bug this guards: an upstream's 103 Early Hints (or 100 Continue) was taken for the
  // answer, and the real answer stayed on the pooled connection, where the next request, another
  // user's, read it as its own.
  std::atomic<int> calls{0};
  FramingFixture f([&calls](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("answer " + std::to_string(++calls));
    const std::string response =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n" +
        json_head(body.size()) + body;
    co_await ex.send_raw(response);
  });
  for (int i = 1; i <= 3; ++i) {
    auto r = f.post_chat();
    INFO(r.body);
    CHECK(r.status == 200);
    CHECK(r.body.find("answer " + std::to_string(i)) != std::string::npos);
  }
  CHECK(f.upstream.request_count() == 3);
}

TEST_CASE("bytes after an answer close its connection instead of reaching the next request",
          "[proxy][framing]") {
  // An upstream that writes past the end of its answer (a second response, junk) leaves the
  // connection out of step: pooled, the next request would take those bytes for its answer.
  std::atomic<int> calls{0};
  FramingFixture f([&calls](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("answer " + std::to_string(++calls));
    const std::string injected = openai_completion_json("INJECTED");
    const std::string response =
        json_head(body.size()) + body + json_head(injected.size()) + injected;
    co_await ex.send_raw(response);
  });
  for (int i = 1; i <= 3; ++i) {
    auto r = f.post_chat();
    INFO(r.body);
    CHECK(r.status == 200);
    CHECK(r.body.find("answer " + std::to_string(i)) != std::string::npos);
    CHECK(r.body.find("INJECTED") == std::string::npos);
  }
  CHECK(f.upstream.request_count() == 3);
}

TEST_CASE("an upstream status that is not an answer (1xx alone, 3xx, 999) is a 502",
          "[proxy][framing]") {
  for (const char* head : {"HTTP/1.1 304 Not Modified\r\n\r\n",
                           "HTTP/1.1 307 Temporary Redirect\r\nLocation: /v2\r\nContent-Length: "
                           "0\r\n\r\n",
                           "HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\n{}",
                           "HTTP/1.1 101 Switching Protocols\r\n\r\n",
                           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
                           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
                           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"}) {
    INFO(head);
    const std::string bytes = head;
    FramingFixture f([bytes](MockExchange& ex) -> net::awaitable<void> {
      co_await ex.send_raw(bytes);
      co_await ex.sleep(200ms);
      ex.cut();
    });
    auto r = f.post_chat();
    INFO(r.body);
    CHECK(r.status == 502);
    CHECK(error_code_of(r) == "upstream_invalid_response");
  }
}

TEST_CASE("bytes an upstream writes after its answer, later, keep the connection out of the pool",
          "[proxy][framing]") {
  // The late form of the bug above: the extra bytes arrive once keygate has read the answer, and
  // wait in the socket while the connection idles in the pool.
  std::atomic<int> calls{0};
  FramingFixture f([&calls](MockExchange& ex) -> net::awaitable<void> {
    const std::string body = openai_completion_json("answer " + std::to_string(++calls));
    const std::string response = json_head(body.size()) + body;
    co_await ex.send_raw(response);
    co_await ex.sleep(50ms);
    const std::string injected = openai_completion_json("INJECTED");
    const std::string late = json_head(injected.size()) + injected;
    co_await ex.send_raw(late);
  });
  for (int i = 1; i <= 3; ++i) {
    auto r = f.post_chat();
    INFO(r.body);
    CHECK(r.status == 200);
    CHECK(r.body.find("answer " + std::to_string(i)) != std::string::npos);
    std::this_thread::sleep_for(200ms);  // the late bytes are in by now
  }
  CHECK(f.upstream.request_count() == 3);
}

TEST_CASE("a pooled connection that answered 1xx and then closed is not retried as stale",
          "[proxy][framing]") {
  // Guards against sending a request twice: an interim answer says the upstream started on it,
  // so a close after it is a failure (502), not a stale connection to retry elsewhere.
  std::atomic<int> calls{0};
  FramingFixture f([&calls](MockExchange& ex) -> net::awaitable<void> {
    if (++calls == 1) {
      const std::string body = openai_completion_json("first");
      const std::string response = json_head(body.size()) + body;
      co_await ex.send_raw(response);
      co_return;
    }
    co_await ex.send_raw("HTTP/1.1 103 Early Hints\r\n\r\n");
    co_await ex.sleep(50ms);
    ex.cut();
  });
  REQUIRE(f.post_chat().status == 200);
  auto second = f.post_chat();
  CHECK(second.status == 502);
  // The first call, then the router's two attempts at the second (retries_per_target: 1), each
  // a 103 and a close; a transport that took the pooled connection's close for a stale one would
  // have sent the first attempt again, on a fresh connection: four.
  CHECK(calls.load() == 3);
}
