// StreamRelay: an OpenAI-format upstream's plain events go to the client as they came (the
// verbatim path); everything else goes through the SSE parser and is framed again. Whatever the
// path and however the upstream's bytes are split, the client must get the same events, the same
// usage and the same errors as through the parser alone.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "gateway/stream_relay.hpp"
#include "providers/catalog.hpp"

using namespace keygate;
using gateway::StreamRelay;

namespace {

const providers::Adapter& openai() {
  static const providers::Catalog catalog = *providers::Catalog::builtin();
  return *catalog.find("openai")->adapter;
}

std::unique_ptr<providers::StreamTranslator> translator(bool client_wants_usage) {
  providers::ChatOptions options;
  options.stream = true;
  options.client_wants_usage = client_wants_usage;
  return openai().start_stream(options, "gpt-4o-mini");
}

// The same translator with the verbatim path turned off: every event through the parser.
class ParsedOnly final : public providers::StreamTranslator {
 public:
  explicit ParsedOnly(std::unique_ptr<providers::StreamTranslator> inner)
      : inner_(std::move(inner)) {}
  Result<void> on_event(providers::SseEvent event, std::vector<std::string>& out) override {
    return inner_->on_event(std::move(event), out);
  }
  Result<void> on_end(std::vector<std::string>& out) override { return inner_->on_end(out); }
  const providers::Usage& usage() const override { return inner_->usage(); }

 private:
  std::unique_ptr<providers::StreamTranslator> inner_;
};

struct Relayed {
  std::string bytes;              // what the client got
  std::vector<std::string> data;  // its events' data, as an SSE reader sees them
  std::string error;              // the error's message, if the relay stopped on one
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
};

// Feeds `input` in pieces cut at `cuts` (positions), then ends the stream, taking the output
// after every piece as the gateway does.
Relayed relay(std::unique_ptr<providers::StreamTranslator> t, std::string_view input,
              const std::vector<std::size_t>& cuts) {
  StreamRelay r(std::move(t));
  Relayed out;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (std::size_t to : ends) {
    auto ok = r.take(input.substr(from, to - from));
    out.bytes += r.take_frames();
    if (!ok) {
      out.error = ok.error().message;
      break;
    }
    from = to;
  }
  if (out.error.empty()) {
    if (auto ok = r.end(); !ok) {
      out.error = ok.error().message;
    }
    out.bytes += r.take_frames();
  }
  out.prompt_tokens = r.usage().prompt_tokens;
  out.completion_tokens = r.usage().completion_tokens;
  providers::SseParser reader;
  std::vector<providers::SseEvent> events;
  REQUIRE(reader.feed(out.bytes, events));
  CHECK_FALSE(reader.has_partial_event());  // the client never gets half an event
  for (auto& e : events) {
    out.data.push_back(e.data);
  }
  return out;
}

std::string chunk(const std::string& content) {
  return R"({"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":")" +
         content + R"("},"finish_reason":null}]})";
}
const std::string kUsageChunk =
    R"({"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}})";

std::string plain_stream() {
  return "data: " + chunk("Hel") + "\n\n" + "data: " + chunk("lo") + "\n\n" +
         "data: " + kUsageChunk + "\n\n" + "data: [DONE]\n\n";
}

// Every way to cut `input` in two, and byte by byte.
std::vector<std::vector<std::size_t>> cuttings(std::string_view input) {
  std::vector<std::vector<std::size_t>> all{{}};
  for (std::size_t i = 1; i < input.size(); ++i) {
    all.push_back({i});
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) {
    every.push_back(i);
  }
  all.push_back(every);
  return all;
}

void check_same_as_parsed(std::string_view input, bool client_wants_usage) {
  const Relayed reference =
      relay(std::make_unique<ParsedOnly>(translator(client_wants_usage)), input, {});
  for (const auto& cuts : cuttings(input)) {
    INFO("cut at " << (cuts.empty() ? 0 : cuts.front()) << " (" << cuts.size() << " cuts)");
    const Relayed got = relay(translator(client_wants_usage), input, cuts);
    CHECK(got.data == reference.data);
    CHECK(got.error == reference.error);
    CHECK(got.prompt_tokens == reference.prompt_tokens);
    CHECK(got.completion_tokens == reference.completion_tokens);
  }
}

}  // namespace

TEST_CASE("a plain OpenAI stream goes to the client byte for byte", "[stream_relay]") {
  // Guards against: a verbatim path that changes what it copies (framing, order, a lost byte).
  const std::string input = plain_stream();
  const Relayed got = relay(translator(true), input, {});
  CHECK(got.bytes == input);
  CHECK(got.error.empty());
  CHECK(got.prompt_tokens == 11);
  CHECK(got.completion_tokens == 3);
}

TEST_CASE("the usage chunk keygate asked for is dropped when the client did not ask",
          "[stream_relay]") {
  // Guards against: a client that did not ask for usage getting a chunk with no choices (some
  // clients index choices[0]), and against the usage not being read when it is dropped.
  const std::string input = plain_stream();
  const Relayed got = relay(translator(false), input, {});
  CHECK(got.bytes ==
        "data: " + chunk("Hel") + "\n\n" + "data: " + chunk("lo") + "\n\n" + "data: [DONE]\n\n");
  CHECK(got.prompt_tokens == 11);
  CHECK(got.completion_tokens == 3);
}

TEST_CASE("the verbatim path copies events as the upstream framed them", "[stream_relay]") {
  // "data:" without its optional space is a plain event too: passed on exactly, not re-framed
  // (the parser would write "data: "). Shows the short way is taken.
  const std::string input = "data:" + chunk("x") + "\n\ndata:[DONE]\n\n";
  const Relayed got = relay(translator(true), input, {});
  CHECK(got.bytes == input);
  CHECK(got.data == std::vector<std::string>{chunk("x"), "[DONE]"});
}

TEST_CASE("split anywhere, relayed events, usage and errors equal the parser's", "[stream_relay]") {
  // Guards against: an event cut between two reads lost or doubled when the relay moves between
  // the verbatim path and the parser; a run of passing events misordered around a dropped one.
  SECTION("plain events") {
    check_same_as_parsed(plain_stream(), false);
    check_same_as_parsed(plain_stream(), true);
  }
  SECTION("comments, CRLF line ends, other fields and multi-line data among plain events") {
    const std::string input = ": keep-alive\n\ndata: " + chunk("a") + "\r\n\r\n" +
                              "data: " + chunk("b") + "\n\n" + "id: 7\ndata: " + chunk("c") +
                              "\n\n" + "data: " + chunk("d") + "\rdata: " + chunk("e") + "\r\r" +
                              "data: " + kUsageChunk + "\n\ndata: [DONE]\n\n";
    check_same_as_parsed(input, false);
    check_same_as_parsed(input, true);
  }
  SECTION("a BOM before the first event") {
    check_same_as_parsed("\xEF\xBB\xBF" + plain_stream(), false);
  }
  SECTION("events after [DONE] and empty data are dropped") {
    const std::string input =
        "data: " + chunk("a") + "\n\ndata: \n\ndata: [DONE]\n\ndata: " + chunk("late") + "\n\n";
    check_same_as_parsed(input, true);
    const Relayed got = relay(translator(true), input, {});
    CHECK(got.data == std::vector<std::string>{chunk("a"), "[DONE]"});
  }
  SECTION("an upstream error mid-stream") {
    const std::string input = "data: " + chunk("a") + "\n\n" +
                              R"(data: {"error":{"message":"overloaded","type":"server_error"}})" +
                              "\n\ndata: " + chunk("b") + "\n\n";
    check_same_as_parsed(input, false);
    const Relayed got = relay(translator(false), input, {});
    CHECK(got.data == std::vector<std::string>{chunk("a")});  // what came before it, not after
    CHECK(got.error.find("overloaded") != std::string::npos);
  }
  SECTION("a stream cut before [DONE]") {
    const std::string input = "data: " + chunk("a") + "\n\ndata: " + chunk("b");
    check_same_as_parsed(input, false);
    CHECK_FALSE(relay(translator(false), input, {}).error.empty());
  }
}
