// The scan that decides which OpenAI stream chunks are parsed: it must find "error" and "usage"
// keys with a non-null value wherever the simple two-search version found them.

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "providers/chunk_keys.hpp"

using keygate::providers::scan_chunk_keys;

namespace {

// The rule written the obvious way: every occurrence of the quoted key, then a colon, then a
// value that does not start with 'n'.
bool reference(std::string_view data, std::string_view key) {
  for (auto pos = data.find(key); pos != std::string_view::npos; pos = data.find(key, pos + 1)) {
    std::size_t i = pos + key.size();
    auto skip_space = [&] {
      while (i < data.size() &&
             std::string_view(" \t\n\r").find(data[i]) != std::string_view::npos) {
        ++i;
      }
    };
    skip_space();
    if (i >= data.size() || data[i] != ':') {
      continue;
    }
    ++i;
    skip_space();
    if (i < data.size() && data[i] != 'n') {
      return true;
    }
  }
  return false;
}

void check_like_reference(const std::string& data) {
  INFO(data);
  const auto keys = scan_chunk_keys(data);
  CHECK(keys.error == reference(data, "\"error\""));
  CHECK(keys.usage == reference(data, "\"usage\""));
}

}  // namespace

TEST_CASE("chunk keys: content deltas have neither, usage and error chunks have theirs",
          "[openai][chunk_keys]") {
  const std::string delta =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o",)"
      R"("choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})";
  auto none = scan_chunk_keys(delta);
  CHECK_FALSE(none.error);
  CHECK_FALSE(none.usage);
  // include_usage puts "usage":null in every chunk: not a usage chunk.
  CHECK_FALSE(scan_chunk_keys(delta.substr(0, delta.size() - 1) + R"(,"usage":null})").usage);
  CHECK(scan_chunk_keys(R"({"choices":[],"usage":{"prompt_tokens":9}})").usage);
  CHECK(scan_chunk_keys(R"({"error":{"message":"overloaded"}})").error);
  CHECK(scan_chunk_keys(R"({ "error" :	"text" })").error);
  auto both = scan_chunk_keys(R"({"usage":{"prompt_tokens":1},"error":{"message":"x"}})");
  CHECK(both.error);
  CHECK(both.usage);
  // A quoted word in a string value is escaped, or not followed by a colon.
  CHECK_FALSE(scan_chunk_keys(R"({"content":"the \"usage\": field"})").usage);
  CHECK_FALSE(scan_chunk_keys(R"({"content":"error"})").error);
  CHECK_FALSE(scan_chunk_keys(R"("usage")").usage);  // nothing after the key
  CHECK_FALSE(scan_chunk_keys(R"("usage":)").usage);
  CHECK_FALSE(scan_chunk_keys("").usage);
}

TEST_CASE("chunk keys: the one-pass scan agrees with two plain searches", "[openai][chunk_keys]") {
  // Fragments that put keys at every alignment, next to each other, overlapping at a quote, at the
  // very end, and among the letters the skip table shifts on.
  const std::vector<std::string> pieces = {R"("error":{"m":1})",
                                           R"("usage":null)",
                                           R"("usage":{"p":2})",
                                           R"("error":null)",
                                           R"("usage")",
                                           R"("error")",
                                           R"(:)",
                                           R"( )",
                                           R"(x)",
                                           R"(ab)",
                                           R"("us)",
                                           R"(age":1)",
                                           R"("erro)",
                                           R"(r": 5)",
                                           R"("usagee":1)",
                                           R"(""usage"")",
                                           R"(\"usage\":1)",
                                           R"("egasu":1)",
                                           R"(rorre)",
                                           R"(n)"};
  std::size_t checked = 0;
  for (std::size_t a = 0; a < pieces.size(); ++a) {
    for (std::size_t b = 0; b < pieces.size(); ++b) {
      for (std::size_t c = 0; c < pieces.size(); c += 3) {
        check_like_reference(pieces[a] + pieces[b] + pieces[c]);
        check_like_reference(std::string(a % 7, 'e') + pieces[a] + pieces[b] + pieces[c]);
        ++checked;
      }
    }
  }
  CHECK(checked == pieces.size() * pieces.size() * ((pieces.size() + 2) / 3));
}
