// `keygate copy-database` as an operator moving from one instance to several: the real binary
// copies an initialised data directory into PostgreSQL, and `keygate serve --database` on the
// copy (with the same master key) authenticates the old admin token and sends the old system
// key upstream. Bad arguments fail with a clear message and leave the target alone.
// Runs in CTest's "postgres: " pass.

#include <catch2/catch.hpp>

#include <fstream>

#include "keygate_process.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate::testing;

namespace {
constexpr const char* kSystemKey = "sk-copied-system-key-00000000000009876";
}

TEST_CASE("keygate copy-database moves a data directory onto PostgreSQL, and serve uses it",
          "[.][postgres][cli]") {
  MockUpstream upstream(openai_json_handler("served from the copy"));
  TempDir dir;
  const std::string data = dir.str() + "/data";
  const std::string config = dir.str() + "/keygate.json";
  std::ofstream(config) << R"({"listen": "127.0.0.1:0", "threads": 1,
      "providers": {"openai": {"base_url": ")"
                        << upstream.base_url("/v1") << R"("}}})";
  const std::map<std::string, std::string> env = {
      {"KEYGATE_MASTER_KEY", ""}, {"OPENAI_API_KEY", ""}, {"KEYGATE_DATABASE", ""}};
  auto init = run_cli(dir.str(), {"init", "--data", data}, {}, env);
  REQUIRE(init.exit == 0);
  const std::string admin_token = trim_line(init.out);
  REQUIRE(run_cli(dir.str(), {"keys", "add", "--system", "--provider", "openai", "--data", data},
                  kSystemKey, env)
              .exit == 0);
  const std::string target = postgres_test_database("cli_copy_database");

  SECTION("the copy serves the same token and key") {
    auto copied = run_cli(dir.str(), {"copy-database", "--data", data, "--to", target}, {}, env);
    INFO(copied.err);
    REQUIRE(copied.exit == 0);
    CHECK(copied.err.find("  users: 1\n") != std::string::npos);
    CHECK(copied.err.find("  provider_keys: 1\n") != std::string::npos);
    CHECK(copied.err.find(kSystemKey) == std::string::npos);
    CHECK(copied.out.find(kSystemKey) == std::string::npos);

    // Served from PostgreSQL only: the SQLite file is moved away first.
    std::filesystem::rename(data + "/keygate.db", dir.str() + "/old.db");
    ServeProcess serve(dir.str() + "/serve.log",
                       {"--data", data, "--config", config, "--database", target,
                        "--master-key-file", data + "/master.key"},
                       env);
    REQUIRE(serve.port() != 0);
    auto chat = http_request(serve.port(), "POST", "/v1/chat/completions", chat_body(),
                             {{"authorization", bearer(admin_token)}});
    INFO(chat.body);
    CHECK(chat.status == 200);
    REQUIRE(upstream.request_count() == 1);
    CHECK(upstream.requests().back().header("authorization") ==
          std::string("Bearer ") + kSystemKey);
    CHECK(serve.stop() == 0);
    CHECK_FALSE(std::filesystem::exists(data + "/keygate.db"));  // serve did not recreate it
  }

  SECTION("a second copy into the same database is refused") {
    REQUIRE(run_cli(dir.str(), {"copy-database", "--data", data, "--to", target}, {}, env).exit ==
            0);
    auto again = run_cli(dir.str(), {"copy-database", "--data", data, "--to", target}, {}, env);
    CHECK(again.exit == 1);
    CHECK(again.err.find("already holds a keystore") != std::string::npos);
  }

  SECTION("bad arguments: a target that is not PostgreSQL, a source that does not exist") {
    auto not_pg =
        run_cli(dir.str(), {"copy-database", "--data", data, "--to", dir.str() + "/x.db"}, {}, env);
    CHECK(not_pg.exit == 1);
    CHECK(not_pg.err.find("postgres://") != std::string::npos);
    auto missing = run_cli(
        dir.str(), {"copy-database", "--from", dir.str() + "/nothing.db", "--to", target}, {}, env);
    CHECK(missing.exit == 1);
    CHECK(missing.err.find("no keygate SQLite database") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.str() + "/nothing.db"));  // not created either
  }
}
