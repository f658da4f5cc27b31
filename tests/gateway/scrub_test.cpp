// scrub_secret: upstream error text must lose every echo of the key before a client or a log
// line sees it.

#include <catch2/catch.hpp>

#include "gateway/scrub.hpp"

using keygate::gateway::scrub_secret;

namespace {
constexpr const char* kKey = "sk-abc1234567890defghijklmnopwxyz";
}

TEST_CASE("OpenAI's masked echo of a bad key is redacted", "[scrub]") {
  // Bug guarded: "Incorrect API key provided: sk-abc***wxyz" relayed verbatim to the client.
  CHECK(scrub_secret("Incorrect API key provided: sk-abc***wxyz. You can find your API key at "
                     "https://platform.openai.com/account/api-keys.",
                     kKey) ==
        "Incorrect API key provided: [redacted]. You can find your API key at "
        "https://platform.openai.com/account/api-keys.");
  CHECK(scrub_secret("key sk-proj-********************abcd rejected", "") ==
        "key [redacted] rejected");
  CHECK(scrub_secret("key sk-...wxyz rejected", kKey) == "key [redacted] rejected");
  CHECK(scrub_secret("key sk-ant-...ab12 rejected", "") == "key [redacted] rejected");
}

TEST_CASE("the whole key and pieces of it are redacted", "[scrub]") {
  // Bug guarded: a proxy that repeats the Authorization header leaks the key in full.
  CHECK(scrub_secret(std::string("bad header: Bearer ") + kKey, kKey) ==
        "bad header: Bearer [redacted]");
  // 8+ characters from the middle.
  CHECK(scrub_secret("saw 4567890def here", kKey) == "saw [redacted] here");
  // 4+ characters of the tail or head: what a mask would show.
  CHECK(scrub_secret("key ending wxyz", kKey) == "key ending [redacted]");
  CHECK(scrub_secret("key starting sk-abc", kKey) == "key starting [redacted]");
  CHECK(scrub_secret(std::string(kKey) + std::string(kKey), kKey) == "[redacted][redacted]");
}

TEST_CASE("text without the key is left alone", "[scrub]") {
  // Bug guarded: over-eager scrubbing that turns ordinary prose into noise.
  const std::string text = "The server had an error. Loading... retry in 3.5 s (code 42).";
  CHECK(scrub_secret(text, kKey) == text);
  // A 7-character inner piece is below the threshold (too common to mean anything).
  CHECK(scrub_secret("x 4567890 x", kKey) == "x 4567890 x");
  CHECK(scrub_secret("", kKey).empty());
  CHECK(scrub_secret("plain", "") == "plain");
}
