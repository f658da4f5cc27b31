// RateLimits on its own (token buckets on a clock the test moves) and the config's rate_limit.

#include <catch2/catch.hpp>

#include "gateway/config.hpp"
#include "gateway/rate_limits.hpp"

using namespace keygate;
using namespace keygate::gateway;

TEST_CASE("no limit anywhere: requests are not counted", "[rate]") {
  RateLimits limits({std::nullopt});
  for (int i = 0; i < 1000; ++i) {
    REQUIRE_FALSE(limits.take("usr_a", 0));
  }
  CHECK(limits.limit_of("usr_a").first == std::nullopt);
}

TEST_CASE("a minute's worth passes at once, then one request per 60/limit seconds", "[rate]") {
  RateLimits limits({3});
  for (int64_t left : {2, 1, 0}) {
    auto d = limits.take("usr_a", 1000);
    REQUIRE(d);
    CHECK(d->allowed);
    CHECK(d->limit == 3);
    CHECK(d->remaining == left);
  }
  auto refused = limits.take("usr_a", 1000);
  REQUIRE(refused);
  CHECK_FALSE(refused->allowed);
  CHECK(refused->retry_after_ms == 20'000);  // one request's worth at 3 a minute
  CHECK(refused->reset_ms == 60'000);
  CHECK_FALSE(limits.take("usr_a", 20'999)->allowed);
  auto refilled = limits.take("usr_a", 21'000);
  CHECK(refilled->allowed);
  CHECK(refilled->remaining == 0);
  // Another user has a bucket of their own.
  CHECK(limits.take("usr_b", 21'000)->allowed);
  // A long pause fills the bucket, never beyond the limit.
  for (int i = 0; i < 3; ++i) {
    CHECK(limits.take("usr_a", 10'000'000)->allowed);
  }
  CHECK_FALSE(limits.take("usr_a", 10'000'000)->allowed);
}

TEST_CASE("a user's own rate limit overrides the default, and clearing it restores the default",
          "[rate]") {
  RateLimits limits({std::nullopt});
  limits.set_limit("usr_a", 1);
  auto [rpm, own] = limits.limit_of("usr_a");
  CHECK(rpm == 1);
  CHECK(own);
  CHECK(limits.take("usr_a", 0)->allowed);
  CHECK_FALSE(limits.take("usr_a", 0)->allowed);
  CHECK_FALSE(limits.take("usr_b", 0));  // no default: bob is not limited
  limits.set_limit("usr_a", 100);        // a raise adds its 99 extra at once
  CHECK(limits.take("usr_a", 0)->remaining == 98);
  limits.set_limit("usr_a", 2);  // a cut keeps no more than the new limit: no fresh burst
  CHECK(limits.take("usr_a", 0)->remaining == 1);
  CHECK(limits.take("usr_a", 0)->remaining == 0);
  CHECK_FALSE(limits.take("usr_a", 0)->allowed);
  limits.set_limit("usr_a", std::nullopt);
  CHECK_FALSE(limits.take("usr_a", 0));

  RateLimits with_default({2});
  with_default.set_limit("usr_a", 5);
  CHECK(with_default.take("usr_a", 0)->limit == 5);
  with_default.set_limit("usr_a", std::nullopt);
  CHECK(with_default.take("usr_a", 0)->limit == 2);
  CHECK_FALSE(with_default.limit_of("usr_a").second);
}

TEST_CASE("a reload replaces users' own rate limits, keeping one set while it ran", "[rate]") {
  RateLimits limits({std::nullopt});
  limits.set_limit("usr_gone", 5);
  limits.begin_reload();
  limits.set_limit("usr_new", 7);          // an operator, between the reload's query and its end
  limits.set_token_limit("usr_tok", 900);  // the same for a token limit
  limits.finish_reload(
      {{"usr_b", 3, std::nullopt}, {"usr_c", std::nullopt, 5000}, {"usr_tok", std::nullopt, 1}});
  CHECK(limits.limit_of("usr_b").first == 3);
  CHECK(limits.limit_of("usr_new").first == 7);
  CHECK_FALSE(limits.limit_of("usr_gone").first);
  CHECK(limits.token_limit_of("usr_c") == std::pair<std::optional<int64_t>, bool>{5000, true});
  CHECK(limits.token_limit_of("usr_tok").first == 900);
  CHECK_FALSE(limits.token_limit_of("usr_b").first);
  CHECK(limits.take("usr_c", 0)->token_limit == 5000);
  limits.begin_reload();
  limits.abandon_reload();  // the database did not answer: nothing changes
  CHECK(limits.limit_of("usr_b").first == 3);
  limits.begin_reload();
  limits.finish_reload({});
  CHECK_FALSE(limits.take("usr_b", 0));  // no limits left: not counted
}

TEST_CASE("the config's rate_limit is read and checked", "[rate][config]") {
  auto c = parse_config(R"({"rate_limit": {"requests_per_minute": 600}})");
  REQUIRE(c);
  CHECK(c->rate_limit.requests_per_minute == 600);
  auto none = parse_config(R"({"rate_limit": {"requests_per_minute": null}})");
  REQUIRE(none);
  CHECK_FALSE(none->rate_limit.requests_per_minute);
  auto tokens = parse_config(R"({"rate_limit": {"tokens_per_minute": 200000}})");
  REQUIRE(tokens);
  CHECK(tokens->rate_limit.tokens_per_minute == 200000);
  CHECK_FALSE(tokens->rate_limit.requests_per_minute);
  for (const char* bad : {
           R"({"rate_limit": 600})",
           R"({"rate_limit": {"requests_per_minute": 0}})",
           R"({"rate_limit": {"requests_per_minute": -5}})",
           R"({"rate_limit": {"requests_per_minute": 1.5}})",
           R"({"rate_limit": {"requests_per_minute": "600"}})",
           R"({"rate_limit": {"rpm": 600}})",
           R"({"rate_limit": {"tokens_per_minute": 0}})",
           R"({"rate_limit": {"tokens_per_minute": 1e12}})",
           R"({"rate_limit": {"tokens_per_minute": "1000"}})",
       }) {
    INFO(bad);
    auto r = parse_config(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "invalid_config");
    CHECK(r.error().message.find("rate_limit") != std::string::npos);
  }
}

TEST_CASE("a token limit refuses calls while a user's finished calls have used a minute's worth",
          "[rate]") {
  // Guards against a token limit that never bites (tokens not taken), one that refuses before
  // the bucket is empty, and a refusal that uses up a request of the request limit.
  RateLimits limits({std::nullopt, 600});  // 600 tokens a minute: 10 a second
  auto first = limits.take("usr_a", 0);
  REQUIRE(first);
  CHECK(first->allowed);
  CHECK(first->counts_tokens);
  CHECK_FALSE(first->counts_requests);
  CHECK(first->token_limit == 600);
  CHECK(first->tokens_remaining == 600);
  limits.spend_tokens("usr_a", 500, 0);
  auto second = limits.take("usr_a", 0);
  CHECK(second->allowed);
  CHECK(second->tokens_remaining == 100);
  limits.spend_tokens("usr_a", 300, 0);  // 200 in debt: a long answer
  auto refused = limits.take("usr_a", 0);
  CHECK_FALSE(refused->allowed);
  CHECK(refused->refused_for_tokens);
  CHECK(refused->tokens_remaining == 0);
  CHECK(refused->retry_after_ms == 20'100);  // 201 tokens at 10 a second: one token's worth back
  CHECK(refused->token_reset_ms == 80'000);  // 800 tokens to a full bucket
  CHECK_FALSE(limits.take("usr_a", 20'099)->allowed);
  CHECK(limits.take("usr_a", 20'100)->allowed);
  // Another user has a bucket of their own; spending without a limit does nothing.
  CHECK(limits.take("usr_b", 0)->tokens_remaining == 600);
  RateLimits none({std::nullopt, std::nullopt});
  none.spend_tokens("usr_a", 1'000'000, 0);
  CHECK_FALSE(none.take("usr_a", 0));
  // A huge count keeps the arithmetic in range.
  limits.spend_tokens("usr_c", INT64_MAX, 0);
  auto deep = limits.take("usr_c", 0);
  CHECK_FALSE(deep->allowed);
  CHECK(deep->retry_after_ms > 0);
}

TEST_CASE("with both limits, a call refused for its tokens does not use up a request", "[rate]") {
  RateLimits limits({2, 100});
  limits.spend_tokens("usr_a", 150, 0);
  for (int i = 0; i < 5; ++i) {
    auto d = limits.take("usr_a", 0);
    CHECK_FALSE(d->allowed);
    CHECK(d->refused_for_tokens);
    CHECK(d->counts_requests);
    CHECK(d->remaining == 2);
  }
  // Once the tokens have refilled (51 tokens at 100 a minute: 30.6 s), the requests are there.
  auto d = limits.take("usr_a", 30'600);
  CHECK(d->allowed);
  CHECK(d->remaining == 1);
  CHECK(limits.take("usr_a", 30'600)->allowed);
  auto by_requests = limits.take("usr_a", 30'600);
  CHECK_FALSE(by_requests->allowed);
  CHECK_FALSE(by_requests->refused_for_tokens);
  CHECK(limits.refusals() == 6);
}

TEST_CASE("a user's own token limit overrides the default, and clearing it restores the default",
          "[rate]") {
  RateLimits limits({std::nullopt, 1000});
  limits.set_token_limit("usr_a", 10);
  CHECK(limits.token_limit_of("usr_a") == std::pair<std::optional<int64_t>, bool>{10, true});
  CHECK(limits.token_limit_of("usr_b") == std::pair<std::optional<int64_t>, bool>{1000, false});
  limits.spend_tokens("usr_a", 10, 0);
  CHECK_FALSE(limits.take("usr_a", 0)->allowed);
  limits.spend_tokens("usr_b", 10, 0);
  CHECK(limits.take("usr_b", 0)->tokens_remaining == 990);
  limits.set_token_limit("usr_a", std::nullopt);  // back to the default's 1000: 990 more at once
  auto d = limits.take("usr_a", 0);
  CHECK(d->allowed);
  CHECK(d->token_limit == 1000);
  CHECK(d->tokens_remaining == 990);
  // Only a user's own limit, no default: others are not counted.
  RateLimits own_only({std::nullopt, std::nullopt});
  own_only.set_token_limit("usr_a", 5);
  CHECK(own_only.take("usr_a", 0)->counts_tokens);
  CHECK_FALSE(own_only.take("usr_b", 0));
}

TEST_CASE("a retry-after waits for both limits, and a long idle refills without overflow",
          "[rate]") {
  // Guards against a client told to come back when its tokens are back, only to be refused for
  // its requests (the SDKs would spend their retries), and against a bucket at the largest limit
  // left idle for months multiplying out past int64.
  RateLimits limits({2, 100});
  CHECK(limits.take("usr_a", 0)->allowed);
  CHECK(limits.take("usr_a", 0)->allowed);  // the two requests of the minute
  limits.spend_tokens("usr_a", 101, 0);     // and one token of debt
  auto refused = limits.take("usr_a", 0);
  REQUIRE_FALSE(refused->allowed);
  CHECK(refused->refused_for_tokens);
  CHECK(refused->retry_after_ms == 30'000);  // a request's worth at 2 a minute, the longer wait
  CHECK(limits.take("usr_a", 30'000)->allowed);

  RateLimits large({1'000'000'000, 1'000'000'000});
  CHECK(large.take("usr_a", 0)->allowed);
  large.spend_tokens("usr_a", 5, 0);
  const int64_t two_hundred_days = 200LL * 24 * 3600 * 1000;
  auto later = large.take("usr_a", two_hundred_days);
  REQUIRE(later);
  CHECK(later->allowed);
  CHECK(later->remaining == 1'000'000'000 - 1);
  CHECK(later->tokens_remaining == 1'000'000'000);
}
