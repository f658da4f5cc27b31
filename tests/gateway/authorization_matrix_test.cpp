// The authorization matrix, generated from the live route table: every registered route is called
// by its rightful caller, by another user, by an admin, with a revoked token, with an expired
// token and with no token, and each answer is checked against a row written here by hand.
//
// Bugs it guards against: a handler that forgets the ownership check (bob reads or edits alice's
// key), an admin route registered as Access::user, a user route registered as Access::open, a
// revoked or expired token that still works, and — the reason the table is generated — a new
// route added without anyone deciding who may call it: such a route FAILS this test until it has
// a row.

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <set>

#include "schema/time.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using gateway::Access;

namespace {

constexpr int k2xx = -2;  // any 2xx answer

bool status_matches(int expected, int got) {
  return expected == k2xx ? (got >= 200 && got < 300) : expected == got;
}

std::string method_name(boost::beast::http::verb v) {
  return std::string(boost::beast::http::to_string(v));
}

// One world for the whole matrix: a gateway, an OpenAI mock (chat, model list for key tests), and
// the tokens each caller class uses.
struct World {
  MockUpstream upstream;
  std::unique_ptr<TestGateway> gw;
  std::string admin_id;
  std::string alice_revoked, alice_expired;  // alice's tokens that must no longer work
  std::string admin_revoked, admin_expired;  // the same for admin routes (401, not 403)
  int counter = 0;

  World()
      : upstream([](MockExchange& ex) -> net::awaitable<void> {
          if (ex.request.target.find("/v1/messages/count_tokens") != std::string::npos) {
            co_await ex.respond(200, R"({"input_tokens":7})");
          } else if (ex.request.target.find("/v1/embeddings") != std::string::npos) {
            co_await ex.respond(
                200,
                R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],)"
                R"("model":"text-embedding-3-small","usage":{"prompt_tokens":1,"total_tokens":1}})");
          } else if (ex.request.target.find("chat/completions") != std::string::npos) {
            const std::string body = openai_completion_json("matrix");
            co_await ex.respond(200, body);
          } else {
            co_await ex.respond(200, R"({"object":"list","data":[{"id":"gpt-4o-mini"}]})");
          }
        }) {
    GatewayOptions options;
    options.base_urls = {{"openai", upstream.base_url("/v1")},
                         {"anthropic", upstream.base_url("")}};
    gw = std::make_unique<TestGateway>(options);
    auto& ks = gw->keystore();
    admin_id = ks.find_user_by_name("admin").value()->id;
    // A system key, so chat and models work for every user without touching the environment.
    REQUIRE(ks.create_key(std::nullopt, "openai", SecretKey("sk-matrix-system-0000000000000001"),
                          "system-openai", "", std::nullopt));
    alice_revoked = revoked_token(gw->user_id);
    admin_revoked = revoked_token(admin_id);
    alice_expired = expired_token(gw->user_id);
    admin_expired = expired_token(admin_id);
  }

  std::string revoked_token(const std::string& user_id) {
    auto& ks = gw->keystore();
    auto t = ks.create_token(user_id, "to-revoke", std::nullopt);
    REQUIRE(t);
    REQUIRE(ks.revoke_token(t->info.id));
    return t->token;
  }

  // A token whose expiry lies 10 s in the past: created while the keystore's clock reads an
  // earlier time (create_token refuses a past expiry), then the real clock is back.
  std::string expired_token(const std::string& user_id) {
    auto& ks = gw->keystore();
    const int64_t now = now_unix();
    ks.set_clock_for_testing([now] { return now - 100; });
    auto t = ks.create_token(user_id, "expired", now - 10);
    ks.set_clock_for_testing([] { return now_unix(); });
    REQUIRE(t);
    return t->token;
  }

  std::string unique(const std::string& prefix) { return prefix + std::to_string(++counter); }

  std::string alice_key() {
    auto k = gw->keystore().create_key(gw->user_id, "openai",
                                       SecretKey("sk-matrix-alice-00000000000000000001"),
                                       "alice-key", "alice's", std::nullopt);
    REQUIRE(k);
    return k->id;
  }
  std::string system_key() {
    auto k = gw->keystore().create_key(std::nullopt, "anthropic",
                                       SecretKey("sk-ant-matrix-system-000000000000001"),
                                       "system-key", "", std::nullopt);
    REQUIRE(k);
    return k->id;
  }
  std::string put_alice_agent(const std::string& prefix, const std::string& model) {
    Agent a;
    a.user_id = gw->user_id;
    a.name = unique(prefix);
    a.model = model;
    REQUIRE(gw->keystore().put_agent(a));
    return a.name;
  }
  std::string alice_agent() { return put_alice_agent("alice-agent-", "openai/gpt-4o-mini"); }
  std::string alice_embedding_agent() {
    return put_alice_agent("alice-embed-", "openai/text-embedding-3-small");
  }
  // An agent on Claude, which counts tokens, with alice's own Anthropic key.
  std::string alice_claude_agent() {
    REQUIRE(gw->keystore().create_key(gw->user_id, "anthropic",
                                      SecretKey("sk-ant-matrix-alice-00000000000000001"),
                                      unique("alice-claude-key-"), "", std::nullopt));
    return put_alice_agent("alice-claude-", "anthropic/claude-sonnet-4-5");
  }
  std::string alice_token_id() {
    auto t = gw->keystore().create_token(gw->user_id, "victim", std::nullopt);
    REQUIRE(t);
    return t->info.id;
  }
};

struct Call {
  std::string path;
  std::string body;
  std::string id;               // the owned id in the path, if any
  std::size_t token_count = 0;  // alice's tokens before the call (token creation rows)
};

struct Row {
  std::string method;
  std::string pattern;
  Access access;
  // Builds a fresh call (creating what it needs), once per caller: a DELETE consumes its target.
  std::function<Call(World&)> make;
  int owner;  // the rightful caller: alice (user routes) or admin (admin routes); open: no token
  int other;  // bob on user routes; alice and bob on admin routes
  int admin;  // the admin on user routes (another user there); ignored on admin routes
  // Checked after every refused or foreign call: the target is as it was.
  std::function<void(World&, const Call&)> unchanged;
  // Text of alice's that must not show up in bob's answer (lists).
  std::string not_in_others_answer;
};

Call fixed(const std::string& path, const std::string& body = {}) {
  return Call{path, body, {}, 0};
}

// A Messages API call naming an agent of alice's (`make_agent`) as its model; `fields` goes
// before "messages".
std::function<Call(World&)> with_alice_agent(
    std::string path, std::string fields,
    std::string (World::*make_agent)() = &World::alice_agent) {
  return [path = std::move(path), fields = std::move(fields), make_agent](World& w) {
    Call c;
    c.id = (w.*make_agent)();
    c.path = path;
    c.body = R"({"model": "agent:)" + c.id + R"(", )" + fields +
             R"("messages": [{"role": "user", "content": "hi"}]})";
    return c;
  };
}

void alice_key_intact(World& w, const Call& c) {
  auto k = w.gw->keystore().get_key(w.gw->user_id, c.id);
  REQUIRE(k);
  CHECK(k->name == "alice-key");
  CHECK(k->description == "alice's");
  CHECK(k->status == "active");
  CHECK(k->masked == "sk-...0001");
}

void system_key_intact(World& w, const Call& c) {
  auto k = w.gw->keystore().get_key(std::nullopt, c.id);
  REQUIRE(k);
  CHECK(k->name == "system-key");
  CHECK(k->status == "active");
}

void alice_agent_intact(World& w, const Call& c) {
  auto a = w.gw->keystore().get_agent(w.gw->user_id, c.id);
  REQUIRE(a);
  CHECK((a->model == "openai/gpt-4o-mini" || a->model == "anthropic/claude-sonnet-4-5" ||
         a->model == "openai/text-embedding-3-small"));
}

void alice_token_intact(World& w, const Call& c) {
  auto t = w.gw->keystore().get_token(c.id);
  REQUIRE(t);
  CHECK_FALSE(t->revoked_at.has_value());
}

void no_user_named(World& w, const Call& c) {
  auto u = w.gw->keystore().find_user_by_name(c.id);
  REQUIRE(u);
  CHECK_FALSE(u->has_value());
}

void alice_token_count(World& w, const Call& c) {
  auto tokens = w.gw->keystore().list_tokens(w.gw->user_id);
  REQUIRE(tokens);
  CHECK(tokens->size() == c.token_count);
}

std::vector<Row> rows() {
  const std::string key_body =
      R"({"provider": "openai", "api_key": "sk-matrix-new-000000000000000000042", "name": "n"})";
  const std::string system_key_body =
      R"({"provider": "anthropic", "api_key": "sk-ant-matrix-new-0000000000000042", "name": "s"})";
  std::vector<Row> r;
  // --- open ---
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    r.push_back(
        {"GET", path, Access::open, [path](World&) { return fixed(path); }, 200, 200, 200, {}, {}});
  }
  // --- the proxy ---
  r.push_back({"POST",
               "/v1/chat/completions",
               Access::user,
               [](World&) { return fixed("/v1/chat/completions", chat_body()); },
               200,
               200,
               200,
               {},
               {}});
  // Anthropic's Messages API over the same pipeline, with alice's agent: only alice has it.
  r.push_back({"POST",
               "/v1/messages",
               Access::user,
               with_alice_agent("/v1/messages", R"("max_tokens": 16, )"),
               200,
               400,
               400,
               alice_agent_intact,
               {}});
  // Token counting resolves alice's agent the same way (one on Claude, which counts, with her
  // own key): only alice has it.
  r.push_back({"POST",
               "/v1/messages/count_tokens",
               Access::user,
               with_alice_agent("/v1/messages/count_tokens", "", &World::alice_claude_agent),
               200,
               400,
               400,
               alice_agent_intact,
               {}});
  // OpenAI's Responses API over the same pipeline, with alice's agent: only alice has it.
  r.push_back({"POST",
               "/v1/responses",
               Access::user,
               [](World& w) {
                 Call c;
                 c.id = w.alice_agent();
                 c.path = "/v1/responses";
                 c.body = R"({"model": "agent:)" + c.id + R"(", "input": "hi"})";
                 return c;
               },
               200,
               400,
               400,
               alice_agent_intact,
               {}});
  // Embeddings through alice's agent (on an embedding model): only alice has it.
  r.push_back({"POST",
               "/v1/embeddings",
               Access::user,
               [](World& w) {
                 Call c;
                 c.id = w.alice_embedding_agent();
                 c.path = "/v1/embeddings";
                 c.body = R"({"model": "agent:)" + c.id + R"(", "input": "hi"})";
                 return c;
               },
               200,
               400,
               400,
               alice_agent_intact,
               {}});
  r.push_back({"GET",
               "/v1/models",
               Access::user,
               [](World&) { return fixed("/v1/models"); },
               200,
               200,
               200,
               {},
               {}});
  r.push_back({"GET",
               "/v1/providers",
               Access::user,
               [](World&) { return fixed("/v1/providers"); },
               200,
               200,
               200,
               {},
               {}});
  // --- the caller's own keys ---
  r.push_back({"GET",
               "/v1/keys",
               Access::user,
               [](World& w) {
                 w.alice_key();
                 return fixed("/v1/keys");
               },
               200,
               200,
               200,
               {},
               "alice-key"});
  r.push_back({"POST",
               "/v1/keys",
               Access::user,
               [key_body](World&) { return fixed("/v1/keys", key_body); },
               201,
               201,
               201,
               {},
               {}});
  r.push_back({"GET",
               "/v1/keys/status",
               Access::user,
               [](World& w) {
                 Call c = fixed("/v1/keys/status");
                 c.id = w.alice_key();
                 return c;
               },
               200,
               200,
               200,
               alice_key_intact,
               {}});
  auto key_call = [](const std::string& suffix, const std::string& body) {
    return [suffix, body](World& w) {
      Call c;
      c.id = w.alice_key();
      c.path = "/v1/keys/" + c.id + suffix;
      c.body = body;
      return c;
    };
  };
  r.push_back({"GET",
               "/v1/keys/{id}",
               Access::user,
               key_call("", ""),
               200,
               404,
               404,
               alice_key_intact,
               {}});
  r.push_back(
      {"PATCH",
       "/v1/keys/{id}",
       Access::user,
       key_call("", R"({"name": "taken-over", "api_key": "sk-matrix-evil-0000000000000666"})"),
       200,
       404,
       404,
       alice_key_intact,
       {}});
  r.push_back({"DELETE",
               "/v1/keys/{id}",
               Access::user,
               key_call("", ""),
               204,
               404,
               404,
               alice_key_intact,
               {}});
  r.push_back({"POST",
               "/v1/keys/{id}/test",
               Access::user,
               key_call("/test", ""),
               200,
               404,
               404,
               alice_key_intact,
               {}});
  // --- system keys (admin) ---
  r.push_back({"GET",
               "/v1/admin/keys",
               Access::admin,
               [](World&) { return fixed("/v1/admin/keys"); },
               200,
               403,
               0,
               {},
               {}});
  r.push_back({"POST",
               "/v1/admin/keys",
               Access::admin,
               [system_key_body](World&) { return fixed("/v1/admin/keys", system_key_body); },
               201,
               403,
               0,
               {},
               {}});
  auto system_call = [](const std::string& suffix, const std::string& body) {
    return [suffix, body](World& w) {
      Call c;
      c.id = w.system_key();
      c.path = "/v1/admin/keys/" + c.id + suffix;
      c.body = body;
      return c;
    };
  };
  r.push_back({"GET",
               "/v1/admin/keys/{id}",
               Access::admin,
               system_call("", ""),
               200,
               403,
               0,
               system_key_intact,
               {}});
  r.push_back({"PATCH",
               "/v1/admin/keys/{id}",
               Access::admin,
               system_call("", R"({"name": "taken-over"})"),
               200,
               403,
               0,
               system_key_intact,
               {}});
  r.push_back({"DELETE",
               "/v1/admin/keys/{id}",
               Access::admin,
               system_call("", ""),
               204,
               403,
               0,
               system_key_intact,
               {}});
  r.push_back({"POST",
               "/v1/admin/keys/{id}/test",
               Access::admin,
               system_call("/test", ""),
               200,
               403,
               0,
               system_key_intact,
               {}});
  // --- agents ---
  r.push_back({"GET", "/v1/agents", Access::user,
               [](World& w) {
                 Call c = fixed("/v1/agents");
                 c.id = w.alice_agent();
                 return c;
               },
               200, 200, 200, alice_agent_intact, "alice-agent-"});
  auto agent_call = [](const std::string& body) {
    return [body](World& w) {
      Call c;
      c.id = w.alice_agent();
      c.path = "/v1/agents/" + c.id;
      c.body = body;
      return c;
    };
  };
  r.push_back({"GET",
               "/v1/agents/{name}",
               Access::user,
               agent_call(""),
               200,
               404,
               404,
               alice_agent_intact,
               {}});
  // Agents are named per user: bob's PUT under alice's agent's name makes bob's own agent, and
  // must leave alice's alone.
  r.push_back({"PUT",
               "/v1/agents/{name}",
               Access::user,
               agent_call(R"({"model": "anthropic/claude-sonnet-4-5"})"),
               k2xx,
               k2xx,
               k2xx,
               alice_agent_intact,
               {}});
  r.push_back({"DELETE",
               "/v1/agents/{name}",
               Access::user,
               agent_call(""),
               204,
               404,
               404,
               alice_agent_intact,
               {}});
  // --- usage ---
  r.push_back({"GET",
               "/v1/usage",
               Access::user,
               [](World&) { return fixed("/v1/usage"); },
               200,
               200,
               200,
               {},
               {}});
  // Each caller sees their own budget: bob's answer must not carry alice's (a 7-dollar budget).
  r.push_back({"GET",
               "/v1/budget",
               Access::user,
               [](World& w) {
                 REQUIRE(w.gw->keystore().set_system_key_budget(w.gw->user_id, 7.0));
                 w.gw->app().spend().set_budget(w.gw->user_id, 7.0);
                 return fixed("/v1/budget");
               },
               200,
               200,
               200,
               {},
               "\"limit_usd\":7"});
  r.push_back({"GET",
               "/v1/admin/usage",
               Access::admin,
               [](World&) { return fixed("/v1/admin/usage"); },
               200,
               403,
               0,
               {},
               {}});
  // --- users, tokens, audit (admin) ---
  r.push_back({"GET",
               "/v1/admin/users",
               Access::admin,
               [](World&) { return fixed("/v1/admin/users"); },
               200,
               403,
               0,
               {},
               {}});
  r.push_back({"POST",
               "/v1/admin/users",
               Access::admin,
               [](World& w) {
                 Call c;
                 c.id = w.unique("matrix-user-");
                 c.path = "/v1/admin/users";
                 c.body = R"({"name": ")" + c.id + R"(", "admin": true})";
                 return c;
               },
               201,
               403,
               0,
               no_user_named,
               {}});
  // A refused budget change leaves alice's budget as it was (none of her own).
  r.push_back({"PATCH",
               "/v1/admin/users/{id}",
               Access::admin,
               [](World& w) {
                 REQUIRE(w.gw->keystore().set_system_key_budget(w.gw->user_id, std::nullopt));
                 w.gw->app().spend().set_budget(w.gw->user_id, std::nullopt);
                 Call c =
                     fixed("/v1/admin/users/" + w.gw->user_id, R"({"system_key_budget_usd": 0})");
                 c.id = w.gw->user_id;
                 return c;
               },
               200,
               403,
               0,
               [](World& w, const Call& c) {
                 auto u = w.gw->keystore().get_user(c.id);
                 REQUIRE(u);
                 CHECK_FALSE(u->system_key_budget_usd.has_value());
                 CHECK_FALSE(w.gw->app().spend().standing(c.id, now_unix_ms()).limit_usd);
               },
               {}});
  r.push_back({"GET",
               "/v1/admin/users/{id}/tokens",
               Access::admin,
               [](World& w) { return fixed("/v1/admin/users/" + w.gw->user_id + "/tokens"); },
               200,
               403,
               0,
               {},
               {}});
  r.push_back({"POST",
               "/v1/admin/users/{id}/tokens",
               Access::admin,
               [](World& w) {
                 auto tokens = w.gw->keystore().list_tokens(w.gw->user_id);
                 REQUIRE(tokens);
                 Call c =
                     fixed("/v1/admin/users/" + w.gw->user_id + "/tokens", R"({"name": "matrix"})");
                 c.token_count = tokens->size();
                 return c;
               },
               201,
               403,
               0,
               alice_token_count,
               {}});
  r.push_back({"DELETE",
               "/v1/admin/tokens/{id}",
               Access::admin,
               [](World& w) {
                 Call c;
                 c.id = w.alice_token_id();
                 c.path = "/v1/admin/tokens/" + c.id;
                 return c;
               },
               204,
               403,
               0,
               alice_token_intact,
               {}});
  r.push_back({"GET",
               "/v1/admin/audit",
               Access::admin,
               [](World&) { return fixed("/v1/admin/audit"); },
               200,
               403,
               0,
               {},
               {}});
  return r;
}

// "METHOD /pattern" of every registered route that has no row.
std::vector<std::string> routes_without_rows(const gateway::RouteTable& routes,
                                             const std::vector<Row>& table) {
  std::set<std::string> known;
  for (const auto& row : table) {
    known.insert(row.method + " " + row.pattern);
  }
  std::vector<std::string> missing;
  for (const auto& route : routes.routes()) {
    const std::string name = method_name(route.method) + " " + route.pattern;
    if (!known.count(name)) {
      missing.push_back(name);
    }
  }
  return missing;
}

HttpResponse call(World& w, const std::string& method, const Call& c, const std::string& token) {
  Headers headers;
  if (!token.empty()) {
    headers.emplace_back("authorization", bearer(token));
  }
  if (!c.body.empty()) {
    headers.emplace_back("content-type", "application/json");
  }
  return http_request(w.gw->port(), method, c.path, c.body, headers);
}

}  // namespace

TEST_CASE("every registered route has a row and answers each caller as its row says",
          "[authz][matrix]") {
  World w;
  auto table = rows();
  std::map<std::string, const Row*> by_route;
  for (const auto& row : table) {
    by_route[row.method + " " + row.pattern] = &row;
  }

  for (const auto& name : routes_without_rows(w.gw->app().routes(), table)) {
    FAIL_CHECK("new route without a row: " << name << " (decide who may call it; add a row)");
  }
  std::set<std::string> registered;
  for (const auto& route : w.gw->app().routes().routes()) {
    const std::string name = method_name(route.method) + " " + route.pattern;
    registered.insert(name);
    auto it = by_route.find(name);
    if (it == by_route.end()) {
      continue;
    }
    const Row& row = *it->second;
    INFO("route " << name);
    // A route whose access level differs from the row's is a mis-registration (an admin route
    // registered for users, a user route left open).
    CHECK(static_cast<int>(route.access) == static_cast<int>(row.access));

    auto check = [&](const std::string& who, const std::string& token, int expected) {
      Call c = row.make(w);
      auto r = call(w, row.method, c, token);
      INFO(who << " " << row.method << " " << c.path << " -> " << r.status << " " << r.body);
      CHECK(status_matches(expected, r.status));
      if (r.status >= 400) {
        // Refusals are in OpenAI's error shape.
        CHECK(r.body.find("\"error\"") != std::string::npos);
      }
      return std::pair{c, r};
    };
    auto check_refused = [&](const std::string& who, const std::string& token, int expected) {
      auto [c, r] = check(who, token, expected);
      if (row.unchanged) {
        row.unchanged(w, c);
      }
      return r;
    };

    if (row.access == Access::open) {
      check("anonymous", "", 200);
      check("alice", w.gw->user_token, 200);
      continue;
    }
    if (row.access == Access::user) {
      check("alice (owner)", w.gw->user_token, row.owner);
      auto r = check_refused("bob (another user)", w.gw->other_token, row.other);
      if (!row.not_in_others_answer.empty()) {
        CHECK(r.body.find(row.not_in_others_answer) == std::string::npos);
      }
      check_refused("admin (another user here)", w.gw->admin_token, row.admin);
      check_refused("alice's revoked token", w.alice_revoked, 401);
      check_refused("alice's expired token", w.alice_expired, 401);
      check_refused("no token", "", 401);
    } else {
      check("admin", w.gw->admin_token, row.owner);
      check_refused("alice (not admin)", w.gw->user_token, row.other);
      check_refused("bob (not admin)", w.gw->other_token, row.other);
      check_refused("admin's revoked token", w.admin_revoked, 401);
      check_refused("admin's expired token", w.admin_expired, 401);
      check_refused("no token", "", 401);
    }
  }

  for (const auto& row : table) {
    if (!registered.count(row.method + " " + row.pattern)) {
      WARN("row without a registered route (not there yet?): " << row.method << " " << row.pattern);
    }
  }
}

TEST_CASE("the matrix notices a route without a row", "[authz][matrix]") {
  // The guard itself: a table with the known routes plus one nobody wrote a row for.
  gateway::RouteTable routes;
  auto noop = [](gateway::HttpExchange&) -> gateway::awaitable<void> { co_return; };
  routes.add(boost::beast::http::verb::get, "/v1/keys", Access::user, noop);
  routes.add(boost::beast::http::verb::post, "/v1/admin/secret-backdoor", Access::user, noop);
  auto missing = routes_without_rows(routes, rows());
  REQUIRE(missing.size() == 1);
  CHECK(missing[0] == "POST /v1/admin/secret-backdoor");
  // Every row names a real HTTP method (a typo would silently never match).
  for (const auto& row : rows()) {
    CHECK(boost::beast::http::string_to_verb(row.method) != boost::beast::http::verb::unknown);
  }
}
