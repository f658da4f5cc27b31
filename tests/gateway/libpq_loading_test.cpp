// libpq is loaded when keygate first talks to PostgreSQL (keystore/libpq_loader.hpp): the
// embedded default, the real `keygate serve` on its SQLite file, never maps it nor its
// dependencies (3.4 MB resident on Debian bookworm). The PostgreSQL side, where it must be
// loaded, is checked in cli_copy_test.cpp.

#include <catch2/catch.hpp>

#include <fstream>

#include "keygate_process.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"

using namespace keygate::testing;

TEST_CASE("keygate serve on its SQLite file never loads libpq", "[libpq]") {
  // Guards against libpq linked (or loaded) at start again: every embedded instance would carry
  // GnuTLS, Kerberos and LDAP in its memory for nothing.
  TempDir dir;
  const std::string data = dir.str() + "/data";
  const std::string config = dir.str() + "/keygate.json";
  std::ofstream(config) << R"({"listen": "127.0.0.1:0", "threads": 1})";
  const std::map<std::string, std::string> env = {{"KEYGATE_MASTER_KEY", ""},
                                                  {"KEYGATE_DATABASE", ""}};
  auto init = run_cli(dir.str(), {"init", "--data", data}, {}, env);
  REQUIRE(init.exit == 0);
  ServeProcess serve(dir.str() + "/serve.log", {"--data", data, "--config", config}, env);
  REQUIRE(serve.port() != 0);
  // A request that reads the database, and one that authenticates against it.
  CHECK(http_request(serve.port(), "GET", "/readyz", "").status == 200);
  CHECK(http_request(serve.port(), "GET", "/v1/keys", "",
                     {{"authorization", bearer(trim_line(init.out))}})
            .status == 200);
  const std::string maps = serve.maps();
  CHECK(maps.find("libsqlite3") != std::string::npos);  // the maps are read: SQLite is there
  CHECK(maps.find("libpq") == std::string::npos);
  CHECK(maps.find("libgnutls") == std::string::npos);
}
