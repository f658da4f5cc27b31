// PDF input in keygate's OpenAI-shaped routing format (a "file" content part with a base64 data
// URL, as OpenAI takes it): what Claude and Gemini cannot be given is a 400 naming the part.
// The translations are golden fixtures (anthropic/pdf_document, gemini/pdf_document).

#include <catch2/catch.hpp>

#include <string>

#include "builtin_adapters.hpp"

using keygate::testing::builtin_adapter;
using keygate::testing::parse_object;

TEST_CASE("documents: a file part Claude or Gemini cannot read is a 400 naming it", "[documents]") {
  // Guards against an OpenAI file id (stored at OpenAI, unreadable elsewhere) or a malformed
  // part reaching a provider, or crashing the transform.
  for (const char* part : {
           R"({"type":"file","file":{"file_id":"file-abc123"}})",
           R"({"type":"file","file":"data:application/pdf;base64,JVBE"})",
           R"({"type":"file","file":{"file_data":"https://example.com/a.pdf"}})",
           R"({"type":"file","file":{"file_data":"data:application/pdf,JVBE"}})",
       }) {
    for (const char* provider : {"anthropic", "google"}) {
      INFO(provider << " " << part);
      const std::string body =
          std::string(R"({"messages":[{"role":"user","content":[)") + part + "]}]}";
      auto r = builtin_adapter(provider).build_chat_request(parse_object(body), {}, "m");
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().status == 400);
      CHECK(r.error().param.rfind("messages[0].content[0].file", 0) == 0);
    }
  }
  // Claude reads PDFs; another media type is refused rather than sent as a document.
  auto csv = builtin_adapter("anthropic")
                 .build_chat_request(
                     parse_object(R"({"messages":[{"role":"user","content":[{"type":"file","file":)"
                                  R"({"file_data":"data:text/csv;base64,YSxi"}}]}]})"),
                     {}, "claude-sonnet-4-5");
  REQUIRE_FALSE(csv.has_value());
  CHECK(csv.error().param == "messages[0].content[0].file.file_data");
}
