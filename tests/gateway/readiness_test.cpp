// Readiness with a wrong or missing master key, against the real binary over an existing
// database: /healthz stays 200 (the process is alive), /readyz is 503 and says why, and a chat
// request gets a clear 503 without reaching the provider.
//
// Bugs it guards against: a sealed keystore answered as a 500 (or a crash), a load balancer told
// "ready" while no key can be decrypted, and a request forwarded upstream with no or a garbage
// key.

#include <catch2/catch.hpp>

#include <filesystem>

#include "keygate_process.hpp"
#include "keystore/master_key.hpp"
#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;

namespace {

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

// A data directory made by `keygate init`, a user key stored for openai, and the config that
// points openai at the mock.
struct Initialised {
  TempDir dir;
  std::string data = dir.str() + "/data";
  std::string config = dir.str() + "/keygate.json";
  std::string token;

  explicit Initialised(const MockUpstream& upstream) {
    std::ofstream(config) << R"({"listen": "127.0.0.1:0", "threads": 2,
      "providers": {"openai": {"base_url": ")"
                          << upstream.base_url("/v1") << R"("}}})";
    auto init = run_cli(dir.str(), {"init", "--data", data});
    REQUIRE(init.exit == 0);
    token = trim_line(init.out);
    REQUIRE(token.rfind("kg_", 0) == 0);
    auto add =
        run_cli(dir.str(), {"keys", "add", "--system", "--provider", "openai", "--data", data},
                "sk-readiness-system-0000000000001234");
    INFO(add.err);
    REQUIRE(add.exit == 0);
  }

  std::map<std::string, std::string> no_env_key() const {
    return {{"KEYGATE_MASTER_KEY", ""}, {"OPENAI_API_KEY", ""}};
  }
};

std::string random_master_key_base64(const std::string& dir) {
  const std::string path = dir + "/other.key";
  REQUIRE(create_master_key_file(path));
  return trim_line(slurp(path));
}

void expect_sealed(ServeProcess& serve, const std::string& token, MockUpstream& upstream,
                   const std::string& why) {
  REQUIRE(serve.port() != 0);
  auto health = http_request(serve.port(), "GET", "/healthz");
  CHECK(health.status == 200);

  auto ready = http_request(serve.port(), "GET", "/readyz");
  INFO(ready.body);
  CHECK(ready.status == 503);
  auto d = parse(ready.body);
  REQUIRE(d.IsObject());
  REQUIRE(d.HasMember("message"));
  const std::string message = d["message"].GetString();
  CHECK(message.find(why) != std::string::npos);

  auto chat = http_request(serve.port(), "POST", "/v1/chat/completions", chat_body(),
                           {{"authorization", bearer(token)}});
  INFO(chat.body);
  CHECK(chat.status == 503);
  auto e = parse(chat.body);
  REQUIRE(e.IsObject());
  REQUIRE(e.HasMember("error"));
  CHECK(std::string(e["error"]["message"].GetString()).find("master key") != std::string::npos);

  auto models =
      http_request(serve.port(), "GET", "/v1/models", {}, {{"authorization", bearer(token)}});
  CHECK(models.status == 503);
  CHECK(upstream.request_count() == 0);
  CHECK(serve.stop() == 0);
}

}  // namespace

TEST_CASE("a wrong master key: healthz 200, readyz 503 saying why, chat 503, upstream untouched",
          "[readiness]") {
  MockUpstream upstream(openai_json_handler());
  Initialised setup(upstream);
  auto env = setup.no_env_key();
  env["KEYGATE_MASTER_KEY"] = random_master_key_base64(setup.dir.str());
  ServeProcess serve(setup.dir.str() + "/wrong.log",
                     {"--data", setup.data, "--config", setup.config}, env);
  expect_sealed(serve, setup.token, upstream, "does not match");

  // Control: the same database with its own key is ready and serves the chat, so the 503s above
  // came from the key and nothing else.
  ServeProcess good(setup.dir.str() + "/good.log", {"--data", setup.data, "--config", setup.config},
                    setup.no_env_key());
  REQUIRE(good.port() != 0);
  CHECK(http_request(good.port(), "GET", "/readyz").status == 200);
  auto chat = http_request(good.port(), "POST", "/v1/chat/completions", chat_body(),
                           {{"authorization", bearer(setup.token)}});
  CHECK(chat.status == 200);
  CHECK(upstream.request_count() == 1);
  CHECK(good.stop() == 0);
}

TEST_CASE("no master key at all: healthz 200, readyz 503 saying why, chat 503", "[readiness]") {
  MockUpstream upstream(openai_json_handler());
  Initialised setup(upstream);
  std::filesystem::rename(setup.data + "/master.key", setup.dir.str() + "/moved-away.key");
  ServeProcess serve(setup.dir.str() + "/nokey.log",
                     {"--data", setup.data, "--config", setup.config}, setup.no_env_key());
  expect_sealed(serve, setup.token, upstream, "master key");
}
