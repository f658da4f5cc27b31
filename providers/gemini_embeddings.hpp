#pragma once
// POST /v1/embeddings on Gemini: OpenAI's request as a batchEmbedContents request (one entry per
// input text), and its answer as OpenAI's embeddings list.
// https://ai.google.dev/api/embeddings#method:-models.batchembedcontents

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "providers/adapter.hpp"
#include "schema/error.hpp"

namespace keygate::providers {

// What Gemini cannot take: token ids (it embeds text only), more than 100 texts (its batch
// limit).
Result<void> check_gemini_embeddings(const rapidjson::Document& request);

// The body for POST /v1beta/models/{model}:batchEmbedContents. `model` is a checked Gemini id.
// Token-id input (arrays of integers) is refused: Gemini embeds text only.
Result<std::string> gemini_embeddings_body(const rapidjson::Document& request,
                                           std::string_view model);

// The 2xx answer → OpenAI's list: one entry per input, numbers as Google wrote them, or base64
// float32s when the request asked for base64. Google reports no token count for embeddings, so
// `usage` holds keygate's estimate (Usage::estimated), and so does the answer's "usage".
Result<std::string> gemini_embeddings_answer(const std::string& upstream_body,
                                             const rapidjson::Document& request,
                                             std::string_view model, Usage& usage);

}  // namespace keygate::providers
