#pragma once
// POST /v1/messages: Anthropic's Messages API, for clients built for Anthropic (the official
// @anthropic-ai/sdk, agents that only speak it). The request is translated to an OpenAI chat
// request and goes through the same chat pipeline as /v1/chat/completions — routing to any
// provider, keys, fallback, usage — and every answer it writes (the message, stream events,
// errors) is translated back on its way to the client (providers/anthropic_inbound.hpp).

#include "gateway/translating_exchange.hpp"

namespace keygate::gateway {

awaitable<void> anthropic_messages(HttpExchange& ex, ChatPipeline chat);

// POST /v1/messages/count_tokens: the Messages request (max_tokens optional) translated the same
// way, for `count` to answer {"input_tokens": N} as it is; its errors in Anthropic's shape.
// Clients built for Anthropic (Claude Code) call it often, to know how full the context is.
awaitable<void> anthropic_count_tokens(HttpExchange& ex, ChatPipeline count);

}  // namespace keygate::gateway
