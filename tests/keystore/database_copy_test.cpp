// keygate copy-database's core: a SQLite keystore copied into PostgreSQL opens there with the
// same master key and serves the same users, tokens, keys (same plaintext, same order), agents,
// audit log and usage, and new rows continue after the copied ids. A target that already holds
// a keystore is refused and left as it was. Runs in CTest's "postgres: " pass.

#include <catch2/catch.hpp>

#include <map>

#include "keystore/database_copy.hpp"
#include "keystore/usage_writer.hpp"
#include "test_support.hpp"

using namespace keygate;

namespace {

constexpr int kUsageRows = 250;  // two full 100-row INSERTs and a shorter one

struct Source {
  testing::TempDir dir;
  std::string path = dir.file("source.db");
  std::string alice_id;
  std::string alice_token;
  std::string revoked_token;
  std::vector<KeyRecord> alice_keys;
  std::vector<AuditEntry> audit;
};

void fill(Source& s) {
  auto ks = Keystore::open(s.path, testing::test_master_key(3));  // SQLite, in every pass
  REQUIRE(ks.has_value());
  Keystore& k = **ks;
  REQUIRE(k.create_user("admin", true).has_value());
  auto alice = k.create_user("alice", false);
  REQUIRE(alice.has_value());
  s.alice_id = alice->user.id;
  s.alice_token = alice->token;
  auto second = k.create_token(s.alice_id, "laptop", std::nullopt);
  REQUIRE(second.has_value());
  s.revoked_token = second->token;
  REQUIRE(k.revoke_token(second->info.id).has_value());
  // Two keys for one provider created in the same second: only the copy's order tells them
  // apart when their priorities tie.
  REQUIRE(k.create_key(s.alice_id, "openai",
                       SecretKey(std::string_view("sk-copy-first-0000000001")), "first", "",
                       std::nullopt)
              .has_value());
  REQUIRE(k.create_key(s.alice_id, "openai",
                       SecretKey(std::string_view("sk-copy-second-000000002")), "second", "",
                       std::nullopt)
              .has_value());
  REQUIRE(k.create_key(std::nullopt, "anthropic",
                       SecretKey(std::string_view("sk-ant-copy-system-0000003")), "sys", "",
                       std::nullopt)
              .has_value());
  Agent agent;
  agent.user_id = s.alice_id;
  agent.name = "helper";
  agent.model = "openai/gpt-4o-mini";
  agent.params_json = R"({"temperature":0.25})";
  REQUIRE(k.put_agent(agent).has_value());
  for (const char* action : {"key.create", "token.revoke", "agent.put"}) {
    AuditEntry e;
    e.action = action;
    e.actor_name = "admin";
    REQUIRE(k.record_audit(e).has_value());
  }
  s.alice_keys = k.list_keys(s.alice_id).value();
  s.audit = k.list_audit(100, std::nullopt).value();

  auto writer = UsageWriter::open(s.path);
  REQUIRE(writer.has_value());
  for (int i = 0; i < kUsageRows; ++i) {
    UsageRow row;
    row.request_id = "req-" + std::to_string(i);
    row.started_at_ms = 1'763'000'000'000 + i;
    row.user_id = s.alice_id;
    row.provider = "openai";
    row.model_served = "gpt-4o-mini";
    row.key_source = "user";
    row.prompt_tokens = i;
    row.cost_usd = i % 2 ? std::optional<double>(0.5) : std::nullopt;
    row.usage_known = "reported";
    REQUIRE((*writer)->enqueue(row));
  }
  (*writer)->stop();
  REQUIRE((*writer)->written() == kUsageRows);
}

int64_t scalar(db::Database& db, const std::string& sql) {
  auto s = db.prepare(sql);
  REQUIRE(s.has_value());
  REQUIRE(s->step().value());
  return s->column_int(0);
}

}  // namespace

TEST_CASE("a SQLite keystore copied into PostgreSQL serves the same data with the same key",
          "[.][postgres]") {
  Source s;
  fill(s);
  const std::string target = testing::store_target(s.dir.file("copy-target"));
  {
    auto from = db::Database::open(s.path);
    auto to = db::Database::open(target);
    REQUIRE(from.has_value());
    REQUIRE(to.has_value());
    REQUIRE(db::apply_migrations(*to).has_value());
    auto copied = db::copy_database(*from, *to);
    INFO((copied ? std::string() : copied.error().message));
    REQUIRE(copied.has_value());
    std::map<std::string, int64_t> rows;
    for (const auto& t : *copied) {
      rows[t.name] = t.rows;
    }
    CHECK(rows["users"] == 2);
    CHECK(rows["tokens"] == 3);
    CHECK(rows["provider_keys"] == 3);
    CHECK(rows["agents"] == 1);
    CHECK(rows["audit_log"] == 3);
    CHECK(rows["usage"] == kUsageRows);
    CHECK(rows["meta"] >= 3);  // master key check and version, sealed pepper

    // The values themselves, not only the counts: sums over every usage row, NULLs included.
    CHECK(scalar(*to, "SELECT sum(prompt_tokens) FROM usage") == kUsageRows * (kUsageRows - 1) / 2);
    CHECK(scalar(*to, "SELECT count(*) FROM usage WHERE cost_usd IS NULL") == kUsageRows / 2);
    CHECK(scalar(*to, "SELECT count(*) FROM usage WHERE agent IS NULL") == kUsageRows);
  }

  auto copy = Keystore::open(target, testing::test_master_key(3));
  REQUIRE(copy.has_value());
  Keystore& k = **copy;
  REQUIRE(k.status().ready);
  // Tokens authenticate (hashes and pepper came along); a revoked one stays revoked.
  auto who = k.authenticate(s.alice_token);
  REQUIRE(who.has_value());
  CHECK(who->user_id == s.alice_id);
  auto revoked = k.authenticate(s.revoked_token);
  REQUIRE_FALSE(revoked.has_value());
  CHECK(revoked.error().status == 401);
  // Keys open to the same plaintext, in the same order (the tie goes to the newer one).
  auto keys = k.list_keys(s.alice_id).value();
  REQUIRE(keys.size() == s.alice_keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(keys[i].id == s.alice_keys[i].id);
    CHECK(keys[i].masked == s.alice_keys[i].masked);
  }
  auto resolved = k.resolve(s.alice_id, "openai").value();
  REQUIRE(resolved.has_value());
  CHECK(resolved->secret.expose() == "sk-copy-second-000000002");
  auto system = k.resolve(s.alice_id, "anthropic").value();
  REQUIRE(system.has_value());
  CHECK(system->source == "system");
  CHECK(system->secret.expose() == "sk-ant-copy-system-0000003");
  CHECK(k.get_agent(s.alice_id, "helper").value().params_json == R"({"temperature":0.25})");
  // The audit log keeps its ids, and a new entry continues after them.
  auto audit = k.list_audit(100, std::nullopt).value();
  REQUIRE(audit.size() == s.audit.size());
  for (std::size_t i = 0; i < audit.size(); ++i) {
    CHECK(audit[i].id == s.audit[i].id);
    CHECK(audit[i].action == s.audit[i].action);
  }
  AuditEntry next;
  next.action = "after.copy";
  auto next_id = k.record_audit(next);
  REQUIRE(next_id.has_value());
  CHECK(*next_id > s.audit.front().id);
  // New usage rows too.
  auto writer = UsageWriter::open(target);
  REQUIRE(writer.has_value());
  UsageRow row;
  row.request_id = "after-copy";
  row.started_at_ms = 1'763'100'000'000;
  REQUIRE((*writer)->enqueue(row));
  (*writer)->stop();
  CHECK((*writer)->written() == 1);
  CHECK((*writer)->failed() == 0);
}

TEST_CASE("a copy into a database that already holds a keystore is refused and changes nothing",
          "[.][postgres]") {
  Source s;
  fill(s);
  const std::string target = testing::store_target(s.dir.file("copy-busy"));
  // The target was used by keygate already (opened with a master key: its meta is written).
  auto other = Keystore::open(target, testing::test_master_key(9));
  REQUIRE(other.has_value());
  REQUIRE((*other)->create_user("someone-else", false).has_value());

  auto from = db::Database::open(s.path);
  auto to = db::Database::open(target);
  REQUIRE(from.has_value());
  REQUIRE(to.has_value());
  auto refused = db::copy_database(*from, *to);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().status == 409);
  CHECK(scalar(*to, "SELECT count(*) FROM users") == 1);
  CHECK(scalar(*to, "SELECT count(*) FROM usage") == 0);

  // Only SQLite into PostgreSQL: the other way round is refused before anything is read.
  auto backwards = db::copy_database(*to, *from);
  REQUIRE_FALSE(backwards.has_value());
  CHECK(backwards.error().status == 400);
}
