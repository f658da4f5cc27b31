#include "providers/adapter.hpp"

#include "providers/adapters.hpp"
#include "providers/catalog.hpp"

namespace keygate::providers {

std::unique_ptr<Adapter> make_adapter(const Provider& provider) {
  switch (provider.kind) {
    case Kind::openai:
      return make_openai_compatible_adapter(provider);
    case Kind::anthropic:
      return make_anthropic_adapter(provider);
    case Kind::gemini:
      return make_gemini_adapter(provider);
  }
  return make_openai_compatible_adapter(provider);  // unreachable: the switch covers every Kind
}

Result<std::string_view> Adapter::translate_response_view(const std::string& upstream_body,
                                                          std::string_view model, Usage& usage,
                                                          std::string& storage) const {
  auto translated = translate_response(upstream_body, model, usage);
  if (!translated) {
    return fail(std::move(translated.error()));
  }
  storage = std::move(*translated);
  return std::string_view(storage);
}

Result<UpstreamRequest> Adapter::build_count_tokens_request(const rapidjson::Document&,
                                                            std::string_view) const {
  return fail(Error::invalid_request(
      "This provider has no token-counting endpoint; count_tokens works for Anthropic and "
      "Gemini models.",
      "model", "count_tokens_unsupported"));
}

Result<UpstreamRequest> Adapter::build_embeddings_request(const rapidjson::Document&,
                                                          std::string_view) const {
  return fail(Error::invalid_request("This provider has no embeddings endpoint.", "model",
                                     "embeddings_unsupported"));
}

Result<std::string_view> Adapter::translate_embeddings(const std::string&,
                                                       const rapidjson::Document&, std::string_view,
                                                       Usage&, std::string&) const {
  return fail(Error::internal("this provider has no embeddings endpoint"));
}

Result<int64_t> Adapter::read_token_count(std::string_view) const {
  return fail(Error::internal("this provider does not count tokens"));
}

}  // namespace keygate::providers
