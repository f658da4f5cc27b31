// Route matching: literal segments, {name} parameters, 404 versus 405.

#include <catch2/catch.hpp>

#include "gateway/routes.hpp"

using namespace keygate::gateway;

namespace {
awaitable<void> nothing(HttpExchange&) { co_return; }
}  // namespace

TEST_CASE("routes match whole segments and capture parameters", "[routes]") {
  // Guards against: a prefix or a trailing slash matching a route, an empty parameter, and
  // parameters leaking from a route that matched the path but not the method.
  RouteTable table;
  table.add(http::verb::get, "/v1/keys", Access::user, nothing);
  table.add(http::verb::delete_, "/v1/keys/{id}", Access::user, nothing);
  table.add(http::verb::post, "/v1/keys/{id}/test", Access::user, nothing);
  table.add(http::verb::get, "/", Access::open, nothing);

  auto m = table.match(http::verb::get, "/v1/keys");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->pattern == "/v1/keys");
  CHECK(m.params.empty());

  m = table.match(http::verb::post, "/v1/keys/key_1/test");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->pattern == "/v1/keys/{id}/test");
  REQUIRE(m.params.size() == 1);
  CHECK(m.params[0] == std::pair<std::string, std::string>{"id", "key_1"});

  m = table.match(http::verb::get, "/v1/keys/key_1");  // path known, method not
  CHECK(m.route == nullptr);
  CHECK(m.path_matched);
  CHECK(m.params.empty());

  for (auto path : {"/v1/keys/", "/v1/key", "/v1/keys/key_1/test/x", "/v1", "/v1/keysx", "v1/keys",
                    "", "/v1/keys//test"}) {
    INFO(path);
    m = table.match(http::verb::delete_, path);
    CHECK(m.route == nullptr);
    CHECK_FALSE(m.path_matched);
  }
  m = table.match(http::verb::get, "/");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->pattern == "/");
}
