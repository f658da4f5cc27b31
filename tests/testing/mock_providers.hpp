#pragma once
// Mock handlers speaking Anthropic's Messages API and Gemini's generateContent API on the wire,
// as documented: whole JSON answers and SSE streams, text and tool calls, and errors.
//   Anthropic: https://docs.anthropic.com/en/api/messages, .../en/docs/build-with-claude/streaming
//   Gemini:    https://ai.google.dev/api/generate-content (streamGenerateContent?alt=sse)
// Each handler answers whatever arrives; tests assert on MockUpstream::requests() for the shape
// keygate sent.

#include <chrono>
#include <string>
#include <vector>

#include "testing/mock_upstream.hpp"

namespace keygate::testing {

// --- Anthropic ----------------------------------------------------------------------------
// A message with one text block, stop_reason end_turn.
std::string anthropic_message_json(const std::string& text, int input_tokens = 10,
                                   int output_tokens = 25);
// A message with a text block and one tool_use block, stop_reason tool_use.
std::string anthropic_tool_use_json(const std::string& id, const std::string& name,
                                    const std::string& input_json);
// {"type":"error","error":{"type": ..., "message": ...}}
std::string anthropic_error_json(const std::string& type, const std::string& message);
MockHandler anthropic_json_handler(std::string text);
MockHandler anthropic_tool_use_handler(std::string id, std::string name, std::string input_json);
// message_start, a text block streamed in `pieces`, message_delta (end_turn), message_stop.
MockHandler anthropic_stream_handler(std::vector<std::string> pieces);
// A tool_use block whose input arrives as input_json_delta `partial_json` pieces.
MockHandler anthropic_tool_stream_handler(std::string id, std::string name,
                                          std::vector<std::string> partial_json);
MockHandler anthropic_error_handler(int status, std::string type, std::string message);

// --- Gemini -------------------------------------------------------------------------------
std::string gemini_text_json(const std::string& text, int prompt_tokens = 8,
                             int candidates_tokens = 12);
std::string gemini_function_call_json(const std::string& name, const std::string& args_json);
MockHandler gemini_json_handler(std::string text);
MockHandler gemini_function_call_handler(std::string name, std::string args_json);
// One SSE event per piece (CRLF-delimited, as Google sends them); the last has finishReason.
MockHandler gemini_stream_handler(std::vector<std::string> pieces);
MockHandler gemini_function_call_stream_handler(std::string name, std::string args_json);

// An OpenAI stream: one chunk per piece, each followed by a pause of `gap`, then the finishing
// chunk and [DONE] (a model that takes its time between tokens).
MockHandler openai_paced_stream_handler(std::vector<std::string> pieces,
                                        std::chrono::milliseconds gap);

// --- Embeddings ---------------------------------------------------------------------------
// OpenAI's POST /v1/embeddings (https://platform.openai.com/docs/api-reference/embeddings):
// input i (a string, or each item of an array) gets openai_embedding(i), as numbers or, when the
// request asks "encoding_format": "base64", as little-endian float32s in base64; usage counts
// 3 prompt tokens an input.
std::vector<float> openai_embedding(int i);
MockHandler openai_embeddings_handler();
// Gemini's batchEmbedContents (https://ai.google.dev/api/embeddings): request entry i gets
// gemini_embedding_text(i), numbers written as this text, and no usage (Google reports none).
std::vector<std::string> gemini_embedding_text(int i);
MockHandler gemini_embeddings_handler();
// The floats in an OpenAI base64 vector (empty when it is not valid base64 of float32s).
std::vector<float> decode_base64_floats(const std::string& base64);

// A handler that answers every request with `status` and `body` (e.g. 503 overloaded).
MockHandler status_handler(int status, std::string body);

}  // namespace keygate::testing
