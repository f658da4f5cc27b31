// The request-target fast path (gateway/request_target.hpp): a target it calls a plain path must
// be one Boost.URL parses to exactly that path and no query, so skipping the parse changes
// nothing.

#include <catch2/catch.hpp>

#include <boost/url/parse.hpp>

#include <random>
#include <string>

#include "gateway/request_target.hpp"

using keygate::gateway::is_plain_path;

namespace {

// True when Boost.URL's parse gives the target back as its path, with no query.
bool boost_agrees_plain(const std::string& target) {
  auto parsed = boost::urls::parse_origin_form(target);
  return parsed && !parsed->has_query() && parsed->encoded_path() == target;
}

}  // namespace

TEST_CASE("the routes' paths are plain; queries, escapes and odd bytes are not",
          "[request_target]") {
  CHECK(is_plain_path("/v1/chat/completions"));
  CHECK(is_plain_path("/v1/keys/key_AbC123/test"));
  CHECK(is_plain_path("/"));
  CHECK(is_plain_path("/v1/usage:by-day@x"));
  CHECK_FALSE(is_plain_path(""));
  CHECK_FALSE(is_plain_path("v1/models"));
  CHECK_FALSE(is_plain_path("*"));
  CHECK_FALSE(is_plain_path("/v1/usage?from=2026-01-01"));
  CHECK_FALSE(is_plain_path("/v1/models?"));
  CHECK_FALSE(is_plain_path("/v1/keys/a%2Fb"));
  CHECK_FALSE(is_plain_path("/v1/models#frag"));
  CHECK_FALSE(is_plain_path("/v1/mo dels"));
  CHECK_FALSE(is_plain_path("/v1/\xc3\xa9"));
  CHECK_FALSE(is_plain_path(std::string("/v1/\0x", 6)));
}

TEST_CASE("every plain path is one Boost.URL parses to itself with no query", "[request_target]") {
  // Guards against: the fast path taking a target Boost.URL would refuse or read differently
  // (a query, an escape), which would route a request the old parse did not.
  std::mt19937 rng(20261122);
  const std::string alphabet = "/abcAZ09-._~!$&'()*+,;=:@%?#[] \"<>\\^`{|}\t\x7f\x80\xff";
  int plain = 0, disagreements = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string target = rng() % 8 == 0 ? "" : "/";
    const std::size_t length = rng() % 12;
    for (std::size_t j = 0; j < length; ++j) {
      target += alphabet[rng() % alphabet.size()];
    }
    if (is_plain_path(target)) {
      ++plain;
      if (!boost_agrees_plain(target)) {
        ++disagreements;
      }
    }
  }
  CHECK(disagreements == 0);
  CHECK(plain > 1000);  // the sample did exercise the fast path
}
