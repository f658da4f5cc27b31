#pragma once
// Agents: a user's named preset of a model, default parameters and fallback models. This file
// parses and validates an agent (from the API body, or as stored), checks the sampling
// parameters of a chat request, merges an agent's defaults into a request, and builds the chain
// of targets a request tries in order. Pure functions: no I/O, no keystore.

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/model_resolver.hpp"
#include "schema/error.hpp"

namespace keygate::router {

// The parameters an agent may preset. Anything else in "params" is refused (a typo such as
// "temprature" must not be silently ignored).
struct AgentParams {
  std::optional<double> temperature;  // 0..2
  std::optional<double> top_p;        // 0..1
  std::optional<int64_t> max_tokens;  // 1..the model's max_output_tokens when the catalog knows it
  std::optional<std::vector<std::string>> stop;  // at most 4
  bool stop_is_string = false;                   // given as "stop": "x" (written back the same)
  bool empty() const { return !temperature && !top_p && !max_tokens && !stop; }
};

struct AgentSpec {
  std::string model;  // as the user named it (an alias follows the operator's configuration)
  AgentParams params;
  std::vector<std::string> fallbacks;
};

// 1-64 of [A-Za-z0-9_.-]; 400 naming the rule otherwise.
Result<void> validate_agent_name(std::string_view name);

// The body of PUT /v1/agents/{name}: {"model", "params"?, "fallbacks"?}. Every model must
// resolve; params are range-checked against the primary model's catalog entry.
Result<AgentSpec> parse_agent_body(const rapidjson::Value& body, const ModelResolver& models);

// An agent as stored (params_json, fallbacks_json). Not re-validated against the catalog: the
// catalog may have changed since; the request path resolves the models again.
Result<AgentSpec> parse_stored_agent(std::string_view model, std::string_view params_json,
                                     std::string_view fallbacks_json);

std::string params_to_json(const AgentParams& params);
std::string fallbacks_to_json(const std::vector<std::string>& fallbacks);

// Range checks on a chat request's own temperature, top_p, max_tokens / max_completion_tokens
// and stop. `model` (may be null) bounds max_tokens by its max_output_tokens.
Result<void> validate_request_params(const rapidjson::Value& request,
                                     const providers::ModelInfo* model);

// Agent defaults under the request: a parameter the request sets wins. A request that sets
// max_completion_tokens keeps it and gets no max_tokens from the agent.
void merge_agent_params(rapidjson::Document& request, const AgentParams& params);

// [primary] + fallbacks, each resolved. The primary must resolve; a fallback that no longer does
// (an alias the operator removed) is skipped. Duplicates (same provider and model) are dropped.
Result<std::vector<Target>> build_chain(const ModelResolver& models, std::string_view primary,
                                        const std::vector<std::string>& fallbacks);

// "agent:NAME" → NAME; otherwise nullopt.
std::optional<std::string_view> agent_from_model(std::string_view model);

}  // namespace keygate::router
