// The admin API over real HTTP: users, tokens, revocation, expiry and the audit log.

#include <catch2/catch.hpp>

#include "schema/time.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"

using namespace keygate;
using namespace keygate::testing;

namespace {

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

struct AdminFixture {
  TestGateway gw;
  HttpResponse as(const std::string& token, const std::string& method, const std::string& path,
                  const std::string& body = {}) {
    return http_request(gw.port(), method, path, body, {{"authorization", bearer(token)}});
  }
  HttpResponse admin(const std::string& method, const std::string& path,
                     const std::string& body = {}) {
    return as(gw.admin_token, method, path, body);
  }
};

}  // namespace

TEST_CASE("a user created over the API can call /v1/models with the token shown once", "[admin]") {
  AdminFixture f;
  auto r = f.admin("POST", "/v1/admin/users", R"({"name": "carol", "admin": false})");
  REQUIRE(r.status == 201);
  auto d = parse(r.body);
  REQUIRE(d.IsObject());
  CHECK(std::string(d["name"].GetString()) == "carol");
  CHECK(d["admin"].GetBool() == false);
  const std::string id = d["id"].GetString();
  const std::string token = d["token"].GetString();
  REQUIRE(token.rfind("kg_", 0) == 0);

  auto models = f.as(token, "GET", "/v1/models");
  CHECK(models.status == 200);

  // Guards against a list that shows the token again: only the masked form, ever.
  auto users = f.admin("GET", "/v1/admin/users");
  REQUIRE(users.status == 200);
  CHECK(users.body.find("carol") != std::string::npos);
  CHECK(users.body.find(token) == std::string::npos);
  auto tokens = f.admin("GET", "/v1/admin/users/" + id + "/tokens");
  REQUIRE(tokens.status == 200);
  CHECK(tokens.body.find(token) == std::string::npos);
  CHECK(tokens.body.find(token.substr(3, 20)) == std::string::npos);
  auto list = parse(tokens.body);
  REQUIRE(list["data"].Size() == 1);
  CHECK(std::string(list["data"][0]["masked"].GetString()) ==
        "kg_..." + token.substr(token.size() - 4));
  CHECK(std::string(list["data"][0]["status"].GetString()) == "active");
}

TEST_CASE("a new token works, lists masked, and stops at once when revoked", "[admin]") {
  AdminFixture f;
  auto r = f.admin("POST", "/v1/admin/users/" + f.gw.user_id + "/tokens",
                   R"({"name": "ci", "expires_at": null})");
  REQUIRE(r.status == 201);
  auto d = parse(r.body);
  const std::string token_id = d["id"].GetString();
  const std::string token = d["token"].GetString();
  CHECK(token_id.rfind("tok_", 0) == 0);
  CHECK(std::string(d["masked"].GetString()) == "kg_..." + token.substr(token.size() - 4));
  CHECK(f.as(token, "GET", "/v1/models").status == 200);

  auto del = f.admin("DELETE", "/v1/admin/tokens/" + token_id);
  CHECK(del.status == 204);
  // Revocation takes effect on the next request, not after a cache expires.
  auto after = f.as(token, "GET", "/v1/models");
  CHECK(after.status == 401);
  CHECK(error_code_of(after) == "token_revoked");
  // alice's other token is untouched.
  CHECK(f.as(f.gw.user_token, "GET", "/v1/models").status == 200);
  // Revoking again is harmless; an unknown id is a 404.
  CHECK(f.admin("DELETE", "/v1/admin/tokens/" + token_id).status == 204);
  CHECK(f.admin("DELETE", "/v1/admin/tokens/tok_doesnotexist").status == 404);
  auto list = parse(f.admin("GET", "/v1/admin/users/" + f.gw.user_id + "/tokens").body);
  int revoked = 0;
  for (const auto& t : list["data"].GetArray()) {
    if (std::string(t["id"].GetString()) == token_id) {
      CHECK(std::string(t["status"].GetString()) == "revoked");
      CHECK(t["revoked_at"].IsString());
      ++revoked;
    }
  }
  CHECK(revoked == 1);
}

TEST_CASE("a token with an expiry stops working once it passes", "[admin]") {
  AdminFixture f;
  const std::string expires = format_rfc3339(now_unix() + 60);
  auto r = f.admin("POST", "/v1/admin/users/" + f.gw.user_id + "/tokens",
                   R"({"name": "short", "expires_at": ")" + expires + "\"}");
  REQUIRE(r.status == 201);
  auto d = parse(r.body);
  CHECK(std::string(d["expires_at"].GetString()) == expires);
  const std::string token = d["token"].GetString();
  CHECK(f.as(token, "GET", "/v1/models").status == 200);
  // Move the keystore's clock past the expiry instead of sleeping a minute.
  const int64_t later = now_unix() + 61;
  f.gw.keystore().set_clock_for_testing([later] { return later; });
  auto after = f.as(token, "GET", "/v1/models");
  CHECK(after.status == 401);
  CHECK(error_code_of(after) == "token_expired");
  // alice's token without an expiry still works at that time.
  CHECK(f.as(f.gw.user_token, "GET", "/v1/models").status == 200);
}

TEST_CASE("non-admins get 403 on every admin route and change nothing", "[admin]") {
  AdminFixture f;
  struct Probe {
    const char* method;
    std::string path;
    std::string body;
  };
  const std::vector<Probe> probes = {
      {"GET", "/v1/admin/users", ""},
      {"POST", "/v1/admin/users", R"({"name": "mallory", "admin": true})"},
      {"GET", "/v1/admin/users/" + f.gw.other_id + "/tokens", ""},
      {"POST", "/v1/admin/users/" + f.gw.user_id + "/tokens", R"({"name": "stolen"})"},
      {"DELETE", "/v1/admin/tokens/" + f.gw.keystore().list_tokens(f.gw.other_id)->at(0).id, ""},
      {"GET", "/v1/admin/audit", ""},
  };
  for (const auto& p : probes) {
    auto r = f.as(f.gw.user_token, p.method, p.path, p.body);
    INFO(p.method << " " << p.path << " -> " << r.body);
    CHECK(r.status == 403);
  }
  CHECK_FALSE(f.gw.keystore().find_user_by_name("mallory")->has_value());
  CHECK(f.gw.keystore().list_tokens(f.gw.user_id)->size() == 1);
  CHECK(f.as(f.gw.other_token, "GET", "/v1/models").status == 200);
}

TEST_CASE("bad admin requests are 400s, duplicates 409, unknown ids 404", "[admin]") {
  AdminFixture f;
  struct Bad {
    std::string path;
    std::string body;
    int status;
    const char* why;
  };
  const std::string tokens = "/v1/admin/users/" + f.gw.user_id + "/tokens";
  const std::vector<Bad> cases = {
      {"/v1/admin/users", "{not json", 400, "malformed JSON"},
      {"/v1/admin/users", "[1,2]", 400, "not an object"},
      {"/v1/admin/users", "{}", 400, "missing name"},
      {"/v1/admin/users", R"({"name": "x y"})", 400, "space in name"},
      {"/v1/admin/users", R"({"name": ""})", 400, "empty name"},
      {"/v1/admin/users", R"({"name": 7})", 400, "name of the wrong type"},
      {"/v1/admin/users", R"({"name": "dave", "admin": "yes"})", 400, "admin not a bool"},
      {"/v1/admin/users", R"({"name": "dave", "role": "admin"})", 400, "unknown field"},
      {"/v1/admin/users", R"({"name": "alice"})", 409, "duplicate name"},
      {tokens, R"({"expire_at": "2030-01-01T00:00:00Z"})", 400, "misspelt field"},
      {tokens, R"({"expires_at": "tomorrow"})", 400, "bad date"},
      {tokens, R"({"expires_at": "2001-01-01T00:00:00Z"})", 400, "date in the past"},
      {tokens, R"({"expires_at": 1700000000})", 400, "date as a number"},
      {tokens, R"({"name": ""})", 400, "empty token name"},
      {tokens, "{", 400, "malformed JSON"},
      {"/v1/admin/users/usr_nobody/tokens", R"({"name": "x"})", 404, "unknown user"},
  };
  for (const auto& c : cases) {
    auto r = f.admin("POST", c.path, c.body);
    INFO(c.why << ": " << c.body << " -> " << r.status << " " << r.body);
    CHECK(r.status == c.status);
    auto d = parse(r.body);
    // OpenAI's error shape, always.
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember("error"));
    CHECK(d["error"]["message"].IsString());
    CHECK(d["error"]["type"].IsString());
  }
  CHECK_FALSE(f.gw.keystore().find_user_by_name("dave")->has_value());
  CHECK(f.admin("GET", "/v1/admin/users/usr_nobody/tokens").status == 404);
  CHECK(f.admin("GET", "/v1/admin/audit?limit=abc").status == 400);
  CHECK(f.admin("GET", "/v1/admin/audit?limit=0").status == 400);
  CHECK(f.admin("GET", "/v1/admin/audit?before=-3").status == 400);
}

TEST_CASE("the audit log records who did what, newest first, pages, and holds no secret",
          "[admin][audit]") {
  AdminFixture f;
  auto user = parse(f.admin("POST", "/v1/admin/users", R"({"name": "erin"})").body);
  const std::string user_token = user["token"].GetString();
  const std::string erin = user["id"].GetString();
  auto tok = parse(f.admin("POST", "/v1/admin/users/" + erin + "/tokens", "{}").body);
  const std::string token = tok["token"].GetString();
  const std::string token_id = tok["id"].GetString();
  REQUIRE(f.admin("DELETE", "/v1/admin/tokens/" + token_id).status == 204);

  auto r = f.admin("GET", "/v1/admin/audit");
  REQUIRE(r.status == 200);
  CHECK(r.body.find(user_token) == std::string::npos);
  CHECK(r.body.find(token) == std::string::npos);
  auto d = parse(r.body);
  auto& data = d["data"];
  REQUIRE(data.Size() >= 3);
  // Newest first.
  CHECK(std::string(data[0]["action"].GetString()) == "token.revoke");
  CHECK(std::string(data[0]["target_id"].GetString()) == token_id);
  CHECK(std::string(data[1]["action"].GetString()) == "token.create");
  CHECK(std::string(data[1]["target_id"].GetString()) == token_id);
  CHECK(std::string(data[2]["action"].GetString()) == "user.create");
  CHECK(std::string(data[2]["target_id"].GetString()) == erin);
  for (int i = 0; i < 3; ++i) {
    CHECK(std::string(data[i]["actor"].GetString()) == "admin");
    CHECK(std::string(data[i]["remote_addr"].GetString()).find("127.0.0.1") != std::string::npos);
    auto at = parse_rfc3339(data[i]["at"].GetString());
    REQUIRE(at);
    CHECK(std::abs(*at - now_unix()) < 60);
  }
  CHECK(data[0]["id"].GetInt64() > data[1]["id"].GetInt64());

  // Paging: one entry a page, following next_before, visits the same entries in order.
  auto page1 = parse(f.admin("GET", "/v1/admin/audit?limit=1").body);
  REQUIRE(page1["data"].Size() == 1);
  CHECK(page1["data"][0]["id"].GetInt64() == data[0]["id"].GetInt64());
  REQUIRE(page1["next_before"].IsInt64());
  auto page2 = parse(f.admin("GET", "/v1/admin/audit?limit=1&before=" +
                                        std::to_string(page1["next_before"].GetInt64()))
                         .body);
  REQUIRE(page2["data"].Size() == 1);
  CHECK(page2["data"][0]["id"].GetInt64() == data[1]["id"].GetInt64());
}
