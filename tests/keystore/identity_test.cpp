#include <catch2/catch.hpp>

#include "keystore/tokens.hpp"
#include "test_support.hpp"

using namespace keygate;

TEST_CASE("create_user validates names and refuses duplicates with 409", "[identity][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  auto alice = ks->create_user("alice", true);
  REQUIRE(alice.has_value());
  CHECK(alice->user.id.starts_with("usr_"));
  CHECK(alice->user.admin);
  CHECK(alice->token.starts_with("kg_"));
  CHECK(alice->token_info.masked == mask_token(alice->token));

  auto dup = ks->create_user("alice", false);
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().status == 409);
  CHECK(ks->create_user("", false).error().status == 400);
  CHECK(ks->create_user("has space", false).error().status == 400);
  CHECK(ks->create_user(std::string(65, 'a'), false).error().status == 400);
  CHECK(ks->create_user("ok.name-1_x", false).has_value());

  auto users = ks->list_users();
  REQUIRE(users.has_value());
  CHECK(users->size() == 2);
  auto found = ks->find_user_by_name("alice");
  REQUIRE(found.value().has_value());
  CHECK((*found)->id == alice->user.id);
  CHECK_FALSE(ks->find_user_by_name("nobody").value().has_value());
  CHECK(ks->get_user("usr_nope").error().status == 404);
}

TEST_CASE("authenticate: valid, malformed, unknown, revoked and expired tokens",
          "[identity][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  int64_t clock = 1'800'000'000;
  ks->set_clock_for_testing([&clock] { return clock; });
  auto bob = ks->create_user("bob", false);
  REQUIRE(bob.has_value());

  auto id = ks->authenticate(bob->token);
  REQUIRE(id.has_value());
  CHECK(id->user_id == bob->user.id);
  CHECK(id->user_name == "bob");
  CHECK_FALSE(id->admin);
  CHECK(id->token_id == bob->token_info.id);

  auto malformed = ks->authenticate("kg_nope");
  CHECK(malformed.error().status == 401);
  CHECK(malformed.error().message.find("Malformed") != std::string::npos);

  auto unknown = ks->authenticate(generate_token());
  CHECK(unknown.error().status == 401);
  CHECK(unknown.error().message == "Unknown token.");

  auto second = ks->create_token(bob->user.id, "ci", clock + 3600);
  REQUIRE(second.has_value());
  CHECK(second->info.expires_at == clock + 3600);
  CHECK(ks->authenticate(second->token).has_value());
  clock += 3600;
  auto expired = ks->authenticate(second->token);
  CHECK(expired.error().status == 401);
  CHECK(expired.error().code == "token_expired");

  REQUIRE(ks->revoke_token(bob->token_info.id).has_value());
  REQUIRE(ks->revoke_token(bob->token_info.id).has_value());  // idempotent
  auto revoked = ks->authenticate(bob->token);
  CHECK(revoked.error().status == 401);
  CHECK(revoked.error().code == "token_revoked");
  CHECK(ks->revoke_token("tok_missing").error().status == 404);

  CHECK(ks->create_token(bob->user.id, "past", clock - 1).error().status == 400);
  CHECK(ks->create_token("usr_missing", "x", std::nullopt).error().status == 404);
  auto tokens = ks->list_tokens(bob->user.id);
  REQUIRE(tokens.has_value());
  CHECK(tokens->size() == 2);
}

TEST_CASE("the token cache answers for a verified token only, until the token changes",
          "[identity][store]") {
  // Guards against: a cache keyed so that another token (or a tampered one) finds a cached
  // identity, and against a revoked token still answered from memory.
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  auto bob = ks->create_user("bob", false);
  auto carol = ks->create_user("carol", false);
  REQUIRE(bob.has_value());
  REQUIRE(carol.has_value());

  CHECK_FALSE(ks->authenticate_cached(bob->token).has_value());  // never verified: a miss
  REQUIRE(ks->authenticate(bob->token).has_value());
  auto hit = ks->authenticate_cached(bob->token);
  REQUIRE(hit.has_value());
  REQUIRE(hit->has_value());
  CHECK((*hit)->user_id == bob->user.id);
  CHECK((*hit)->token_id == bob->token_info.id);

  CHECK_FALSE(ks->authenticate_cached(carol->token).has_value());  // valid, not cached: a miss
  std::string tampered = bob->token;
  tampered[5] = tampered[5] == 'a' ? 'b' : 'a';
  auto refused = ks->authenticate_cached(tampered);  // its checksum fails: refused at once
  REQUIRE(refused.has_value());
  CHECK_FALSE(refused->has_value());

  REQUIRE(ks->revoke_token(bob->token_info.id).has_value());
  CHECK_FALSE(ks->authenticate_cached(bob->token).has_value());  // the write cleared the cache
}

TEST_CASE("last_used_at is written at most once a minute", "[identity][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  int64_t clock = 1'800'000'000;
  ks->set_clock_for_testing([&clock] { return clock; });
  auto u = ks->create_user("carol", false);
  REQUIRE(u.has_value());
  CHECK_FALSE(ks->get_token(u->token_info.id)->last_used_at.has_value());
  REQUIRE(ks->authenticate(u->token).has_value());
  CHECK(ks->get_token(u->token_info.id)->last_used_at == clock);
  int64_t first = clock;
  clock += 30;
  REQUIRE(ks->authenticate(u->token).has_value());
  CHECK(ks->get_token(u->token_info.id)->last_used_at == first);
  clock += 31;
  REQUIRE(ks->authenticate(u->token).has_value());
  CHECK(ks->get_token(u->token_info.id)->last_used_at == clock);
}

TEST_CASE("tokens survive reopening with the same master key", "[identity][store]") {
  testing::TempDir dir;
  std::string token;
  {
    auto ks = testing::open_keystore(dir.file("k.db"));
    token = ks->create_user("dave", true)->token;
  }
  auto ks = testing::open_keystore(dir.file("k.db"));
  CHECK(ks->status().ready);
  CHECK(ks->authenticate(token).has_value());
}

TEST_CASE("wrong master key: sealed, says why, and nothing authenticates or resolves",
          "[identity][store]") {
  testing::TempDir dir;
  std::string token, user_id;
  {
    auto ks = testing::open_keystore(dir.file("k.db"), 1);
    auto u = ks->create_user("erin", false);
    token = u->token;
    user_id = u->user.id;
    REQUIRE(ks->create_key(user_id, "openai", SecretKey(std::string_view("sk-wrongkey-000000001")),
                           "k", "", std::nullopt)
                .has_value());
  }
  auto ks = testing::open_keystore(dir.file("k.db"), 2);
  auto st = ks->status();
  CHECK_FALSE(st.ready);
  CHECK(st.message.find("master key does not match this database") != std::string::npos);
  auto auth = ks->authenticate(token);
  CHECK(auth.error().status == 503);
  auto resolved = ks->resolve(user_id, "openai");
  REQUIRE_FALSE(resolved.has_value());
  CHECK(resolved.error().status == 503);
  CHECK(resolved.error().message.find("master key does not match") != std::string::npos);
  // Listing needs no key material.
  CHECK(ks->list_keys(user_id).value().size() == 1);
}

TEST_CASE("no master key: sealed with a message", "[identity][store]") {
  testing::TempDir dir;
  auto ks = Keystore::open(testing::store_target(dir.file("k.db")), std::nullopt);
  REQUIRE(ks.has_value());
  CHECK_FALSE((*ks)->status().ready);
  CHECK((*ks)->status().message.find("no master key") != std::string::npos);
  CHECK((*ks)->create_user("x", false).error().status == 503);
}

TEST_CASE("agents: put, get, list, delete per user", "[agents][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  std::string a = testing::make_user(*ks, "a");
  std::string b = testing::make_user(*ks, "b");
  Agent agent{a, "coder", "anthropic/claude-sonnet-4-5", R"({"temperature":0.2})", "[]"};
  auto put = ks->put_agent(agent);
  REQUIRE(put.has_value());
  CHECK(put->created_at > 0);
  agent.model = "openai/gpt-4o";
  REQUIRE(ks->put_agent(agent).has_value());
  auto got = ks->get_agent(a, "coder");
  REQUIRE(got.has_value());
  CHECK(got->model == "openai/gpt-4o");
  CHECK(got->params_json == R"({"temperature":0.2})");
  CHECK(ks->get_agent(b, "coder").error().status == 404);
  CHECK(ks->list_agents(a).value().size() == 1);
  CHECK(ks->list_agents(b).value().empty());
  CHECK(ks->delete_agent(b, "coder").error().status == 404);
  REQUIRE(ks->delete_agent(a, "coder").has_value());
  CHECK(ks->list_agents(a).value().empty());
  CHECK(ks->put_agent(Agent{a, "bad name", "x"}).error().status == 400);
}

TEST_CASE("audit log records and pages newest first", "[audit][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  for (int i = 0; i < 5; ++i) {
    AuditEntry e;
    e.action = "key.create";
    e.actor_name = "root";
    e.target_id = "key_" + std::to_string(i);
    REQUIRE(ks->record_audit(e).has_value());
  }
  auto page = ks->list_audit(2, std::nullopt);
  REQUIRE(page.has_value());
  REQUIRE(page->size() == 2);
  CHECK(page->at(0).target_id == "key_4");
  auto next = ks->list_audit(10, page->back().id);
  REQUIRE(next.has_value());
  CHECK(next->size() == 3);
  CHECK(next->at(0).target_id == "key_2");
}

TEST_CASE("a used database whose meta rows vanished does not adopt a new master key",
          "[identity][store]") {
  testing::TempDir dir;
  {
    auto ks = testing::open_keystore(dir.file("k.db"), 1);
    testing::make_user(*ks, "frank");
  }
  {
    auto db = db::Database::open(testing::store_target(dir.file("k.db")));
    REQUIRE(db->exec("DELETE FROM meta").has_value());
  }
  auto ks = testing::open_keystore(dir.file("k.db"), 2);
  CHECK_FALSE(ks->status().ready);
  CHECK(ks->status().message.find("refusing") != std::string::npos);
}
