#pragma once
// Anthropic's Messages API as a client-facing dialect: clients built for Anthropic (the official
// @anthropic-ai/sdk, Claude Code, ...) send POST /v1/messages to keygate, which routes the request
// like any chat request, to any provider. These are the pure transforms at its edges, all in terms
// of the OpenAI chat format keygate routes internally:
//
//   Messages request --to_openai_request--> OpenAI chat request  --(router, any provider)-->
//   OpenAI chat.completion --to_anthropic_message--> Messages response
//   OpenAI stream frames --AnthropicStreamWriter--> Messages stream events
//   keygate Error --anthropic_error_body--> Anthropic error body
//
// Wire formats: https://docs.anthropic.com/en/api/messages (request, response, errors) and
// https://docs.anthropic.com/en/docs/build-with-claude/streaming (events: message_start,
// content_block_start, content_block_delta with text_delta or input_json_delta,
// content_block_stop, message_delta, message_stop, error).
//
// Claude's own tools (web search, web fetch, code execution, bash, ...: a tool with a `type`)
// travel in `tools` as they came, for the Anthropic adapter to send on; the other adapters
// refuse them (providers/wire.hpp refuse_claude_tools). An assistant turn with blocks OpenAI's
// shape has no place for (a server tool's call and result, cited text, block types added later)
// keeps them as the message's `anthropic_content`, which the Anthropic adapter sends back as it
// came; the others read the turn's text and tool calls. A client of this API routed to Claude
// gets Claude's own answer (providers/claude_native.hpp), not a translation.
//
// Not carried (a 400 that names the field, never silently dropped): in user turns, documents by
// URL, by file id or of content blocks, and search-result blocks. PDF documents (base64) become
// OpenAI "file" parts, plain-text ones text. A tool_result's `is_error` becomes the tool message's
// (a keygate extension the adapters read: Claude's is_error, Gemini's "error" response; the OpenAI
// family drops it). A tool_result's images become image_url parts of the tool message (the
// OpenAI-compatible adapter moves them to a user message, as OpenAI's tool messages take text
// only).
//
// Extended thinking is carried both ways (providers/reasoning.hpp): `thinking` and `top_k` go on
// as they came, for each provider's adapter to map; thinking and redacted_thinking blocks sent
// back become the assistant message's `thinking_blocks`; an answer's `thinking_blocks` (Claude's,
// signed) or `reasoning_content` (another provider's, unsigned) become thinking blocks first in
// the content, streamed as thinking_delta and signature_delta.

#include <memory>
#include <string>
#include <string_view>

#include "schema/error.hpp"

namespace keygate::providers {

// A Messages API request body → the equivalent OpenAI chat request body. "model" is kept as the
// client named it (keygate resolves it like any model name); a streamed request also asks for
// usage (stream_options.include_usage), which the stream's message_delta reports.
// Errors: 400 invalid_request_error naming the offending field.
// Messages API request fields only Claude has (its effort setting, context editing, service
// tier). A request carries them under "anthropic" in the OpenAI format; the Anthropic adapter
// sends them on, the others leave them out. https://docs.anthropic.com/en/api/messages
inline constexpr const char* kClaudeOnlyFields[] = {"output_config", "context_management",
                                                    "service_tier"};

// `count_tokens`: the body of POST /v1/messages/count_tokens, where max_tokens is not asked for
// (and stream means nothing).
enum class MessagesRequest { message, count_tokens };
// `anthropic_beta`: the client's anthropic-beta header (Claude Code asks for interleaved thinking
// and long context there), carried as the request's "anthropic_beta" for the Anthropic adapter
// to send on; other providers' adapters leave it out.
Result<std::string> to_openai_request(std::string_view messages_request,
                                      MessagesRequest kind = MessagesRequest::message,
                                      std::string_view anthropic_beta = {});

// A chat.completion (OpenAI's non-streamed answer) → an Anthropic message: its first choice's text
// as a text block and its tool calls as tool_use blocks (arguments parsed into "input"),
// finish_reason mapped to stop_reason, usage to input_tokens/output_tokens.
Result<std::string> to_anthropic_message(std::string_view chat_completion);

// {"type":"error","error":{"type":"...","message":"..."}} with Anthropic's error type for the
// status: 400 invalid_request_error, 401 authentication_error, 403 permission_error,
// 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 529 overloaded_error,
// any other 5xx api_error.
std::string anthropic_error_body(const Error& error);

// Turns the bytes keygate would stream to an OpenAI client ("data: {chunk}\n\n" frames, then
// "data: [DONE]\n\n", or a "data: {"error":{...}}" frame when the stream fails) into Anthropic
// stream events, as they arrive, in any pieces. Events out:
//   message_start (at the first chunk), then per content block content_block_start,
//   content_block_delta..., content_block_stop (text blocks from delta.content, tool_use blocks
//   from delta.tool_calls, a new block whenever the kind or the tool call changes), then at
//   [DONE] message_delta (stop_reason, usage) and message_stop; an error frame, or a frame that
//   is not a JSON chunk, becomes an "error" event and ends the stream.
class AnthropicStreamWriter {
 public:
  AnthropicStreamWriter();
  ~AnthropicStreamWriter();
  AnthropicStreamWriter(const AnthropicStreamWriter&) = delete;
  AnthropicStreamWriter& operator=(const AnthropicStreamWriter&) = delete;

  // Appends to `out` the events for the complete frames in `openai_bytes` (a frame split across
  // calls is kept until its end arrives). An error: the bytes are not an OpenAI stream.
  Result<void> feed(std::string_view openai_bytes, std::string& out);
  // True once message_stop or an error event went out.
  bool finished() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace keygate::providers
