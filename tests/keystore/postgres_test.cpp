// The libpq layer: placeholders, what its errors say (never a password, never a row's values),
// what happens when the server drops a connection, and the NOTIFY listener. The [.][postgres] tests
// need the server in KEYGATE_TEST_POSTGRES and run in CTest's "postgres: " pass only.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "keystore/database.hpp"
#include "keystore/postgres.hpp"
#include "keystore/postgres_listener.hpp"
#include "test_support.hpp"

using namespace keygate;

TEST_CASE("? placeholders become $N outside literals, names and comments", "[postgres_sql]") {
  CHECK(pg::numbered_placeholders("SELECT ? , ?") == "SELECT $1 , $2");
  CHECK(pg::numbered_placeholders("a = ?1 AND b = ?2 AND c = ?1") ==
        "a = $1 AND b = $2 AND c = $1");
  CHECK(pg::numbered_placeholders("?3, ?") == "$3, $4");  // SQLite: a bare ? follows the largest
  CHECK(pg::numbered_placeholders("x = '?' AND y = ? -- why?\n AND \"?\" = ?") ==
        "x = '?' AND y = $1 -- why?\n AND \"?\" = $2");
  CHECK(pg::numbered_placeholders("name = 'it''s ?' OR n = ?") == "name = 'it''s ?' OR n = $1");
}

TEST_CASE("a target's password never reaches a message", "[postgres_sql]") {
  CHECK(pg::redact_target("postgresql://kg:hunter2@db.internal:5432/keygate") ==
        "postgresql://kg:***@db.internal:5432/keygate");
  CHECK(pg::redact_target("postgres://db/keygate?user=kg&password=hunter2&sslmode=require") ==
        "postgres://db/keygate?user=kg&password=***&sslmode=require");
  CHECK(pg::redact_target("postgres://kg@db/keygate") == "postgres://kg@db/keygate");
  CHECK(pg::is_postgres_target("postgresql://x"));
  CHECK(pg::is_postgres_target("postgres://x"));
  CHECK_FALSE(pg::is_postgres_target("./data/keygate.db"));

  // No server there: a 503 that names the redacted target, without the password.
  auto c = pg::Connection::open("postgresql://kg:hunter2@/keygate?host=/nonexistent-dir");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().status == 503);
  CHECK(c.error().retryable);
  CHECK(c.error().message.find("hunter2") == std::string::npos);
  CHECK(c.error().message.find("kg:***@") != std::string::npos);
}

namespace {

std::unique_ptr<pg::Connection> connect(const std::string& target) {
  auto c = pg::Connection::open(target);
  INFO((c.has_value() ? std::string() : c.error().message));
  REQUIRE(c.has_value());
  return std::move(*c);
}

void terminate_backends(const std::string& target,
                        std::string_view application = "keygate-test-victim") {
  // From another connection: PostgreSQL ends every other session named `application` (each
  // test names its own), as a server restart or a failover would.
  auto admin = connect(target);
  auto s = admin->prepare(
      "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
      "WHERE pid <> pg_backend_pid() AND datname = current_database() "
      "AND application_name = ?");
  s.bind(1, application);
  REQUIRE(s.step().value());
  CHECK(s.column_int(0) >= 1);
}

}  // namespace

TEST_CASE("PostgreSQL: a UNIQUE violation is a 409 that quotes no value", "[.][postgres]") {
  testing::TempDir dir;
  const std::string target = testing::store_target(dir.file("k.db"));
  auto c = connect(target);
  REQUIRE(c->exec("CREATE TABLE secrets_demo (v TEXT UNIQUE)").has_value());
  auto insert = c->prepare("INSERT INTO secrets_demo(v) VALUES(?)");
  insert.bind(1, std::string_view("value-that-must-not-leak"));
  REQUIRE(insert.run().has_value());
  auto again = insert.run();
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().status == 409);
  CHECK(again.error().message.find("value-that-must-not-leak") == std::string::npos);
  CHECK(again.error().message.find("secrets_demo") != std::string::npos);  // it says which
}

TEST_CASE("PostgreSQL: a dropped connection reconnects, but never inside a transaction",
          "[.][postgres]") {
  testing::TempDir dir;
  const std::string target =
      testing::store_target(dir.file("k.db")) + "&application_name=keygate-test-victim";
  auto db = db::Database::open(target);
  REQUIRE(db.has_value());
  REQUIRE(db->exec("CREATE TABLE t (v BIGINT)").has_value());

  SECTION("outside a transaction: the next statement runs on a new connection") {
    terminate_backends(target);
    auto first = db->exec("INSERT INTO t VALUES (1)");
    // The first use finds the connection dead (503, retryable); the one after reconnects.
    if (!first) {
      CHECK(first.error().status == 503);
      CHECK(first.error().retryable);
      REQUIRE(db->exec("INSERT INTO t VALUES (1)").has_value());
    }
    auto s = db->prepare("SELECT count(*) FROM t");
    REQUIRE(s->step().value());
    CHECK(s->column_int(0) == 1);
  }

  SECTION("inside one: it fails, and the transaction's writes are gone") {
    {
      auto tx = db::transaction(*db);
      REQUIRE(tx.has_value());
      REQUIRE(db->exec("INSERT INTO t VALUES (2)").has_value());
      terminate_backends(target);
      auto lost = db->exec("INSERT INTO t VALUES (3)");
      REQUIRE_FALSE(lost.has_value());
      CHECK(lost.error().status == 503);
      // Not silently reconnected in the middle: the statement after also fails.
      auto after = db->exec("INSERT INTO t VALUES (4)");
      REQUIRE_FALSE(after.has_value());
      CHECK(after.error().status == 503);
    }  // rolled back
    auto s = db->prepare("SELECT count(*) FROM t");
    REQUIRE(s->step().value());
    CHECK(s->column_int(0) == 0);
  }
}

TEST_CASE("PostgreSQL: a listener hears NOTIFY, and again after the server dropped it",
          "[.][postgres]") {
  testing::TempDir dir;
  const std::string target = testing::store_target(dir.file("k.db"));
  const std::string listener_target = target + "&application_name=keygate-test-listener";
  std::atomic<int> signals{0};
  auto started = pg::Listener::start(listener_target, "keygate_test_channel", [&] { ++signals; });
  REQUIRE(started.has_value());
  pg::Listener& listener = **started;
  auto eventually = [](auto condition) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!condition() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return condition();
  };
  auto notifier = connect(target);

  // Connecting is itself a signal: what was sent before it is unknown.
  REQUIRE(eventually([&] { return listener.connected(); }));
  CHECK(signals.load() >= 1);
  int before = signals.load();
  REQUIRE(notifier->exec("NOTIFY keygate_test_channel").has_value());
  CHECK(eventually([&] { return signals.load() > before; }));
  before = signals.load();
  REQUIRE(notifier->exec("NOTIFY other_channel").has_value());  // not its channel
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(signals.load() == before);

  // The server ends its session: it reconnects at once, says so, and LISTENs again.
  terminate_backends(target, "keygate-test-listener");
  CHECK(eventually([&] { return listener.connections() == 2 && listener.connected(); }));
  CHECK(signals.load() > before);
  before = signals.load();
  REQUIRE(notifier->exec("NOTIFY keygate_test_channel").has_value());
  CHECK(eventually([&] { return signals.load() > before; }));

  // Stopping does not wait for the next notification.
  const auto stopping = std::chrono::steady_clock::now();
  started->reset();
  CHECK(std::chrono::steady_clock::now() - stopping < std::chrono::milliseconds(500));
}

TEST_CASE("a listener stops at once while a server does not answer its connection",
          "[postgres_sql]") {
  // Guards against a stop (SIGTERM) held for the whole connect timeout (10 s) while the server
  // accepts TCP connections but says nothing: an overloaded or half-dead PostgreSQL. A loopback
  // socket that listens and never answers plays it: the kernel completes the handshake.
  const int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(silent >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(silent, 8) == 0);
  REQUIRE(::getsockname(silent, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string target =
      "postgresql://keygate@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) +
      "/keygate?sslmode=disable&connect_timeout=30";
  auto started = pg::Listener::start(target, "keygate_test_silent", [] {});
  REQUIRE(started.has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // well inside its connect
  CHECK_FALSE((*started)->connected());
  const auto stopping = std::chrono::steady_clock::now();
  started->reset();
  CHECK(std::chrono::steady_clock::now() - stopping < std::chrono::milliseconds(500));
  ::close(silent);
}

TEST_CASE("a NOTIFY channel must be a plain identifier", "[postgres_sql]") {
  for (const char* bad : {"", "1abc", "a;DROP TABLE x", "a b", "\"quoted\""}) {
    auto l = pg::Listener::start("postgresql:///nowhere", bad, [] {});
    CHECK_FALSE(l.has_value());
  }
}
