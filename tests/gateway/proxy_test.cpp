// The OpenAI-compatible proxy over real loopback HTTP: keygate in-process, a mock OpenAI upstream
// on port 0, a user's token, and the system key from OPENAI_API_KEY.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_providers.hpp"
#include "testing/mock_upstream.hpp"
#include "testing/refusing_port.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kEnvKey = "sk-env-test-key-0000000000001234";

struct ProxyFixture {
  MockUpstream upstream;
  std::unique_ptr<TestGateway> gw;
  explicit ProxyFixture(MockHandler handler, std::function<void(gateway::Config&)> tweak = {})
      : upstream(std::move(handler)) {
    setenv("OPENAI_API_KEY", kEnvKey, 1);
    GatewayOptions options;
    options.base_urls = {{"openai", upstream.base_url("/v1")}};
    options.tweak = std::move(tweak);
    gw = std::make_unique<TestGateway>(options);
  }
  HttpResponse chat(const std::string& body) {
    return http_request(gw->port(), "POST", "/v1/chat/completions", body,
                        {{"authorization", bearer(gw->user_token)}});
  }
};

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

}  // namespace

TEST_CASE("non-stream chat is forwarded with the system key and relayed", "[proxy]") {
  ProxyFixture f(openai_json_handler("Hi there"));
  auto r = f.chat(chat_body("openai/gpt-4o-mini"));
  REQUIRE(r.status == 200);
  auto d = parse(r.body);
  REQUIRE(d.IsObject());
  CHECK(std::string(d["choices"][0]["message"]["content"].GetString()) == "Hi there");
  CHECK_FALSE(r.header("x-request-id").empty());

  auto reqs = f.upstream.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/v1/chat/completions");
  CHECK(reqs[0].header("authorization") == std::string("Bearer ") + kEnvKey);
  auto sent = parse(reqs[0].body);
  // keygate strips its provider prefix: the upstream sees its own model name.
  CHECK(std::string(sent["model"].GetString()) == "gpt-4o-mini");
}

TEST_CASE("a bare model name routes by the catalog", "[proxy]") {
  ProxyFixture f(openai_json_handler());
  auto r = f.chat(chat_body("gpt-4o-mini"));
  REQUIRE(r.status == 200);
  CHECK(parse(f.upstream.requests().at(0).body)["model"].GetString() == std::string("gpt-4o-mini"));
}

TEST_CASE("streaming relays every event and ends with [DONE]", "[proxy][stream]") {
  ProxyFixture f(openai_stream_handler(4));
  auto r = f.chat(chat_body("openai/gpt-4o-mini", true));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type") == "text/event-stream");
  CHECK(r.header("cache-control") == "no-cache");
  CHECK(r.header("x-accel-buffering") == "no");
  auto events = sse_data(r.body);
  REQUIRE(events.size() == 6);  // 4 content chunks, the finish chunk, [DONE]
  CHECK(events.back() == "[DONE]");
  CHECK(events[0].find("tok0") != std::string::npos);
  // keygate asked for usage, but the client did not: the usage chunk is not relayed.
  for (auto& e : events) {
    CHECK(e.find("\"usage\":{") == std::string::npos);
  }
  CHECK(f.upstream.requests().at(0).body.find("\"include_usage\":true") != std::string::npos);
}

TEST_CASE("the usage chunk reaches a client that asked for it", "[proxy][stream]") {
  ProxyFixture f(openai_stream_handler(2));
  auto r =
      f.chat(chat_body("openai/gpt-4o-mini", true, R"("stream_options": {"include_usage": true})"));
  REQUIRE(r.status == 200);
  auto events = sse_data(r.body);
  REQUIRE(events.size() == 5);
  CHECK(events[3].find("\"usage\":{") != std::string::npos);
}

TEST_CASE("stream chunks are relayed the moment they arrive", "[proxy][stream]") {
  // The upstream waits 1.5 s after its first chunk; the client must have it long before.
  ProxyFixture f(openai_paced_stream_handler({"first"}, 1500ms));
  HttpConnection conn(f.gw->port());
  auto t0 = std::chrono::steady_clock::now();
  conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", true),
            {{"authorization", bearer(f.gw->user_token)}});
  REQUIRE(conn.read_header() == 200);
  auto first = conn.read_some();
  auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(first.find("first") != std::string::npos);
  CHECK(elapsed < 1000ms);
  auto rest = conn.read_rest();
  CHECK(rest.find("[DONE]") != std::string::npos);
}

TEST_CASE("an answer larger than the socket takes at once reaches a late reader whole", "[proxy]") {
  // Guards against: the direct write (write_now) taking a partial write for the whole, or the
  // rest (write_wire) resending or skipping bytes. 8 MB is far past what loopback's send buffer
  // takes while the client does not read.
  const std::string content(8 * 1024 * 1024, 'x');
  ProxyFixture f(openai_json_handler(content));
  HttpConnection conn(f.gw->port());
  conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini"),
            {{"authorization", bearer(f.gw->user_token)}});
  std::this_thread::sleep_for(300ms);  // keygate has written what fits and waits for the rest
  REQUIRE(conn.read_header() == 200);
  const std::string body = conn.read_rest();
  auto d = parse(body);
  REQUIRE(d.IsObject());
  CHECK(std::string(d["choices"][0]["message"]["content"].GetString()) == content);
  // The connection is still good for the next request.
  conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini"),
            {{"authorization", bearer(f.gw->user_token)}});
  CHECK(conn.read_header() == 200);
  CHECK(conn.read_rest().size() == body.size());
}

TEST_CASE("a request larger than the socket takes at once reaches the upstream whole", "[proxy]") {
  // Guards against: the direct write to the upstream (UpstreamConnection::write_now) taking a
  // partial write for the whole, or write() resending or skipping bytes of the rest.
  const std::string content(12 * 1024 * 1024, 'q');
  ProxyFixture f(openai_json_handler("ok"));
  f.upstream.set_read_delay(300ms);  // the request fills the buffers; keygate waits for room
  const std::string body = R"({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", )"
                           R"("content": ")" +
                           content + R"("}]})";
  auto r = f.chat(body);
  REQUIRE(r.status == 200);
  auto reqs = f.upstream.requests();
  REQUIRE(reqs.size() == 1);
  auto sent = parse(reqs[0].body);
  REQUIRE(sent.IsObject());
  CHECK(std::string(sent["messages"][0]["content"].GetString()) == content);
}

TEST_CASE("a stream event larger than the socket takes at once reaches a late reader whole",
          "[proxy][stream]") {
  const std::string piece(4 * 1024 * 1024, 'y');
  ProxyFixture f(openai_paced_stream_handler({"first", piece, "last"}, 0ms));
  HttpConnection conn(f.gw->port());
  conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", true),
            {{"authorization", bearer(f.gw->user_token)}});
  std::this_thread::sleep_for(300ms);
  REQUIRE(conn.read_header() == 200);
  const std::string body = conn.read_rest();
  std::string relayed;
  for (const auto& event : sse_data(body)) {
    if (event == "[DONE]") {
      continue;
    }
    auto d = parse(event);
    REQUIRE(d.IsObject());
    const auto& delta = d["choices"][0]["delta"];
    if (delta.HasMember("content") && delta["content"].IsString()) {
      relayed += delta["content"].GetString();
    }
  }
  CHECK(relayed == "first" + piece + "last");
  CHECK(sse_data(body).back() == "[DONE]");
}

TEST_CASE("an answer over the response size limit is a 502, whether it came whole or in pieces",
          "[proxy][errors][limits]") {
  // Guards against: an unbounded read of an upstream's answer into memory. A small answer is
  // taken from what was read with the header (UpstreamResponse::append_buffered), a large one
  // is read on (read_all): both paths enforce the limit.
  for (const std::size_t size : {std::size_t{600}, std::size_t{3 * 1024 * 1024}}) {
    INFO("answer content of " << size << " bytes");
    ProxyFixture f(openai_json_handler(std::string(size, 'z')), [&](gateway::Config& c) {
      c.upstream.max_response_bytes = size / 2 + 256;  // 256: room for the JSON around it
    });
    auto r = f.chat(chat_body("openai/gpt-4o-mini"));
    CHECK(r.status == 502);
    CHECK(r.body.find("larger than the limit") != std::string::npos);
    CHECK(r.body.find("zzzz") == std::string::npos);
    // Under the limit, the same answer passes.
    f.upstream.set_handler(openai_json_handler(std::string(size / 4, 'z')));
    CHECK(f.chat(chat_body("openai/gpt-4o-mini")).status == 200);
  }
}

TEST_CASE("upstream errors keep their status in OpenAI's shape", "[proxy][errors]") {
  ProxyFixture f([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.respond(
        500,
        R"({"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}})");
  });
  auto r = f.chat(chat_body());
  CHECK(r.status == 500);
  auto d = parse(r.body);
  REQUIRE(d.HasMember("error"));
  CHECK(std::string(d["error"]["message"].GetString()).find("server had an error") !=
        std::string::npos);

  f.upstream.set_handler([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.respond(
        429,
        R"({"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}})");
  });
  CHECK(f.chat(chat_body()).status == 429);
}

TEST_CASE("an unreachable upstream is a 502", "[proxy][errors]") {
  RefusingPort dead;
  setenv("OPENAI_API_KEY", kEnvKey, 1);
  GatewayOptions options;
  options.base_urls = {{"openai", dead.base_url("/v1")}};
  TestGateway gw(options);
  auto r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body(),
                        {{"authorization", bearer(gw.user_token)}});
  CHECK(r.status == 502);
  CHECK(error_code_of(r) == "upstream_unreachable");
}

TEST_CASE("a slow upstream hits the first-byte timeout: 504", "[proxy][timeouts]") {
  ProxyFixture f([](MockExchange& ex) -> net::awaitable<void> { co_await ex.sleep(5000ms); },
                 [](gateway::Config& c) { c.upstream.first_byte_timeout = 300ms; });
  auto t0 = std::chrono::steady_clock::now();
  auto r = f.chat(chat_body());
  CHECK(r.status == 504);
  CHECK(error_code_of(r) == "upstream_timeout");
  CHECK(std::chrono::steady_clock::now() - t0 < 3000ms);
}

TEST_CASE("a stalled stream hits the idle timeout and the client gets an error event",
          "[proxy][timeouts][stream]") {
  ProxyFixture f(
      [](MockExchange& ex) -> net::awaitable<void> {
        co_await ex.start_chunked();
        const std::string partial = "data: " + openai_chunk_json("partial", true) + "\n\n";
        co_await ex.send_chunk(partial);
        co_await ex.sleep(5000ms);
      },
      [](gateway::Config& c) { c.upstream.idle_timeout = 300ms; });
  auto r = f.chat(chat_body("openai/gpt-4o-mini", true));
  REQUIRE(r.status == 200);
  auto events = sse_data(r.body);
  REQUIRE(events.size() == 2);
  CHECK(events[0].find("partial") != std::string::npos);
  CHECK(events[1].find("\"error\"") != std::string::npos);
  CHECK(events[1].find("upstream_timeout") != std::string::npos);
  CHECK(r.body.find("[DONE]") == std::string::npos);
}

TEST_CASE("a stream that keeps sending outlasts its idle timeout many times over",
          "[proxy][timeouts][stream]") {
  // The idle timeout is per read: each event pushes it back. (keygate's deadline only records
  // the new time; its timer wakes at the old one, finds it moved, and sleeps again.)
  std::vector<std::string> pieces;
  for (int i = 0; i < 10; ++i) {
    pieces.push_back("e" + std::to_string(i));
  }
  ProxyFixture f(openai_paced_stream_handler(pieces, 100ms),
                 [](gateway::Config& c) { c.upstream.idle_timeout = 250ms; });
  auto r = f.chat(chat_body("openai/gpt-4o-mini", true));
  REQUIRE(r.status == 200);
  CHECK(r.body.find("\"content\":\"e9\"") != std::string::npos);
  CHECK(r.body.find("upstream_timeout") == std::string::npos);
  CHECK(r.body.find("data: [DONE]") != std::string::npos);
}

TEST_CASE("a pooled upstream connection outlives the timeouts of the request that used it",
          "[proxy][timeouts]") {
  ProxyFixture f(status_handler(200, openai_completion_json("pooled")), [](gateway::Config& c) {
    c.upstream.first_byte_timeout = 200ms;
    c.upstream.idle_timeout = 200ms;
  });
  REQUIRE(f.chat(chat_body()).status == 200);
  std::this_thread::sleep_for(600ms);  // three times both timeouts, idle in the pool
  REQUIRE(f.chat(chat_body()).status == 200);
  CHECK(f.upstream.connections_accepted() == 1);
}

TEST_CASE("clients that hang up right after their answer leave the upstream connection pooled",
          "[proxy][pool]") {
  // Guards against: the client-disconnect watcher closing an upstream connection whose response
  // was already read in full. A client that closes as soon as it has its answer (most one-shot
  // clients) would otherwise cost a new upstream connection, and a TLS handshake, per request.
  for (bool stream : {false, true}) {
    INFO((stream ? "stream" : "json"));
    ProxyFixture f(stream ? openai_stream_handler(3)
                          : status_handler(200, openai_completion_json("pooled")));
    for (int i = 0; i < 100; ++i) {
      REQUIRE(f.chat(chat_body("openai/gpt-4o-mini", stream)).status == 200);
    }
    CHECK(f.upstream.connections_accepted() == 1);
  }
}

TEST_CASE("a keep-alive connection idle past the header timeout, within the idle one, still works",
          "[server][timeouts]") {
  // The header's short deadline is replaced by the idle timeout once the request is answered.
  ProxyFixture f(status_handler(200, openai_completion_json("again")), [](gateway::Config& c) {
    c.server.header_read_timeout = 150ms;
    c.server.body_read_timeout = 150ms;
    c.server.write_timeout = 150ms;
    c.server.idle_timeout = 3000ms;
  });
  HttpConnection conn(f.gw->port());
  for (int i = 0; i < 2; ++i) {
    conn.send("POST", "/v1/chat/completions", chat_body(),
              {{"authorization", bearer(f.gw->user_token)}});
    REQUIRE(conn.read_header() == 200);
    CHECK(conn.read_rest().find("again") != std::string::npos);
    std::this_thread::sleep_for(500ms);
  }
}

TEST_CASE("a connect timeout is a 504", "[proxy][timeouts]") {
  // A listener whose backlog is full and never accepts: new SYNs go unanswered.
  net::io_context ioc;
  net::ip::tcp::acceptor full(ioc);
  full.open(net::ip::tcp::v4());
  full.bind({net::ip::make_address("127.0.0.1"), 0});
  full.listen(0);
  auto port = full.local_endpoint().port();
  // Plain non-blocking sockets: their handshakes complete in the kernel and fill the queue.
  std::vector<int> fillers;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 8; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(100ms);
  setenv("OPENAI_API_KEY", kEnvKey, 1);
  GatewayOptions options;
  options.base_urls = {{"openai", "http://127.0.0.1:" + std::to_string(port) + "/v1"}};
  options.tweak = [](gateway::Config& c) { c.upstream.connect_timeout = 300ms; };
  TestGateway gw(options);
  auto r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body(),
                        {{"authorization", bearer(gw.user_token)}});
  CHECK(r.status == 504);
  CHECK(error_code_of(r) == "upstream_timeout");
  CHECK(r.body.find("connecting") != std::string::npos);
  for (int fd : fillers) {
    ::close(fd);
  }
}

TEST_CASE("an upstream cut mid-stream never looks like success", "[proxy][stream][errors]") {
  ProxyFixture f([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.start_chunked();
    const std::string half = "data: " + openai_chunk_json("half", true) + "\n\n";
    co_await ex.send_chunk(half);
    co_await ex.sleep(50ms);
    ex.cut();
  });
  auto r = f.chat(chat_body("openai/gpt-4o-mini", true));
  REQUIRE(r.status == 200);
  auto events = sse_data(r.body);
  REQUIRE(events.size() >= 2);
  CHECK(events.back().find("\"error\"") != std::string::npos);
  CHECK(r.body.find("[DONE]") == std::string::npos);
}

TEST_CASE("a client that disconnects mid-stream cancels the upstream within a second",
          "[proxy][stream][cancel]") {
  ProxyFixture f(openai_stream_handler(100, 100ms));
  {
    HttpConnection conn(f.gw->port());
    conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", true),
              {{"authorization", bearer(f.gw->user_token)}});
    REQUIRE(conn.read_header() == 200);
    REQUIRE_FALSE(conn.read_some().empty());
  }  // hang up
  auto hung_up = std::chrono::steady_clock::now();
  REQUIRE(f.upstream.wait_for_cancellations(1, 2000ms));
  CHECK(*f.upstream.last_cancel_time() - hung_up < 1000ms);
}

TEST_CASE("a client that disconnects before the first byte cancels the upstream",
          "[proxy][cancel]") {
  ProxyFixture f([](MockExchange& ex) -> net::awaitable<void> {
    co_await ex.sleep(10000ms);
    const std::string late = openai_completion_json("too late");
    co_await ex.respond(200, late);
  });
  {
    HttpConnection conn(f.gw->port());
    conn.send("POST", "/v1/chat/completions", chat_body(),
              {{"authorization", bearer(f.gw->user_token)}});
    REQUIRE(f.upstream.wait_for_requests(1, 2000ms));
  }
  auto hung_up = std::chrono::steady_clock::now();
  REQUIRE(f.upstream.wait_for_cancellations(1, 2000ms));
  CHECK(*f.upstream.last_cancel_time() - hung_up < 1000ms);
}

TEST_CASE("malformed chat requests are 400s in OpenAI's shape and reach no upstream",
          "[proxy][validation]") {
  ProxyFixture f(openai_json_handler());
  struct Case {
    const char* body;
    const char* code;
  };
  for (auto c :
       {Case{"{not json", "invalid_json"}, Case{"[1,2]", "invalid_json"},
        Case{R"({"messages": [{"role": "user", "content": "x"}]})", "missing_field"},
        Case{R"({"model": 42, "messages": [{"role": "user", "content": "x"}]})", "missing_field"},
        Case{R"({"model": "gpt-4o-mini"})", "missing_field"},
        Case{R"({"model": "gpt-4o-mini", "messages": []})", "missing_field"},
        Case{R"({"model": "gpt-4o-mini", "messages": "hi"})", "missing_field"},
        Case{R"({"model": "gpt-4o-mini", "messages": [{"content": "x"}]})", "invalid_message"},
        Case{R"({"model": "gpt-4o-mini", "messages": [{"role": "user"}], "stream": "yes"})",
             "invalid_type"},
        Case{R"({"model": "no-such-model-xyz", "messages": [{"role": "user"}]})",
             "model_not_found"}}) {
    INFO(c.body);
    auto r = f.chat(c.body);
    CHECK(r.status == 400);
    CHECK(error_code_of(r) == c.code);
  }
  // A NUL byte, inside or after the document: the parser reads NUL-terminated text, so a NUL must
  // be refused rather than end the document early (and smuggle what follows it past the parser).
  const std::string valid =
      R"({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})";
  for (const std::string& body : {valid + std::string("\0 trailing", 10),
                                  std::string("{\"model\": \"gpt-4o-mini\0x\"}", 26)}) {
    auto r = f.chat(body);
    CHECK(r.status == 400);
    CHECK(error_code_of(r) == "invalid_json");
  }
  CHECK(f.upstream.request_count() == 0);
  // The server is still fine.
  CHECK(f.chat(chat_body()).status == 200);
}

TEST_CASE("GET /v1/models lists models of providers with a usable key", "[proxy]") {
  ProxyFixture f(openai_json_handler());
  unsetenv("ANTHROPIC_API_KEY");
  auto r = http_request(f.gw->port(), "GET", "/v1/models", "",
                        {{"authorization", bearer(f.gw->user_token)}});
  REQUIRE(r.status == 200);
  CHECK(r.body.find("\"openai/gpt-4o-mini\"") != std::string::npos);
  CHECK(r.body.find("\"anthropic/") == std::string::npos);
}

TEST_CASE("requests without a valid token are refused", "[proxy][auth]") {
  ProxyFixture f(openai_json_handler());
  auto none = http_request(f.gw->port(), "POST", "/v1/chat/completions", chat_body());
  CHECK(none.status == 401);
  auto bad = http_request(f.gw->port(), "POST", "/v1/chat/completions", chat_body(),
                          {{"authorization", "Bearer kg_notarealtoken"}});
  CHECK(bad.status == 401);
  auto xkey = http_request(f.gw->port(), "POST", "/v1/chat/completions", chat_body(),
                           {{"x-api-key", f.gw->user_token}});
  CHECK(xkey.status == 200);
  auto query = http_request(f.gw->port(), "POST",
                            "/v1/chat/completions?api_key=" + f.gw->user_token, chat_body());
  CHECK(query.status == 400);
  CHECK(error_code_of(query) == "credential_in_query");
  CHECK(f.upstream.request_count() == 1);
}

TEST_CASE("a key with a line break is refused, never written into the upstream's head", "[proxy]") {
  // Guards against: header injection through a key. A key from the environment is taken as it
  // is (a file read into OPENAI_API_KEY keeps its newline); written raw, "\r\nX-..." would add
  // a field of its own, or split the request.
  ProxyFixture f(openai_json_handler("Hi there"));
  setenv("OPENAI_API_KEY", "sk-env-test-key-0000000000001234\r\nX-Injected: 1", 1);
  auto r = f.chat(chat_body("openai/gpt-4o-mini"));
  setenv("OPENAI_API_KEY", kEnvKey, 1);
  CHECK(r.status == 400);
  CHECK(error_code_of(r) == "invalid_stored_key");
  CHECK(r.body.find("sk-env-test") == std::string::npos);  // the key is not echoed
  CHECK(f.upstream.requests().empty());
}
