#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "test_support.hpp"

using namespace keygate;

TEST_CASE("concurrent authenticate, resolve and writes from several threads", "[threads][store]") {
  testing::TempDir dir;
  auto ks = testing::open_keystore(dir.file("k.db"));
  auto u = ks->create_user("busy", false);
  REQUIRE(u.has_value());
  REQUIRE(ks->create_key(u->user.id, "openai",
                         SecretKey(std::string_view("sk-threads-000000000001")), "", "",
                         std::nullopt)
              .has_value());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (!ks->authenticate(u->token)) {
          ++failures;
        }
        auto r = ks->resolve(u->user.id, "openai");
        if (!r || !*r || (*r)->secret.expose() != "sk-threads-000000000001") {
          ++failures;
        }
        AuditEntry e;
        e.action = "test." + std::to_string(t);
        if (!ks->record_audit(e)) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(failures == 0);
  CHECK(ks->list_audit(1000, std::nullopt)->size() == 200);
}
