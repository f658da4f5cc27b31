// UpstreamRequestMessage: the upstream request's head written as it goes on the wire, in wiping
// memory. A field that could split the head is refused whole; the first value of a field wins.

#include <catch2/catch.hpp>

#include <string>

#include "gateway/upstream_request.hpp"

using keygate::gateway::UpstreamRequestMessage;

namespace {

std::string head_of(const UpstreamRequestMessage& m) {
  return std::string(m.head().data(), m.head().size());
}

}  // namespace

TEST_CASE("the head is the request line, the fields in order, Host, Content-Length, a blank line",
          "[upstream_request]") {
  UpstreamRequestMessage m("POST", "/v1/chat/completions");
  CHECK(m.set("anthropic-version", "2023-06-01"));
  CHECK(m.set("Authorization", "Bearer ", "sk-test-123"));
  CHECK(m.set("Content-Type", "application/json"));
  m.body() = R"({"model":"x"})";
  m.finish("api.example.com");
  CHECK(head_of(m) ==
        "POST /v1/chat/completions HTTP/1.1\r\n"
        "anthropic-version: 2023-06-01\r\n"
        "Authorization: Bearer sk-test-123\r\n"
        "Content-Type: application/json\r\n"
        "Host: api.example.com\r\n"
        "Content-Length: 13\r\n"
        "\r\n");
  m.finish("other.example.com");  // once only: a retried request is not changed
  CHECK(head_of(m).find("other") == std::string::npos);
  CHECK_FALSE(m.set("X-Late", "1"));  // nor is a finished head
}

TEST_CASE("the first value of a field wins, whatever the case of its name", "[upstream_request]") {
  // Guards against: keygate's default Accept or Content-Type overriding a provider's own, or
  // being sent twice.
  UpstreamRequestMessage m("POST", "/x");
  CHECK(m.set("accept", "text/event-stream"));
  CHECK_FALSE(m.set("Accept", "application/json"));
  CHECK(m.has("ACCEPT"));
  CHECK_FALSE(m.has("Accept-Encoding"));  // a prefix of another name is not that name
  CHECK(m.set("Accept-Encoding", "identity"));
  CHECK_FALSE(m.has("POST"));  // the request line is no field
  m.finish("h");
  const std::string head = head_of(m);
  CHECK(head.find("application/json") == std::string::npos);
  CHECK(head.find("accept: text/event-stream\r\n") != std::string::npos);
}

TEST_CASE("a field that could split the head is refused whole", "[upstream_request]") {
  // Guards against: header injection (a key or a configured value with CR or LF in it) and
  // half-written fields.
  UpstreamRequestMessage m("POST", "/x");
  const std::string before = head_of(m);
  CHECK_FALSE(m.set("Authorization", "Bearer ", "sk-abc\r\nX-Injected: 1"));
  CHECK_FALSE(m.set("Authorization", "Bearer ", "sk-abc\ndef"));
  CHECK_FALSE(m.set("X-Key", std::string("a\0b", 3)));
  CHECK_FALSE(m.set("X-Key", "a\x7f"));
  CHECK_FALSE(m.set("X Key", "1"));
  CHECK_FALSE(m.set("X:Key", "1"));
  CHECK_FALSE(m.set("", "1"));
  CHECK_FALSE(m.set("X-Key\r\nX-Injected", "1"));
  CHECK_FALSE(m.set("X(Key)", "1"));  // a separator: names are tokens
  CHECK_FALSE(m.set("X-K\xc3\xa9y", "1"));
  CHECK(head_of(m) == before);
  CHECK(m.set("X-Key", "tab\tinside is allowed"));
}

TEST_CASE("a GET without a body has no Content-Length; a POST always has one",
          "[upstream_request]") {
  UpstreamRequestMessage get("GET", "/v1/models");
  get.finish("h");
  CHECK(head_of(get) == "GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\n");
  UpstreamRequestMessage post("POST", "/v1/x");
  post.finish("h");
  CHECK(head_of(post).find("Content-Length: 0\r\n") != std::string::npos);
}

TEST_CASE("an upstream head that outgrows its first buffer holds exactly its fields",
          "[upstream_request]") {
  // Guards against: g++ 12's resize_and_overwrite handing the grown capacity to the callback as
  // the size; taking it as the size left uninitialised bytes after a field that grew the head
  // past its 512 reserved bytes (a long key, a provider's extra fields).
  UpstreamRequestMessage m("POST", "/v1/chat/completions");
  const std::string long_key(700, 'k');
  CHECK(m.set("x-first", "1"));
  CHECK(m.set("Authorization", "Bearer ", long_key));
  CHECK(m.set("x-after", std::string(300, 'v')));
  m.body() = "{}";
  m.finish("h");
  CHECK(head_of(m) ==
        "POST /v1/chat/completions HTTP/1.1\r\n"
        "x-first: 1\r\n"
        "Authorization: Bearer " +
            long_key +
            "\r\n"
            "x-after: " +
            std::string(300, 'v') +
            "\r\n"
            "Host: h\r\n"
            "Content-Length: 2\r\n"
            "\r\n");
  CHECK(m.has("x-after"));
}
