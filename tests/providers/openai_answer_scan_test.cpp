// The scan of an OpenAI answer that is passed on verbatim: it must read the same usage, by the
// same rules, as reading a parsed document did, whatever the shape of the answer.

#include <catch2/catch.hpp>

#include <string>

#include "providers/openai_answer_scan.hpp"

using keygate::providers::scan_openai_answer;

namespace {

struct Expected {
  int64_t prompt, completion, cached, reasoning;
};

void check_usage(const std::string& body, Expected want) {
  INFO(body);
  auto scan = scan_openai_answer(body);
  REQUIRE(scan.parsed);
  REQUIRE(scan.is_object);
  CHECK(scan.has_choices);
  REQUIRE(scan.has_usage);
  CHECK(scan.usage.prompt_tokens == want.prompt);
  CHECK(scan.usage.completion_tokens == want.completion);
  CHECK(scan.usage.cached_tokens == want.cached);
  CHECK(scan.usage.reasoning_tokens == want.reasoning);
}

std::string answer_with_usage(const std::string& usage) {
  return R"({"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"x"}}],)"
         R"("usage":)" +
         usage + "}";
}

}  // namespace

TEST_CASE("the answer scan reads OpenAI's usage and its details", "[openai][scan]") {
  check_usage(answer_with_usage(R"({"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,)"
                                R"("prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},)"
                                R"("completion_tokens_details":{"reasoning_tokens":5}})"),
              {19, 10, 3, 5});
  // Key order does not matter; whitespace and escapes elsewhere do not disturb it.
  check_usage(
      R"( { "usage" : { "completion_tokens" : 2 , "prompt_tokens" : 1 } ,)"
      R"( "choices" : [ { "message" : { "content" : "a \"usage\": {\"prompt_tokens\": 7}" } } ] } )",
      {1, 2, -1, -1});
}

TEST_CASE("the answer scan reads OpenRouter's cache writes, as the stream's usage does",
          "[openai][scan]") {
  // Guards against Claude's cache writes through OpenRouter being priced as plain input.
  const std::string usage =
      R"({"prompt_tokens":1000,"completion_tokens":10,)"
      R"("prompt_tokens_details":{"cached_tokens":600,"cache_write_tokens":300}})";
  auto scan = scan_openai_answer(answer_with_usage(usage));
  REQUIRE(scan.has_usage);
  CHECK(scan.usage.cached_tokens == 600);
  CHECK(scan.usage.cache_write_tokens == 300);
  // Only inside prompt_tokens_details.
  auto elsewhere = scan_openai_answer(
      answer_with_usage(R"({"prompt_tokens":1,"cache_write_tokens":5,"completion_tokens_details":)"
                        R"({"cache_write_tokens":6}})"));
  CHECK(elsewhere.usage.cache_write_tokens == -1);
}

TEST_CASE("the answer scan keeps read_usage's rules for odd shapes", "[openai][scan]") {
  // Counts that are not non-negative integers are "not reported" (-1); doubles are truncated.
  check_usage(answer_with_usage(R"({"prompt_tokens":"9","completion_tokens":-1})"),
              {-1, -1, -1, -1});
  check_usage(answer_with_usage(R"({"prompt_tokens":12.9,"completion_tokens":1e3})"),
              {12, 1000, -1, -1});
  check_usage(
      answer_with_usage(R"({"prompt_tokens":18446744073709551615,"completion_tokens":null})"),
      {-1, -1, -1, -1});
  check_usage(answer_with_usage(R"({"prompt_tokens":{"n":5},"completion_tokens":[3]})"),
              {-1, -1, -1, -1});
  // The first member of a name counts, as FindMember's did.
  check_usage(answer_with_usage(R"({"prompt_tokens":1,"prompt_tokens":2,"completion_tokens":3})"),
              {1, 3, -1, -1});
  check_usage(answer_with_usage(R"({"prompt_tokens":"x","prompt_tokens":2})"), {-1, -1, -1, -1});
  // Details: only an object counts, and only its own members.
  check_usage(answer_with_usage(R"({"prompt_tokens_details":5,"completion_tokens_details":null})"),
              {-1, -1, -1, -1});
  check_usage(
      answer_with_usage(R"({"prompt_tokens_details":{"x":{"cached_tokens":4}},)"
                        R"("completion_tokens_details":{"cached_tokens":6,"reasoning_tokens":7}})"),
      {-1, -1, -1, 7});
  // A first "usage" that is not an object means no usage, even if another one follows.
  auto first_null =
      scan_openai_answer(R"({"choices":[],"usage":null,"usage":{"prompt_tokens":1}})");
  CHECK(first_null.parsed);
  CHECK_FALSE(first_null.has_usage);
  // Usage-like members elsewhere (inside choices, or nested deeper) are not the answer's usage.
  auto nested = scan_openai_answer(
      R"({"choices":[{"usage":{"prompt_tokens":5}}],"x":{"usage":{"prompt_tokens":6}}})");
  CHECK(nested.has_choices);
  CHECK_FALSE(nested.has_usage);
  // A usage with counts after a nested details object is still read to its end.
  check_usage(answer_with_usage(R"({"completion_tokens_details":{"reasoning_tokens":1,"a":[{}]},)"
                                R"("prompt_tokens":8,"completion_tokens":9})"),
              {8, 9, -1, 1});
}

TEST_CASE("the answer scan tells what is not an answer", "[openai][scan]") {
  CHECK_FALSE(scan_openai_answer("not json").parsed);
  CHECK_FALSE(scan_openai_answer(R"({"choices":[]} trailing)").parsed);
  CHECK_FALSE(scan_openai_answer(std::string("{\"choices\":[]}\0{", 16)).parsed);
  auto array = scan_openai_answer("[1,2]");
  CHECK(array.parsed);
  CHECK_FALSE(array.is_object);
  auto error = scan_openai_answer(R"({"error":{"message":"overloaded"}})");
  CHECK(error.is_object);
  CHECK_FALSE(error.has_choices);
  CHECK_FALSE(error.has_usage);
}
