#pragma once
// How much a chat request asks the model to reason, read from either of the two ways keygate's
// routing format (OpenAI's chat request) can say it, for the adapters whose providers spell it
// otherwise:
//
//   "reasoning_effort": "none" | "minimal" | "low" | "medium" | "high" | "xhigh"
//       OpenAI's own field. https://platform.openai.com/docs/api-reference/chat/create
//   "thinking": {"type":"enabled","budget_tokens":N} | {"type":"disabled"} | {"type":"adaptive"}
//       Anthropic's extension to the OpenAI format (its OpenAI SDK compatibility layer takes it
//       in extra_body), and what POST /v1/messages carries from a Messages API request.
//
// `thinking` wins when a request has both: it is the more precise. Effort levels become token
// budgets as Google's OpenAI-compatible endpoint maps them (low 1K, medium 8K, high 24K; "none"
// turns thinking off): https://ai.google.dev/gemini-api/docs/openai#thinking
//
// Answers carry the reasoning back in two fields of the assistant message:
//   "reasoning_content": the reasoning text (DeepSeek's field; Claude's thinking, Gemini's thought
//       summaries);
//   "thinking_blocks": [{"type":"thinking","thinking":"...","signature":"..."} |
//                       {"type":"redacted_thinking","data":"..."}]   (Claude's only)
//       the convention LiteLLM set for Claude's signed blocks in the OpenAI format. Streams send
//       one entry per block end: a thinking block's signature, or a redacted block whole.
// An assistant message sent back with its thinking_blocks gives them back to Claude, which needs
// them to continue a tool call it thought about; the OpenAI family and Gemini leave them out.

#include <rapidjson/document.h>

#include <cstdint>
#include <string_view>

#include "schema/error.hpp"

namespace keygate::providers {

struct ReasoningAsk {
  enum class Mode {
    unspecified,  // the request says nothing: the provider's default
    off,          // thinking disabled, or reasoning_effort "none"
    budget,       // think up to budget_tokens
    adaptive,     // the model decides how much (Anthropic's adaptive thinking, Gemini's -1)
  };
  Mode mode = Mode::unspecified;
  int64_t budget_tokens = 0;  // Mode::budget only
  // Asked through `thinking`: the client expects the thoughts back (as Anthropic returns them);
  // reasoning_effort alone asks for reasoning, not to see it (as OpenAI's models behave).
  bool show_thoughts = false;
};

// 400 naming the field when either is malformed: an unknown effort, a thinking object without a
// known type, or an enabled one without a positive integer budget_tokens.
Result<ReasoningAsk> read_reasoning(const rapidjson::Value& request);

// The effort level nearest a budget, for providers that take levels only (the OpenAI family):
// below 4K "low", below 16K "medium", else "high". Empty for unspecified, off and adaptive: the
// field is then left out and the model reasons at its default (not every model knows "none").
std::string_view effort_for(const ReasoningAsk& ask);

}  // namespace keygate::providers
