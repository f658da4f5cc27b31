#pragma once
// A provider adapter: pure transforms between OpenAI's chat-completions wire format and one
// provider's wire format. No I/O here — the gateway's upstream client does the transport, and
// sets the secret auth header itself (adapters never see a key).

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/sse.hpp"
#include "schema/error.hpp"

namespace keygate::providers {

struct Provider;

// The request to send upstream. `path` is appended to the path of the provider's base URL
// (base "https://api.openai.com/v1" + "/chat/completions"); it may carry a query string.
struct UpstreamRequest {
  std::string method = "POST";
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // never secret ones
  std::string body;
};

// Token counts as reported by the upstream; -1 where the upstream did not say.
struct Usage {
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
  int64_t cached_tokens = -1;
  int64_t reasoning_tokens = -1;
  // Prompt tokens written to the provider's cache (Claude's cache_creation_input_tokens; counted
  // in prompt_tokens too), and of those the ones written for an hour (billed higher).
  int64_t cache_write_tokens = -1;
  int64_t cache_write_1h_tokens = -1;
  // Web searches a server tool ran for the call (Claude's server_tool_use), billed apart.
  int64_t web_search_requests = -1;
  // The counts are keygate's estimate, not the provider's (Gemini reports none for embeddings).
  bool estimated = false;
  bool reported() const { return prompt_tokens >= 0 || completion_tokens >= 0; }
};

// The chat request's JSON text as the client sent it, while the parsed document says exactly
// what the text says (no agent parameters merged in), and where its top-level "model" value lies
// (quotes included). An adapter that forwards the request in OpenAI's own shape edits this text
// rather than writing the whole document out again. Empty when there is none to edit.
struct RequestText {
  std::string_view json;
  std::size_t model_begin = 0;
  std::size_t model_end = 0;
};

// What the client asked for: a chat completion, or embeddings (POST /v1/embeddings, in OpenAI's
// shape: never streamed). Both go through the same attempt, retries and usage recording.
enum class Operation { chat, embeddings };

struct ChatOptions {
  bool stream = false;
  bool client_wants_usage = false;  // the client sent stream_options.include_usage = true
  // The client speaks Claude's API (POST /v1/messages): Claude's adapter hands over Claude's own
  // answer and stream events, wrapped (providers/claude_native.hpp); the others translate.
  bool anthropic_client = false;
  RequestText text;
  Operation operation = Operation::chat;
};

// Turns one upstream stream into OpenAI chat.completion.chunk payloads. One instance per stream;
// a state machine keyed by content-block index. Output strings are the JSON that follows "data: ",
// or the literal "[DONE]" as the last one.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  // An error result means the upstream reported an error mid-stream (the gateway sends it to
  // the client as an error event). Unknown event types are skipped, never a crash. The event is
  // the translator's: a passthrough moves its data to `out` instead of copying it.
  virtual Result<void> on_event(SseEvent event, std::vector<std::string>& out) = 0;
  // The upstream closed its stream. An error if it ended before its terminal event (truncated).
  virtual Result<void> on_end(std::vector<std::string>& out) = 0;
  virtual const Usage& usage() const = 0;

  // A translator whose output events are its input events unchanged, or dropped (OpenAI's own
  // format): the relay may then copy a plain event ("data: <payload>" and a blank line, nothing
  // else) from the upstream's bytes as it came, without parsing it into an SseEvent, after asking
  // pass_verbatim(payload): true to pass it on, false to drop it, an error as on_event's.
  virtual bool relays_verbatim() const { return false; }
  virtual Result<bool> pass_verbatim(std::string_view /*data*/) { return false; }
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  // `request` is the client's OpenAI chat request, validated, with agent defaults merged; it stays
  // as it is, for the next target of a fallback chain. `model` is the upstream model id (no
  // "provider/" prefix).
  virtual Result<UpstreamRequest> build_chat_request(const rapidjson::Document& request,
                                                     const ChatOptions& options,
                                                     std::string_view model) const = 0;
  // A successful (2xx) non-stream upstream body → OpenAI chat.completion JSON; fills `usage`.
  virtual Result<std::string> translate_response(std::string_view upstream_body,
                                                 std::string_view model, Usage& usage) const = 0;
  // The same for a caller that can send a view (valid while `upstream_body` and `storage` are):
  // an adapter that passes the answer through verbatim returns `upstream_body` itself and copies
  // nothing; the others put their translation in `storage` and return a view of it. A whole
  // std::string, not a view: its terminating NUL lets the JSON parser scan 16 bytes at a time.
  virtual Result<std::string_view> translate_response_view(const std::string& upstream_body,
                                                           std::string_view model, Usage& usage,
                                                           std::string& storage) const;
  // The answer for the client `options` describe: translate_response_view's, except where the
  // adapter hands a client of its provider's own API the answer as it came (Claude's, for
  // ChatOptions::anthropic_client).
  virtual Result<std::string_view> translate_answer(const std::string& upstream_body,
                                                    const ChatOptions& options,
                                                    std::string_view model, Usage& usage,
                                                    std::string& storage) const {
    (void)options;
    return translate_response_view(upstream_body, model, usage, storage);
  }
  virtual std::unique_ptr<StreamTranslator> start_stream(const ChatOptions& options,
                                                         std::string_view model) const = 0;
  // An upstream non-2xx answer → our error, keeping the upstream status (4xx/5xx) and message.
  virtual Error translate_error(int status, std::string_view upstream_body) const = 0;
  // A cheap authenticated call that proves a key works (e.g. list models).
  virtual UpstreamRequest build_key_test_request() const = 0;
  // POST /v1/messages/count_tokens: the request that counts the input tokens `request` (the
  // chat request build_chat_request takes) would use, and the count from its 2xx answer.
  // Providers without a counting endpoint (the OpenAI family) answer 400 (the default).
  virtual Result<UpstreamRequest> build_count_tokens_request(const rapidjson::Document& request,
                                                             std::string_view model) const;
  virtual Result<int64_t> read_token_count(std::string_view upstream_body) const;
  virtual bool counts_tokens() const { return false; }
  // POST /v1/embeddings. `request` is OpenAI's embeddings request as the gateway validated it
  // (gateway/embeddings_request.hpp); `model` the upstream id. Providers without an embeddings
  // endpoint answer 400 (the default), before any key is looked up.
  virtual bool embeds() const { return false; }
  virtual Result<UpstreamRequest> build_embeddings_request(const rapidjson::Document& request,
                                                           std::string_view model) const;
  // What build_embeddings_request would refuse in `request` itself (Gemini: token ids, more
  // texts than a batch takes), asked before any key is looked up. The default: nothing.
  virtual Result<void> check_embeddings_request(const rapidjson::Document& request,
                                                std::string_view model) const {
    (void)request;
    (void)model;
    return {};
  }
  // A 2xx upstream answer to that request → OpenAI's embeddings list, with vectors as the
  // client's encoding_format asks; fills `usage` (prompt tokens, and 0 completion tokens). A
  // provider that reports no count gets an estimate, marked Usage::estimated. View semantics as
  // translate_response_view's.
  virtual Result<std::string_view> translate_embeddings(const std::string& upstream_body,
                                                        const rapidjson::Document& request,
                                                        std::string_view model, Usage& usage,
                                                        std::string& storage) const;
  // GET models list for /v1/models passthrough; empty path when the provider has none.
  virtual UpstreamRequest build_list_models_request() const { return build_key_test_request(); }
};

// The adapter for a provider's kind (openai-compatible providers share one, driven by data).
std::unique_ptr<Adapter> make_adapter(const Provider& provider);

}  // namespace keygate::providers
