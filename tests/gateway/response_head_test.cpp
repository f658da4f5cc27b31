// The response head keygate writes itself (instead of Beast's serializer): the status line, the
// fields, and the chunk framing of streams.

#include <catch2/catch.hpp>

#include <string>

#include "gateway/response_head.hpp"

using keygate::gateway::chunk_size_line;
using keygate::gateway::ResponseHead;

TEST_CASE("a response head is a status line, its fields and a blank line", "[response_head]") {
  ResponseHead head(11, 404);
  head.add("Content-Type", "application/json");
  head.add_content_length(123);
  CHECK(head.finish() ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 123\r\n\r\n");

  ResponseHead old(10, 200);
  CHECK(old.finish() == "HTTP/1.0 200 OK\r\n\r\n");
}

TEST_CASE("a field value with CR, LF or NUL is left out whole", "[response_head]") {
  // Guards against: header injection. x-keygate-model echoes the model the request named; a
  // model "gpt\r\nSet-Cookie: a=b" must not add a field or split the response.
  ResponseHead head(11, 200);
  head.add("x-keygate-model", "gpt-4o\r\nSet-Cookie: stolen=1");
  head.add("x-a", std::string_view("a\0b", 3));
  head.add("x-b", "line\nbreak");
  head.add("bad name", "v");
  head.add("x-c:", "v");
  head.add("x-d\t", "v");
  head.add("x-e\r\nSet-Cookie", "v");
  head.add("x-ok", "fine value");
  head.add("x-tab", "a\tb");  // a tab is allowed in a value (RFC 9110 field-content)
  CHECK(head.finish() == "HTTP/1.1 200 OK\r\nx-ok: fine value\r\nx-tab: a\tb\r\n\r\n");
}

TEST_CASE("chunk framing is the size in hex and CRLF", "[response_head]") {
  char storage[24];
  CHECK(chunk_size_line(0, storage) == "0\r\n");
  CHECK(chunk_size_line(255, storage) == "ff\r\n");
  CHECK(chunk_size_line(4096, storage) == "1000\r\n");
  CHECK(chunk_size_line(SIZE_MAX, storage) == "ffffffffffffffff\r\n");
}

TEST_CASE("a response head that outgrows its first buffer holds exactly its fields",
          "[response_head]") {
  // Guards against: g++ 12's resize_and_overwrite passing the grown capacity as the size, which
  // left garbage after the field that grew the head past 256 bytes (a stream's head does).
  ResponseHead head(11, 200);
  std::string expected = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 20; ++i) {
    const std::string name = "x-field-" + std::to_string(i);
    const std::string value(10 + i * 7, static_cast<char>('a' + i));
    head.add(name, value);
    expected += name + ": " + value + "\r\n";
  }
  CHECK(head.finish() == expected + "\r\n");
}
