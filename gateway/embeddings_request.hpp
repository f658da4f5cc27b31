#pragma once
// POST /v1/embeddings: the checks on OpenAI's embeddings request that keygate relies on, made
// before any key is looked up. https://platform.openai.com/docs/api-reference/embeddings/create

#include <rapidjson/document.h>

#include "schema/error.hpp"

namespace keygate::gateway {

// "model" a non-empty string; "input" a non-empty string, or a non-empty array of non-empty
// strings, of token ids, or of non-empty arrays of token ids (one kind throughout);
// "encoding_format" "float" or "base64"; "dimensions" a positive integer. Other members go to the
// provider as they came.
Result<void> validate_embeddings_request(const rapidjson::Document& request);

}  // namespace keygate::gateway
