#pragma once
// POST /v1/embeddings: the pieces every adapter shares. OpenAI's request is the wire format;
// the OpenAI family takes it as it came (with its own model id), Gemini gets it translated
// (providers/gemini_embeddings.hpp). https://platform.openai.com/docs/api-reference/embeddings

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "providers/adapter.hpp"
#include "schema/error.hpp"

namespace keygate::providers {

// The request for an OpenAI-family provider: the client's members in their order, the model
// replaced by the provider's id. Path "/embeddings".
Result<UpstreamRequest> openai_embeddings_request(const rapidjson::Document& request,
                                                  std::string_view model);

// What an OpenAI-shaped embeddings answer holds, read without building it (a batch of vectors is
// megabytes of numbers): whether it is an object with a "data" array, and its usage.
struct EmbeddingsScan {
  bool parsed = false;
  bool is_list = false;  // an object with a "data" array
  int64_t prompt_tokens = -1;
  int64_t total_tokens = -1;
  bool number_vectors = false;  // some data[].embedding is an array of numbers (not base64)
};
EmbeddingsScan scan_embeddings_answer(const std::string& body);

// The answer with each data[].embedding array of numbers written as base64 float32s: for a
// provider that answers numbers to a client that asked for base64 (the openai SDKs decode what
// they asked for, and would misread numbers).
Result<std::string> vectors_as_base64(const std::string& body, std::string_view provider);

// The client asked for vectors as base64 ("encoding_format": "base64"), as the openai SDKs do
// unless told otherwise; else numbers.
bool wants_base64(const rapidjson::Value& request);

// The request's texts, in order: "input" as one string or an array of strings. Empty when the
// input holds anything else (token ids), which only the OpenAI family takes.
std::vector<std::string_view> input_texts(const rapidjson::Value& request);

// keygate's estimate of a text's tokens where a provider reports none: one per 4 bytes, at least
// one (English runs close to 4 characters a token in every provider's tokenizer).
int64_t estimate_tokens(std::string_view text);

// Appends `values` as OpenAI's base64 encoding_format does: little-endian float32s, base64.
void append_base64_floats(std::string& out, const std::vector<float>& values);

}  // namespace keygate::providers
