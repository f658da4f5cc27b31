#pragma once
// OpenAI's Responses API as a client-facing dialect: clients built for it (the openai SDKs'
// `responses.create`, agent frameworks that speak only Responses) send POST /v1/responses to
// keygate, which routes the request like any chat request, to any provider. These are the pure
// transforms at its edges, in terms of the OpenAI chat format keygate routes internally:
//
//   Responses request --responses_to_chat_request--> OpenAI chat request --(router)-->
//   OpenAI chat.completion --chat_to_response--> Response object
//   OpenAI stream frames --ResponsesStreamWriter--> Responses stream events
//
// Wire format: https://platform.openai.com/docs/api-reference/responses/create (request, the
// Response object) and https://platform.openai.com/docs/api-reference/responses-streaming (events:
// response.created, response.in_progress, response.output_item.added, response.content_part.added,
// response.output_text.delta ... .done, response.function_call_arguments.delta ... .done,
// response.reasoning_summary_text.delta ... .done, response.output_item.done, and one of
// response.completed, response.incomplete or response.failed; every event has a sequence_number).
// Errors are OpenAI's error object, as on /v1/chat/completions.
//
// keygate keeps no responses (it is stateless, as a client with `store: false` asks OpenAI to be):
// every request carries its whole conversation in `input`, as the SDKs' stateless mode and
// agents such as Codex send it. `previous_response_id`, `conversation`, `item_reference` items,
// `background` and stored `prompt` templates are refused (400 naming the field); every Response
// says `"store": false`.
//
// Carried:
//   input       a string (one user message) or items: messages (user, system, developer,
//               assistant; input_text, input_image by URL, input_file as file data, output_text,
//               refusal), function_call (→ an assistant tool call; one right after an assistant
//               message joins it), function_call_output (→ a tool message); reasoning
//               items: Claude's signed thinking blocks, which keygate puts in a reasoning
//               item's encrypted_content, go back to Claude with the next assistant turn (it
//               requires them to continue a tool call it thought about); other reasoning items
//               (OpenAI's own) are left out;
//   instructions → a system message first;  max_output_tokens → max_completion_tokens;
//   temperature, top_p, parallel_tool_calls, user → as they are;
//   tools       function tools (→ chat tools); OpenAI's hosted tools (web_search, file_search,
//               code_interpreter, computer use, MCP, ...) run only inside OpenAI's Responses
//               service and are refused (400 naming the tool);
//   tool_choice "none" | "auto" | "required" | {"type":"function","name":...};
//   text.format → response_format (text, json_object, json_schema); text.verbosity → verbosity;
//   reasoning.effort → reasoning_effort (its `summary` asks for what keygate returns anyway: a
//               provider's reasoning text becomes a reasoning item's summary);
//   stream      → stream, with usage asked for (the final event reports it).
// Accepted and without effect: `include`, `store`, `service_tier`, `prompt_cache_key`,
// `safety_identifier`, `stream_options`, `truncation: "disabled"`; `metadata` is repeated in the
// Response. Refused: `top_logprobs`, `max_tool_calls`, `truncation: "auto"`.

#include <memory>
#include <string>
#include <string_view>

#include "schema/error.hpp"

namespace keygate::providers {

// Claude's signed thinking blocks ride in a reasoning item's `encrypted_content` as this prefix
// and their JSON array: the Responses API's field for a client to send a model's reasoning back,
// and Claude requires them back on the next turn of a tool call it thought about. The prefix
// tells keygate's own from OpenAI's encrypted reasoning.
inline constexpr std::string_view kThinkingBlocksPrefix = "keygate.thinking_blocks:";

// What keygate gives a Response that the chat answer does not hold: its id (item ids derive from
// it) and creation time.
struct ResponseIdentity {
  std::string id;          // "resp_..."
  int64_t created_at = 0;  // Unix seconds
};

struct ResponsesTranslation {
  std::string chat_request;  // the OpenAI chat request keygate routes
  // A JSON object: the identity and the request's settings a Response repeats (instructions,
  // max_output_tokens, metadata, parallel_tool_calls, reasoning, temperature, text, tool_choice,
  // tools, top_p, truncation, user, store, previous_response_id), for the two writers below.
  std::string echo;
  bool stream = false;
};

// A Responses API request body → the chat request and the Response's repeated settings.
// Errors: 400 invalid_request_error naming the offending field.
Result<ResponsesTranslation> responses_to_chat_request(std::string_view responses_request,
                                                       const ResponseIdentity& identity);

// A chat.completion → a Response object: the first choice's reasoning text as a reasoning item
// (its summary; Claude's thinking blocks in its encrypted_content), its text as a message item
// (output_text), a refusal as a message item with a refusal part, its tool calls as
// function_call items;
// finish_reason "length" or "content_filter" make the status "incomplete" (incomplete_details
// max_output_tokens or content_filter); usage as input_tokens, output_tokens, total_tokens with
// cached and reasoning token details. An answer without choices is a 502.
Result<std::string> chat_to_response(std::string_view chat_completion, std::string_view echo);

// Turns the bytes keygate would stream to an OpenAI chat client ("data: {chunk}\n\n" frames,
// then "data: [DONE]\n\n", or a "data: {"error":{...}}" frame when the stream fails) into
// Responses stream events, as they arrive, in any pieces. Events out: response.created and
// response.in_progress at the first frame; per output item (a reasoning item from
// delta.reasoning_content and delta.thinking_blocks, a message from delta.content, another with
// a refusal part from delta.refusal, a function_call per tool call)
// output_item.added, its part's or summary's added event, deltas, their done events and
// output_item.done; at [DONE] response.completed (response.incomplete when the answer was cut
// by its token limit or a content filter) with every item and the usage. An error frame, or a
// frame that is not a JSON chunk, ends the stream with response.failed, whose output holds the
// items so far (one cut short marked "incomplete").
class ResponsesStreamWriter {
 public:
  // `echo`: ResponsesTranslation::echo.
  explicit ResponsesStreamWriter(std::string_view echo);
  ~ResponsesStreamWriter();
  ResponsesStreamWriter(const ResponsesStreamWriter&) = delete;
  ResponsesStreamWriter& operator=(const ResponsesStreamWriter&) = delete;

  // Appends to `out` the events for the complete frames in `openai_bytes` (a frame split across
  // calls is kept until its end arrives). An error: the bytes are not an OpenAI stream.
  Result<void> feed(std::string_view openai_bytes, std::string& out);
  // Ends the stream with response.failed carrying `error` (nothing if it has ended already).
  void fail(const Error& error, std::string& out);
  // True once response.completed, response.incomplete or response.failed went out.
  bool finished() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace keygate::providers
