// Agents: parsing and validation of the API body, parameter merging under a request, request
// parameter ranges, and the chain of targets a request tries.

#include <catch2/catch.hpp>

#include "router/agent.hpp"
#include "router/retry_policy.hpp"
#include "schema/json.hpp"

using namespace keygate;
using namespace keygate::router;

namespace {

const providers::Catalog& catalog() {
  static const providers::Catalog c = *providers::Catalog::builtin();
  return c;
}

ModelResolver resolver() {
  return ModelResolver(catalog(), {{"fast", "openai/gpt-4o-mini"}});
}

rapidjson::Document doc(const std::string& json) {
  auto d = parse_json_object(json);
  REQUIRE(d);
  return std::move(*d);
}

Result<AgentSpec> parse(const std::string& json) {
  auto models = resolver();
  return parse_agent_body(doc(json), models);
}

std::string error_param(const Result<AgentSpec>& r) {
  return r ? "<ok>" : r.error().param;
}

}  // namespace

TEST_CASE("a full agent body parses and round-trips through its stored form", "[agent]") {
  auto spec = parse(R"({"model": "anthropic/claude-sonnet-4-5",
      "params": {"temperature": 0.7, "max_tokens": 4096, "top_p": 0.9, "stop": ["END"]},
      "fallbacks": ["openai/gpt-4o-mini", "fast"]})");
  REQUIRE(spec);
  CHECK(spec->model == "anthropic/claude-sonnet-4-5");
  CHECK(*spec->params.temperature == Approx(0.7));
  CHECK(*spec->params.max_tokens == 4096);
  CHECK(*spec->params.top_p == Approx(0.9));
  CHECK(*spec->params.stop == std::vector<std::string>{"END"});
  CHECK(spec->fallbacks == std::vector<std::string>{"openai/gpt-4o-mini", "fast"});

  // Bug guarded: what the API stores must read back the same on the request path.
  auto stored = parse_stored_agent(spec->model, params_to_json(spec->params),
                                   fallbacks_to_json(spec->fallbacks));
  REQUIRE(stored);
  CHECK(*stored->params.temperature == Approx(0.7));
  CHECK(*stored->params.max_tokens == 4096);
  CHECK(*stored->params.stop == std::vector<std::string>{"END"});
  CHECK(stored->fallbacks == spec->fallbacks);
}

TEST_CASE("agent validation refuses bad values with the offending param named", "[agent]") {
  // Bug guarded: an agent that can never work (unknown model, absurd parameters) being stored.
  CHECK(error_param(parse(R"({"params": {}})")) == "model");
  CHECK(error_param(parse(R"({"model": "nope/nothing-here"})")) == "model");
  CHECK(error_param(parse(R"({"model": "agent:other"})")) == "model");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": {"temperature": 2.5}})")) ==
        "params.temperature");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": {"temperature": -0.1}})")) ==
        "params.temperature");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": {"temperature": "hot"}})")) ==
        "params.temperature");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": {"top_p": 1.5}})")) ==
        "params.top_p");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": {"max_tokens": 0}})")) ==
        "params.max_tokens");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": {"max_tokens": 1.5}})")) ==
        "params.max_tokens");
  CHECK(error_param(
            parse(R"({"model": "gpt-4o-mini", "params": {"stop": ["a","b","c","d","e"]}})")) ==
        "params.stop");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": {"stop": [1]}})")) ==
        "params.stop");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": {"temprature": 1}})")) ==
        "params.temprature");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "params": []})")) == "params");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "fallbacks": ["nope/x"]})")) == "fallbacks");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "fallbacks": "openai/gpt-4o"})")) ==
        "fallbacks");
  CHECK(error_param(parse(R"({"model": "gpt-4o-mini", "colour": "blue"})")) == "colour");
  auto unknown = parse(R"({"model": "gpt-4o-mini", "params": {"seed": 1}})");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().status == 400);
  CHECK(unknown.error().code == "unknown_parameter");
}

TEST_CASE("max_tokens is bounded by the model's max_output_tokens from the catalog", "[agent]") {
  const auto* info = catalog().find("anthropic")->find_model("claude-sonnet-4-5");
  REQUIRE(info != nullptr);
  REQUIRE(info->max_output_tokens > 0);
  const auto limit = std::to_string(info->max_output_tokens);
  const auto over = std::to_string(info->max_output_tokens + 1);
  CHECK(parse(R"({"model": "anthropic/claude-sonnet-4-5", "params": {"max_tokens": )" + limit +
              "}}"));
  CHECK(error_param(parse(R"({"model": "anthropic/claude-sonnet-4-5", "params": {"max_tokens": )" +
                          over + "}}")) == "params.max_tokens");
}

TEST_CASE("agent names follow the rule", "[agent]") {
  CHECK(validate_agent_name("support-bot_v1.2"));
  CHECK_FALSE(validate_agent_name(""));
  CHECK_FALSE(validate_agent_name("has space"));
  CHECK_FALSE(validate_agent_name("slash/name"));
  CHECK_FALSE(validate_agent_name(std::string(65, 'a')));
  CHECK(validate_agent_name(std::string(64, 'a')));
}

TEST_CASE("agent parameters are defaults: the request's own values win", "[agent][merge]") {
  AgentParams p;
  p.temperature = 0.2;
  p.max_tokens = 100;
  p.top_p = 0.5;
  p.stop = std::vector<std::string>{"END"};
  p.stop_is_string = true;

  auto request = doc(R"({"model": "m", "messages": [], "temperature": 1.1, "top_p": null})");
  merge_agent_params(request, p);
  CHECK(request["temperature"].GetDouble() == Approx(1.1));  // the request's
  CHECK(request["max_tokens"].GetInt64() == 100);            // the agent's
  CHECK(request["top_p"].GetDouble() == Approx(0.5));        // null counts as unset
  CHECK(std::string(request["stop"].GetString()) == "END");

  // Bug guarded: sending both max_tokens and max_completion_tokens upstream (OpenAI refuses).
  auto with_mct = doc(R"({"model": "m", "messages": [], "max_completion_tokens": 50})");
  merge_agent_params(with_mct, p);
  CHECK_FALSE(with_mct.HasMember("max_tokens"));
  CHECK(with_mct["max_completion_tokens"].GetInt() == 50);
}

TEST_CASE("request parameters are range-checked too", "[agent][request]") {
  const auto* info = catalog().find("openai")->find_model("gpt-4o-mini");
  REQUIRE(info != nullptr);
  CHECK(validate_request_params(doc(R"({"temperature": 0, "top_p": 1, "max_tokens": 10})"), info));
  CHECK(validate_request_params(doc(R"({"temperature": null})"), info));
  auto param_of = [&](const std::string& json) {
    auto r = validate_request_params(doc(json), info);
    return r ? std::string("<ok>") : r.error().param;
  };
  CHECK(param_of(R"({"temperature": 3})") == "temperature");
  CHECK(param_of(R"({"top_p": -1})") == "top_p");
  CHECK(param_of(R"({"max_tokens": 0})") == "max_tokens");
  CHECK(param_of(R"({"max_completion_tokens": 100000000})") == "max_completion_tokens");
  CHECK(param_of(R"({"stop": 5})") == "stop");
  // Without catalog knowledge only the lower bound applies.
  CHECK(validate_request_params(doc(R"({"max_tokens": 100000000})"), nullptr));
}

TEST_CASE("the chain is the primary then the resolvable fallbacks, without repeats", "[chain]") {
  auto models = resolver();
  auto chain = build_chain(models, "anthropic/claude-sonnet-4-5",
                           {"fast", "openai/gpt-4o-mini", "nope/gone", "gemini-2.5-flash"});
  REQUIRE(chain);
  REQUIRE(chain->size() == 3);
  CHECK((*chain)[0].provider->id == "anthropic");
  CHECK((*chain)[0].model == "claude-sonnet-4-5");
  CHECK((*chain)[1].provider->id == "openai");  // "fast" and its spelled-out twin: once
  CHECK((*chain)[1].model == "gpt-4o-mini");
  CHECK((*chain)[2].provider->id == "google");

  auto single = build_chain(models, "gpt-4o-mini", {});
  REQUIRE(single);
  CHECK(single->size() == 1);
  CHECK_FALSE(build_chain(models, "nope/gone", {"openai/gpt-4o-mini"}));
}

TEST_CASE("agent:NAME selects an agent; other models do not", "[agent]") {
  CHECK(agent_from_model("agent:support") == std::optional<std::string_view>("support"));
  CHECK_FALSE(agent_from_model("openai/gpt-4o-mini"));
  CHECK_FALSE(agent_from_model("agents:x"));
}

TEST_CASE("only retryable errors before the first byte move on", "[retry]") {
  const Error e503 = Error::upstream_status(503, "overloaded");
  const Error e429 = Error::upstream_status(429, "slow down");
  const Error e400 = Error::upstream_status(400, "bad");
  const Error unreachable = Error::upstream_unreachable("refused");
  CHECK(RetryPolicy::can_move_on(e503, false));
  CHECK(RetryPolicy::can_move_on(e429, false));
  CHECK(RetryPolicy::can_move_on(unreachable, false));
  CHECK_FALSE(RetryPolicy::can_move_on(e400, false));
  // Bug guarded: replaying a request on another provider after the client saw part of an answer.
  CHECK_FALSE(RetryPolicy::can_move_on(e503, true));
  CHECK(RetryPolicy::counts_against_provider(e503));
  CHECK_FALSE(RetryPolicy::counts_against_provider(e429));
  CHECK_FALSE(RetryPolicy::counts_against_provider(e400));

  RetryPolicy policy;
  std::minstd_rand rng(42);
  for (int i = 0; i < 200; ++i) {
    auto d = policy.backoff(rng);
    CHECK(d.count() >= 50);
    CHECK(d.count() <= 200);
  }
}
