// Golden fixtures for the adapters: every tests/fixtures/providers/<dir>/<case>.request.json is
// one Catch2 test case, "fixture: <dir>/<case>" tagged [fixture][<dir>]. File names and the
// comparison rules are in tests/fixtures/providers/README.md.
//
// Registration is dynamic: a static Registrar scans the fixture directory when the test binary
// starts and hands Catch2 one Catch::AutoReg per case (Catch2 v2 copies the names, and owns the
// invoker). A new fixture needs no code and no CMake change; catch_discover_tests lists it after
// the next build. We chose this over generating a TEST_CASE per file in CMake because the
// directory, not the build system, stays the source of truth.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "providers/catalog.hpp"
#include "schema/json.hpp"

namespace {

namespace fs = std::filesystem;
using keygate::providers::Catalog;
using keygate::providers::ChatOptions;
using keygate::providers::Provider;
using keygate::providers::SseEvent;
using keygate::providers::SseParser;
using keygate::providers::Usage;

const fs::path kRoot = KEYGATE_PROVIDER_FIXTURES;

// Values that differ on every call (generated ids, timestamps): present on both sides, value not
// compared. Keep in sync with README.md.
bool volatile_key(std::string_view key) {
  return key == "id" || key == "created";
}

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

rapidjson::Document parse(const std::string& text, const std::string& what) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  INFO(what << ": " << text.substr(0, 300));
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

rapidjson::Document load_json(const fs::path& p) {
  auto text = read_file(p);
  INFO(p.string());
  REQUIRE(text.has_value());
  return parse(*text, p.filename().string());
}

std::string describe(const rapidjson::Value& v) {
  std::string s = keygate::to_json(v);
  return s.size() > 200 ? s.substr(0, 200) + "..." : s;
}

// Structural comparison: objects by key set (order ignored), arrays in order, numbers by value
// (1 == 1.0). Differences go to `diffs` as "$.path: ...".
void compare(const rapidjson::Value& want, const rapidjson::Value& got, const std::string& path,
             std::vector<std::string>& diffs) {
  if (want.IsNumber() && got.IsNumber()) {
    bool same = (want.IsInt64() && got.IsInt64())
                    ? want.GetInt64() == got.GetInt64()
                    : std::fabs(want.GetDouble() - got.GetDouble()) <=
                          1e-9 * std::max(1.0, std::fabs(want.GetDouble()));
    if (!same) {
      diffs.push_back(path + ": want " + describe(want) + ", got " + describe(got));
    }
    return;
  }
  if (want.GetType() != got.GetType() &&
      !(want.IsBool() && got.IsBool())) {  // true and false are distinct RapidJSON types
    diffs.push_back(path + ": want " + describe(want) + ", got " + describe(got));
    return;
  }
  if (want.IsObject()) {
    for (const auto& m : want.GetObject()) {
      std::string key(keygate::as_view(m.name));
      auto it = got.FindMember(m.name);
      if (it == got.MemberEnd()) {
        diffs.push_back(path + "." + key + ": missing");
      } else if (!volatile_key(key)) {
        compare(m.value, it->value, path + "." + key, diffs);
      }
    }
    for (const auto& m : got.GetObject()) {
      if (!want.HasMember(m.name)) {
        diffs.push_back(path + "." + std::string(keygate::as_view(m.name)) + ": unexpected " +
                        describe(m.value));
      }
    }
  } else if (want.IsArray()) {
    if (want.Size() != got.Size()) {
      diffs.push_back(path + ": want " + std::to_string(want.Size()) + " elements, got " +
                      std::to_string(got.Size()) + ": " + describe(got));
      return;
    }
    for (rapidjson::SizeType i = 0; i < want.Size(); ++i) {
      compare(want[i], got[i], path + "[" + std::to_string(i) + "]", diffs);
    }
  } else if (want != got) {
    diffs.push_back(path + ": want " + describe(want) + ", got " + describe(got));
  }
}

void check_same(const rapidjson::Value& want, const rapidjson::Value& got,
                const std::string& what) {
  std::vector<std::string> diffs;
  compare(want, got, "$", diffs);
  std::string all;
  for (const auto& d : diffs) {
    all += "\n  " + d;
  }
  INFO(what << " differs:" << all);
  CHECK(diffs.empty());
}

// An expected error lists the fields to check: {"status": 502, "error": {"code": "..."}}.
void check_error(const keygate::Error& got, const fs::path& expected_file) {
  auto want = load_json(expected_file);
  INFO("error message: " << got.message);
  if (auto it = want.FindMember("status"); it != want.MemberEnd()) {
    CHECK(it->value.GetInt() == got.status);
  }
  if (auto it = want.FindMember("retryable"); it != want.MemberEnd()) {
    CHECK(it->value.GetBool() == got.retryable);
  }
  if (auto it = want.FindMember("error"); it != want.MemberEnd()) {
    auto actual = parse(got.to_json(), "error");
    const auto& a = actual["error"];
    for (const auto& m : it->value.GetObject()) {
      INFO("error." << keygate::as_view(m.name));
      REQUIRE(a.HasMember(m.name));
      check_same(m.value, a[m.name], "error." + std::string(keygate::as_view(m.name)));
    }
  }
}

void check_usage(const Usage& got, const fs::path& expected_file) {
  auto want = load_json(expected_file);
  auto field = [&](const char* name, int64_t value) {
    if (want.HasMember(name)) {
      INFO("usage." << name);
      CHECK(want[name].GetInt64() == value);
    }
  };
  field("prompt_tokens", got.prompt_tokens);
  field("completion_tokens", got.completion_tokens);
  field("cached_tokens", got.cached_tokens);
  field("reasoning_tokens", got.reasoning_tokens);
}

// A fixture directory names a provider id ("openai", "groq") or a kind ("gemini").
const Provider* provider_for_dir(const Catalog& catalog, const std::string& dir) {
  if (const Provider* p = catalog.find(dir)) {
    return p;
  }
  for (const auto& p : catalog.providers()) {
    if (keygate::providers::to_string(p.kind) == dir) {
      return &p;
    }
  }
  return nullptr;
}

struct StreamRun {
  std::vector<std::string> out;
  std::optional<keygate::Error> error;
  Usage usage;
};

// Feeds the upstream stream `chunk` bytes at a time (0: all at once).
StreamRun run_stream(const keygate::providers::Adapter& adapter, const ChatOptions& options,
                     std::string_view model, std::string_view upstream, std::size_t chunk) {
  StreamRun run;
  auto translator = adapter.start_stream(options, model);
  REQUIRE(translator);
  SseParser parser;
  std::vector<SseEvent> events;
  std::size_t step = chunk == 0 ? upstream.size() : chunk;
  for (std::size_t pos = 0; pos < upstream.size() && !run.error; pos += step) {
    events.clear();
    auto fed = parser.feed(upstream.substr(pos, step), events);
    REQUIRE(fed.has_value());
    for (const auto& e : events) {
      if (auto r = translator->on_event(e, run.out); !r) {
        run.error = r.error();
        break;
      }
    }
  }
  if (!run.error) {
    if (auto r = translator->on_end(run.out); !r) {
      run.error = r.error();
    }
  }
  run.usage = translator->usage();
  return run;
}

std::vector<std::string> expected_events(const std::string& text) {
  SseParser parser;
  std::vector<SseEvent> events;
  REQUIRE(parser.feed(text, events).has_value());
  INFO("the .expected.sse file must end with a blank line");
  REQUIRE_FALSE(parser.has_partial_event());
  std::vector<std::string> out;
  for (auto& e : events) {
    out.push_back(std::move(e.data));
  }
  return out;
}

struct FixtureCase {
  std::string dir;  // provider id or kind
  fs::path base;    // .../openai/chat_basic (no extension)
};

fs::path with(const FixtureCase& c, const char* ext) {
  return c.base.parent_path() / (c.base.filename().string() + ext);
}

void run_fixture(const FixtureCase& c) {
  static const Catalog catalog = [] {
    auto r = Catalog::builtin();
    REQUIRE(r.has_value());
    return std::move(*r);
  }();
  const Provider* provider = provider_for_dir(catalog, c.dir);
  if (!provider) {
    FAIL("no provider or kind named '" << c.dir << "' in the catalog");
  }
  REQUIRE(provider->adapter);
  const auto& adapter = *provider->adapter;

  auto request = load_json(with(c, ".request.json"));
  ChatOptions options;
  if (auto it = request.FindMember("stream"); it != request.MemberEnd() && it->value.IsBool()) {
    options.stream = it->value.GetBool();
  }
  if (auto so = request.FindMember("stream_options");
      so != request.MemberEnd() && so->value.IsObject()) {
    auto iu = so->value.FindMember("include_usage");
    options.client_wants_usage = iu != so->value.MemberEnd() && iu->value.IsTrue();
  }
  std::string model;
  if (auto it = request.FindMember("model"); it != request.MemberEnd() && it->value.IsString()) {
    model = it->value.GetString();
  }
  // "openai/gpt-4o" -> "gpt-4o", as the gateway does before calling the adapter.
  for (const std::string& prefix : {provider->id + "/", c.dir + "/"}) {
    if (model.starts_with(prefix)) {
      model.erase(0, prefix.size());
      break;
    }
  }

  auto upstream = adapter.build_chat_request(request, options, model);
  REQUIRE(upstream.has_value());
  if (fs::exists(with(c, ".upstream_request.json"))) {
    check_same(load_json(with(c, ".upstream_request.json")),
               parse(upstream->body, "upstream request body"), "upstream request");
  }
  if (auto path = read_file(with(c, ".upstream_path"))) {
    while (!path->empty() && std::isspace(static_cast<unsigned char>(path->back()))) {
      path->pop_back();
    }
    CHECK(upstream->method + " " + upstream->path == *path);
  }

  const bool expect_error = fs::exists(with(c, ".expected_error.json"));
  bool checked_something = fs::exists(with(c, ".upstream_request.json"));

  if (auto body = read_file(with(c, ".response.json"))) {
    checked_something = true;
    Usage usage;
    auto out = adapter.translate_response(*body, model, usage);
    if (expect_error) {
      REQUIRE_FALSE(out.has_value());
      check_error(out.error(), with(c, ".expected_error.json"));
    } else {
      INFO((out ? std::string() : out.error().message));
      REQUIRE(out.has_value());
      check_same(load_json(with(c, ".expected.json")), parse(*out, "translated response"),
                 "response");
    }
    if (fs::exists(with(c, ".expected_usage.json"))) {
      check_usage(usage, with(c, ".expected_usage.json"));
    }
  }

  if (auto stream = read_file(with(c, ".sse"))) {
    checked_something = true;
    std::vector<std::string> want;
    if (auto text = read_file(with(c, ".expected.sse"))) {
      want = expected_events(*text);
    }
    // All at once, then one byte per read: the translation must not depend on how TCP cut it.
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}}) {
      INFO("upstream fed " << (chunk == 0 ? "whole" : "one byte at a time"));
      StreamRun run = run_stream(adapter, options, model, *stream, chunk);
      if (expect_error) {
        REQUIRE(run.error.has_value());
        check_error(*run.error, with(c, ".expected_error.json"));
      } else {
        INFO((run.error ? run.error->message : std::string()));
        REQUIRE_FALSE(run.error.has_value());
      }
      REQUIRE(run.out.size() == want.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("output event " << i << ": " << run.out[i]);
        if (want[i] == "[DONE]" || run.out[i] == "[DONE]") {
          CHECK(run.out[i] == want[i]);
        } else {
          check_same(parse(want[i], "expected event"), parse(run.out[i], "output event"),
                     "event " + std::to_string(i));
        }
      }
      if (fs::exists(with(c, ".expected_usage.json"))) {
        check_usage(run.usage, with(c, ".expected_usage.json"));
      }
    }
  }

  if (fs::exists(with(c, ".error_response.json"))) {
    checked_something = true;
    auto spec = load_json(with(c, ".error_response.json"));
    REQUIRE(spec.HasMember("status"));
    REQUIRE(spec.HasMember("body"));
    std::string body = spec["body"].IsString() ? std::string(keygate::as_view(spec["body"]))
                                               : keygate::to_json(spec["body"]);
    keygate::Error e = adapter.translate_error(spec["status"].GetInt(), body);
    check_error(e, with(c, ".expected_error.json"));
  }

  INFO(
      "a fixture needs at least one of .upstream_request.json, .response.json, .sse, "
      ".error_response.json");
  CHECK(checked_something);
}

class FixtureInvoker final : public Catch::ITestInvoker {
 public:
  explicit FixtureInvoker(FixtureCase c) : case_(std::move(c)) {}
  void invoke() const override { run_fixture(case_); }

 private:
  FixtureCase case_;
};

void no_fixtures() {
  FAIL("no fixtures found under " << kRoot.string());
}

struct Registrar {
  Registrar() {
    constexpr std::string_view kSuffix = ".request.json";
    std::vector<FixtureCase> cases;
    std::error_code ec;
    for (const auto& dir : fs::directory_iterator(kRoot, ec)) {
      if (!dir.is_directory()) {
        continue;
      }
      for (const auto& file : fs::directory_iterator(dir.path(), ec)) {
        std::string name = file.path().filename().string();
        if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) {
          cases.push_back({dir.path().filename().string(),
                           dir.path() / name.substr(0, name.size() - kSuffix.size())});
        }
      }
    }
    std::sort(cases.begin(), cases.end(),
              [](const auto& a, const auto& b) { return a.base < b.base; });
    if (cases.empty()) {
      Catch::AutoReg(Catch::makeTestInvoker(&no_fixtures), CATCH_INTERNAL_LINEINFO,
                     Catch::StringRef(), Catch::NameAndTags("fixture: discovery", "[fixture]"));
    }
    for (auto& c : cases) {
      std::string name = "fixture: " + c.dir + "/" + c.base.filename().string();
      std::string tags = "[fixture][" + c.dir + "]";
      Catch::AutoReg(new FixtureInvoker(std::move(c)), CATCH_INTERNAL_LINEINFO, Catch::StringRef(),
                     Catch::NameAndTags(name, tags));
    }
  }
};

const Registrar registrar;

}  // namespace
