#include "providers/sse.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using keygate::providers::sse_data_frame;
using keygate::providers::SseEvent;
using keygate::providers::SseParser;

namespace {

std::vector<SseEvent> parse_all(std::string_view text) {
  SseParser parser;
  std::vector<SseEvent> out;
  auto r = parser.feed(text, out);
  REQUIRE(r.has_value());
  return out;
}

// (event, data) pairs, easier to compare than SseEvent.
std::vector<std::pair<std::string, std::string>> flat(const std::vector<SseEvent>& events) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : events) {
    out.emplace_back(e.event, e.data);
  }
  return out;
}

}  // namespace

TEST_CASE("sse: events split at every byte boundary parse the same", "[sse]") {
  // Guards against state lost between reads: upstream TCP reads cut events anywhere, including
  // between the CR and LF of a CRLF.
  const std::string stream =
      "event: message_start\r\ndata: {\"a\":1}\r\n\r\n"
      ": keep-alive\n"
      "data: line one\ndata: line two\n\n"
      "data:no-space\r\rdata: last\n\n";
  const auto whole = flat(parse_all(stream));
  REQUIRE(whole.size() == 4);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser parser;
    std::vector<SseEvent> out;
    REQUIRE(parser.feed(std::string_view(stream).substr(0, cut), out));
    REQUIRE(parser.feed(std::string_view(stream).substr(cut), out));
    INFO("cut at " << cut);
    CHECK(flat(out) == whole);
    CHECK_FALSE(parser.has_partial_event());
  }
  // And one byte per read.
  SseParser parser;
  std::vector<SseEvent> out;
  for (char c : stream) {
    REQUIRE(parser.feed(std::string_view(&c, 1), out));
  }
  CHECK(flat(out) == whole);
}

TEST_CASE("sse: LF, CRLF and CR line ends", "[sse]") {
  for (std::string_view eol : {"\n", "\r\n", "\r"}) {
    std::string s = "data: a" + std::string(eol) + "data: b" + std::string(eol) + std::string(eol);
    auto events = parse_all(s);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "a\nb");
  }
}

TEST_CASE("sse: comments are skipped, event fields kept", "[sse]") {
  auto events = parse_all(
      ": this is a comment\n"
      ":\n"
      "event: content_block_delta\n"
      "data: {\"x\":1}\n"
      "\n"
      "data: plain\n\n");
  REQUIRE(events.size() == 2);
  CHECK(events[0].event == "content_block_delta");
  CHECK(events[0].data == "{\"x\":1}");
  CHECK(events[1].event.empty());  // the event type does not leak into the next event
  CHECK(events[1].data == "plain");
}

TEST_CASE("sse: field parsing follows the spec", "[sse]") {
  // Only one leading space is removed; a field without a colon has an empty value; unknown fields,
  // id and retry are ignored; an event without data is not dispatched.
  auto events = parse_all(
      "data:  two spaces\n\n"
      "data\n\n"
      "id: 7\nretry: 1000\nfoo: bar\ndata: x\n\n"
      "event: ping\n\n"
      "data: a:b:c\n\n");
  REQUIRE(events.size() == 4);
  CHECK(events[0].data == " two spaces");
  CHECK(events[1].data.empty());
  CHECK(events[2].data == "x");
  CHECK(events[3].data == "a:b:c");
  CHECK(events[3].event.empty());
}

TEST_CASE("sse: multi-line data joins with LF, an empty data line included", "[sse]") {
  auto events = parse_all("data: {\ndata:\ndata: }\n\n");
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "{\n\n}");
}

TEST_CASE("sse: a UTF-8 BOM at the start of the stream is dropped", "[sse]") {
  auto events = parse_all(
      "\xEF\xBB\xBF"
      "data: x\n\n");
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "x");
}

TEST_CASE("sse: has_partial_event reports a cut-short stream", "[sse]") {
  SseParser parser;
  std::vector<SseEvent> out;
  CHECK_FALSE(parser.has_partial_event());
  REQUIRE(parser.feed("data: {\"choices\":[]}\n", out));
  CHECK(out.empty());
  CHECK(parser.has_partial_event());  // data seen, blank line not yet
  REQUIRE(parser.feed("\n", out));
  CHECK(out.size() == 1);
  CHECK_FALSE(parser.has_partial_event());
  REQUIRE(parser.feed("data: {\"cho", out));
  CHECK(parser.has_partial_event());  // half a line
  SseParser only_event;
  REQUIRE(only_event.feed("event: error\n", out));
  CHECK(only_event.has_partial_event());
  SseParser comment;
  REQUIRE(comment.feed(": ping\n", out));
  CHECK_FALSE(comment.has_partial_event());
}

TEST_CASE("sse: an event over the size bound is an error", "[sse]") {
  // Guards against unbounded memory from an upstream that never ends its event.
  SECTION("one long line across reads") {
    SseParser parser(64);
    std::vector<SseEvent> out;
    REQUIRE(parser.feed("data: " + std::string(40, 'x'), out));
    auto r = parser.feed(std::string(40, 'x'), out);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 502);
    CHECK(r.error().code == "upstream_event_too_large");
  }
  SECTION("many data lines in one read") {
    SseParser parser(64);
    std::vector<SseEvent> out;
    std::string s;
    for (int i = 0; i < 10; ++i) {
      s += "data: 0123456789\n";
    }
    CHECK_FALSE(parser.feed(s, out).has_value());
  }
  SECTION("events under the bound pass, however many") {
    SseParser parser(64);
    std::vector<SseEvent> out;
    for (int i = 0; i < 100; ++i) {
      REQUIRE(parser.feed("data: " + std::string(50, 'x') + "\n\n", out));
    }
    CHECK(out.size() == 100);
  }
}

TEST_CASE("sse: data frames", "[sse]") {
  CHECK(sse_data_frame("{\"a\":1}") == "data: {\"a\":1}\n\n");
  CHECK(sse_data_frame("[DONE]") == keygate::providers::kSseDone);
  // A stray newline must not end the event early: one data line per line, read back intact.
  std::string frame = sse_data_frame("a\nb\r\nc");
  CHECK(frame == "data: a\ndata: b\ndata: c\n\n");
  auto events = parse_all(frame);
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "a\nb\nc");
}
