#pragma once
// Typical payloads for the micro-benchmark, shaped like the golden fixtures in
// tests/fixtures/providers (which come from the providers' documentation). Kept here, not read
// from the fixtures, so that renaming a test case never changes what the benchmark measures.

#include <string>
#include <string_view>

namespace keygate::bench {

// A small chat request as an OpenAI SDK sends it; `model` is spliced in.
inline std::string small_request(std::string_view model) {
  return std::string(R"({"model":")") + std::string(model) +
         R"(","messages":[{"role":"developer","content":"You are a helpful assistant."},)"
         R"({"role":"user","content":"Hello!"}],"temperature":0.7,"max_completion_tokens":256})";
}

// A larger conversation: `messages` alternating user/assistant turns of about `chars` characters.
inline std::string large_request(std::string_view model, int messages = 20, int chars = 500) {
  static constexpr std::string_view kWords =
      "The quick brown fox jumps over the lazy dog while the gateway relays every token. ";
  std::string body = std::string(R"({"model":")") + std::string(model) +
                     R"(","messages":[{"role":"system","content":"You are a helpful assistant."})";
  for (int i = 0; i < messages; ++i) {
    std::string text;
    while (text.size() < static_cast<std::size_t>(chars)) {
      text += kWords;
    }
    text.resize(static_cast<std::size_t>(chars));
    body += R"(,{"role":")";
    body += i % 2 == 0 ? "user" : "assistant";
    body += R"(","content":")" + text + "\"}";
  }
  body += R"(],"temperature":0.7,"max_completion_tokens":1024,"stream":true,)"
          R"("stream_options":{"include_usage":true}})";
  return body;
}

// --- non-streaming upstream answers (2xx bodies) ---------------------------------------------

inline constexpr std::string_view kOpenAiResponse = R"({
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "gpt-4o-mini-2024-07-18",
  "choices": [{"index": 0, "message": {"role": "assistant",
    "content": "Hello! How can I assist you today?", "refusal": null, "annotations": []},
    "logprobs": null, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
  "service_tier": "default",
  "system_fingerprint": "fp_06737a9306"
})";

inline constexpr std::string_view kAnthropicResponse = R"({
  "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-5-20250929",
  "content": [{"type": "text", "text": "Hi! My name is Claude."}],
  "stop_reason": "end_turn",
  "stop_sequence": null,
  "usage": {"input_tokens": 10, "output_tokens": 25}
})";

inline constexpr std::string_view kGeminiResponse = R"({
  "candidates": [{"content": {
    "parts": [{"text": "AI learns patterns from data to make predictions."}], "role": "model"},
    "index": 0, "finishReason": "STOP"}],
  "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 10, "totalTokenCount": 18,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}]},
  "modelVersion": "gemini-2.5-flash",
  "responseId": "Il0taoSYJ5Cez7kPq7zN4Q8"
})";

// --- stream events, as the bytes arrive (one complete SSE event each) ------------------------

inline constexpr std::string_view kOpenAiChunkEvent =
    "data: {\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion.chunk\","
    "\"created\":1741569952,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\","
    "\"system_fingerprint\":\"fp_06737a9306\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\" Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n";

// Anthropic opens a stream with these, once; the benchmark feeds them before timing.
inline constexpr std::string_view kAnthropicPreamble =
    "event: message_start\n"
    "data: "
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-"
    "20250929\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":"
    "1}}}"
    "\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n";

inline constexpr std::string_view kAnthropicDeltaEvent =
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\" Hello\"}}\n\n";

inline constexpr std::string_view kGeminiChunkEvent =
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" quick brown fox\"}],"
    "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9,"
    "\"totalTokenCount\":9},\"modelVersion\":\"gemini-2.5-flash\","
    "\"responseId\":\"k2W0aO2xKqC7xN8PjZmU0Ak\"}\n\n";

}  // namespace keygate::bench
