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

// anthropic.cpp and gemini.cpp are written in parallel with this file. Until one is in the build
// (providers/CMakeLists.txt defines KEYGATE_HAVE_<KIND>_ADAPTER), its kind gets this placeholder,
// which answers every call with a 503, so the catalog can still load and the rest can be tested.
#if !defined(KEYGATE_HAVE_ANTHROPIC_ADAPTER) || !defined(KEYGATE_HAVE_GEMINI_ADAPTER)
namespace {

class MissingAdapter final : public Adapter {
 public:
  explicit MissingAdapter(std::string kind) : kind_(std::move(kind)) {}
  Result<UpstreamRequest> build_chat_request(rapidjson::Document&, const ChatOptions&,
                                             std::string_view) const override {
    return fail(error());
  }
  Result<std::string> translate_response(std::string_view, std::string_view,
                                         Usage&) const override {
    return fail(error());
  }
  std::unique_ptr<StreamTranslator> start_stream(const ChatOptions&,
                                                 std::string_view) const override {
    return nullptr;
  }
  Error translate_error(int, std::string_view) const override { return error(); }
  UpstreamRequest build_key_test_request() const override { return {}; }

 private:
  Error error() const {
    return Error::unavailable("The " + kind_ + " adapter is not built into this keygate.",
                              "adapter_missing");
  }
  std::string kind_;
};

}  // namespace
#endif

#ifndef KEYGATE_HAVE_ANTHROPIC_ADAPTER
std::unique_ptr<Adapter> make_anthropic_adapter(const Provider&) {
  return std::make_unique<MissingAdapter>("anthropic");
}
#endif
#ifndef KEYGATE_HAVE_GEMINI_ADAPTER
std::unique_ptr<Adapter> make_gemini_adapter(const Provider&) {
  return std::make_unique<MissingAdapter>("gemini");
}
#endif

}  // namespace keygate::providers
