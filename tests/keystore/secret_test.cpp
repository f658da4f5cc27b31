#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/resource.h>

#include "keystore/secret.hpp"

using namespace keygate;

TEST_CASE("SecretKey copies, moves and exposes its bytes", "[secret]") {
  REQUIRE(crypto_init().has_value());
  SecretKey a(std::string_view("sk-test-123"));
  CHECK(a.size() == 11);
  CHECK(a.expose() == "sk-test-123");
  SecretKey b = std::move(a);
  CHECK(b.expose() == "sk-test-123");
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is defined as empty
  CHECK(a.expose().empty());
  SecretKey c;
  c = std::move(b);
  CHECK(c.expose() == "sk-test-123");
}

TEST_CASE("SecretKey::take wipes the source string", "[secret]") {
  REQUIRE(crypto_init().has_value());
  std::string source = "sk-wipe-me-please";
  const char* buffer = source.data();
  size_t len = source.size();
  SecretKey key = SecretKey::take(source);
  CHECK(key.expose() == "sk-wipe-me-please");
  CHECK(source.empty());
  // clear() keeps the buffer; its old bytes must be zero now.
  for (size_t i = 0; i < len; ++i) {
    CHECK(buffer[i] == '\0');
  }
}

TEST_CASE("SecretKey::random gives distinct keys; truncate shrinks", "[secret]") {
  REQUIRE(crypto_init().has_value());
  SecretKey a = SecretKey::random(32);
  SecretKey b = SecretKey::random(32);
  CHECK(a.size() == 32);
  CHECK(a.expose() != b.expose());
  a.truncate(8);
  CHECK(a.size() == 8);
  CHECK(SecretKey::zeroed(0).empty());
}

TEST_CASE("disable_core_dumps turns off core files and ptrace dumpability", "[secret]") {
  disable_core_dumps();
  rlimit lim{};
  REQUIRE(getrlimit(RLIMIT_CORE, &lim) == 0);
  CHECK(lim.rlim_cur == 0);
  CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
}
