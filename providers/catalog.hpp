#pragma once
// The provider catalog: built-in providers and their models, from the data file embedded in the
// binary (providers/catalog.json), plus the operator's configuration (base URL overrides and
// extra OpenAI-compatible providers).

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/adapter.hpp"
#include "schema/error.hpp"

namespace keygate::providers {

enum class Kind { openai, anthropic, gemini };
std::string_view to_string(Kind kind);
// "openai" | "anthropic" | "gemini" -> Kind; anything else -> nullopt.
std::optional<Kind> kind_from_string(std::string_view text);

// Where and how the key goes: header name and value prefix ("Authorization", "Bearer ").
struct AuthScheme {
  std::string header = "Authorization";
  std::string prefix = "Bearer ";
};

// Whether `model` starts with one of `prefixes` (model_prefixes, reasoning_model_prefixes).
bool starts_with_any(std::string_view model, const std::vector<std::string>& prefixes);

// USD per million tokens. A prompt token is priced by where it came from: read from the
// provider's cache, written to it (Claude bills writes above plain input, a 1-hour entry more than
// a 5-minute one), or neither. An absent cache price is the plain input price.
struct TokenPrices {
  double input = 0;
  double output = 0;  // reasoning tokens included: every provider bills them as output
  std::optional<double> cached_input;
  std::optional<double> cache_write;     // Claude: a 5-minute cache entry
  std::optional<double> cache_write_1h;  // Claude: a 1-hour entry; absent: cache_write
};

// Prices for a call whose prompt is longer than `above_input_tokens` (cached tokens included):
// Claude's long-context rates, Gemini 2.5 Pro's prompts over 200K. The whole call is billed at
// them, not just the tokens past the threshold.
struct LongContextPrices {
  int64_t above_input_tokens = 0;
  TokenPrices prices;
};

// What a model does: answer chats (POST /v1/chat/completions, /v1/messages), or turn text into
// vectors (POST /v1/embeddings). Each endpoint refuses the other's models before any key is used.
enum class ModelKind { chat, embedding };

struct ModelInfo {
  std::string id;
  ModelKind kind = ModelKind::chat;
  // Other names of the same model at the same price ("claude-sonnet-4" for the dated snapshot
  // claude-sonnet-4-20250514 of claude-sonnet-4-0). Used for pricing, not for routing.
  std::vector<std::string> aliases;
  int64_t context_window = 0;
  int64_t max_output_tokens = 0;  // also the default max_tokens where the provider requires one
  TokenPrices prices;
  std::optional<LongContextPrices> long_context;
};

struct Provider {
  std::string id;            // "openai"
  std::string display_name;  // "OpenAI"
  Kind kind = Kind::openai;
  std::string base_url;  // what the provider's SDK calls its base URL
  AuthScheme auth;
  bool requires_key = true;
  std::string env_var;                    // documented env var for the key, e.g. OPENAI_API_KEY
  std::vector<std::string> key_prefixes;  // accepted key formats, e.g. {"sk-"}; empty: any
  std::string key_hint;                   // "Starts with sk-"
  std::string key_url;                    // where to get a key
  std::string docs_url;
  std::vector<std::string> capabilities;    // "chat", "stream", "tools", "vision", ...
  std::vector<std::string> model_prefixes;  // bare names routed here: "gpt-", "o1", "claude-"
  std::vector<ModelInfo> models;
  // OpenAI-compatible family: request parameters renamed or dropped for this provider.
  std::vector<std::pair<std::string, std::string>> param_renames;
  std::vector<std::string> dropped_params;
  // Models (by id prefix) that think on request. A reasoning ask translated to this provider's
  // own field (providers/reasoning.hpp) goes only to them: other models refuse the field, and
  // cannot think anyway. Claude's own `thinking` still reaches Claude as it came.
  std::vector<std::string> reasoning_model_prefixes;
  // What the provider bills for each web search a server tool ran (Claude: $10 per 1,000).
  double web_search_usd_per_request = 0;

  std::shared_ptr<const Adapter> adapter;  // set by the catalog; never null once loaded

  const ModelInfo* find_model(std::string_view model) const;
  // The model whose prices apply to `model` as keygate sent it upstream: its id or an alias; else
  // the same with a trailing snapshot suffix taken off ("-20250929", "-2024-07-18", "-001").
  // Null when the catalog has no price for it.
  const ModelInfo* priced_model(std::string_view model) const;
  bool is_reasoning_model(std::string_view model) const;
};

class Catalog {
 public:
  // The embedded data file. Fails only if the file shipped in the binary is broken.
  static Result<Catalog> builtin();
  static Result<Catalog> from_json(std::string_view json);

  // The "providers" object of the configuration file: overrides base_url (and requires_key) of
  // built-in providers; a new name with "kind" adds a provider of that kind.
  Result<void> apply_config(const rapidjson::Value& providers_config);

  const Provider* find(std::string_view id) const;
  const std::vector<Provider>& providers() const { return providers_; }
  // A bare model name: the catalog's model lists first, then the providers' name prefixes.
  const Provider* provider_for_model(std::string_view model) const;

 private:
  std::vector<Provider> providers_;
};

// The embedded catalog.json text.
std::string_view builtin_catalog_json();

}  // namespace keygate::providers
