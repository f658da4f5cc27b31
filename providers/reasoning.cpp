#include "providers/reasoning.hpp"

#include "providers/wire.hpp"
#include "schema/json.hpp"

namespace keygate::providers {

namespace {

using wire::bad_request;
using wire::find;
using wire::Value;

// Google's mapping for its OpenAI-compatible endpoint; "minimal" gets the smallest budget
// Anthropic accepts, and "xhigh" (OpenAI's newest level) Anthropic's largest documented example.
Result<ReasoningAsk> from_effort(std::string_view effort) {
  ReasoningAsk ask;
  ask.mode = ReasoningAsk::Mode::budget;
  if (effort == "none") {
    ask.mode = ReasoningAsk::Mode::off;
  } else if (effort == "minimal" || effort == "low") {
    ask.budget_tokens = 1024;
  } else if (effort == "medium") {
    ask.budget_tokens = 8192;
  } else if (effort == "high") {
    ask.budget_tokens = 24576;
  } else if (effort == "xhigh") {
    ask.budget_tokens = 32768;
  } else {
    return fail(
        bad_request("'reasoning_effort' must be one of none, minimal, low, medium, high or xhigh.",
                    "reasoning_effort"));
  }
  return ask;
}

Result<ReasoningAsk> from_thinking(const Value& thinking) {
  const Value* type = find(thinking, "type");
  if (type == nullptr || !type->IsString()) {
    return fail(bad_request("'thinking' must be an object with a string 'type'.", "thinking"));
  }
  ReasoningAsk ask;
  ask.show_thoughts = true;
  const std::string_view kind = as_view(*type);
  if (kind == "disabled") {
    ask.mode = ReasoningAsk::Mode::off;
  } else if (kind == "adaptive") {
    ask.mode = ReasoningAsk::Mode::adaptive;
  } else if (kind == "enabled") {
    const Value* budget = find(thinking, "budget_tokens");
    if (budget == nullptr || !budget->IsInt64() || budget->GetInt64() < 1) {
      return fail(bad_request("'thinking.budget_tokens' must be a positive integer.",
                              "thinking.budget_tokens"));
    }
    ask.mode = ReasoningAsk::Mode::budget;
    ask.budget_tokens = budget->GetInt64();
  } else {
    return fail(
        bad_request("'thinking.type' must be enabled, disabled or adaptive.", "thinking.type"));
  }
  return ask;
}

}  // namespace

Result<ReasoningAsk> read_reasoning(const rapidjson::Value& request) {
  if (const Value* thinking = find(request, "thinking")) {
    return from_thinking(*thinking);
  }
  if (const Value* effort = find(request, "reasoning_effort")) {
    if (!effort->IsString()) {
      return fail(bad_request("'reasoning_effort' must be a string.", "reasoning_effort"));
    }
    return from_effort(as_view(*effort));
  }
  return ReasoningAsk{};
}

std::string_view effort_for(const ReasoningAsk& ask) {
  if (ask.mode != ReasoningAsk::Mode::budget) {
    return {};
  }
  if (ask.budget_tokens < 4096) {
    return "low";
  }
  return ask.budget_tokens < 16384 ? "medium" : "high";
}

}  // namespace keygate::providers
