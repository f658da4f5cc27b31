#pragma once
// POST /v1/responses: OpenAI's Responses API, for clients built for it (the openai SDKs'
// `responses.create`, agent frameworks that speak only Responses). The request is translated to
// an OpenAI chat request and goes through the same chat pipeline as /v1/chat/completions —
// routing to any provider, keys, limits, fallback, usage — and every answer (the Response, its
// stream events) is translated back on its way out (providers/responses_inbound.hpp). Errors
// keep OpenAI's error shape, which the Responses API shares. keygate keeps no responses: each
// request carries its whole conversation.

#include "gateway/translating_exchange.hpp"

namespace keygate::gateway {

awaitable<void> openai_responses(HttpExchange& ex, ChatPipeline chat);

}  // namespace keygate::gateway
