// The usage writer: rows leave the caller's thread through a bounded queue and reach SQLite in
// batches; a full queue drops (and counts) instead of blocking; stop() stores every queued row.

#include <catch2/catch.hpp>

#include <thread>

#include "keystore/sqlite.hpp"
#include "keystore/usage_writer.hpp"
#include "test_support.hpp"

using namespace keygate;
using namespace std::chrono_literals;

namespace {

UsageRow row(int i) {
  UsageRow r;
  r.request_id = "req_" + std::to_string(i);
  r.started_at_ms = 1'767'225'600'000 + i;  // 2026-01-01T00:00:00Z
  r.user_id = "usr_a";
  r.provider = "openai";
  r.model_served = "gpt-4o-mini";
  r.key_source = "system";
  r.prompt_tokens = 5;
  r.completion_tokens = 7;
  r.usage_known = "reported";
  r.cost_usd = 0.5;
  r.latency_ms = i;
  r.outcome = "ok";
  return r;
}

int64_t count_rows(const std::string& path, const std::string& where = "1") {
  auto db = sqlite::Database::open(path);
  REQUIRE(db.has_value());
  auto s = db->prepare("SELECT count(*) FROM usage WHERE " + where);
  REQUIRE(s.has_value());
  REQUIRE(s->step().value());
  return s->column_int(0);
}

}  // namespace

TEST_CASE("rows are written in batches of at most max_batch, all of them", "[usage_writer]") {
  // Guards against: a writer that commits one transaction per row (slow) or loses rows that
  // arrive while a batch commits.
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  UsageWriterOptions options;
  options.max_batch = 100;
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());
  for (int i = 0; i < 5000; ++i) {
    REQUIRE((*writer)->enqueue(row(i)));
  }
  (*writer)->flush();
  CHECK((*writer)->written() == 5000);
  CHECK((*writer)->dropped() == 0);
  CHECK((*writer)->largest_batch() <= 100);
  CHECK((*writer)->batches() >= 50);
  CHECK((*writer)->batches() < 5000);  // batched: fewer transactions than rows
  CHECK(count_rows(path) == 5000);
  CHECK(count_rows(path,
                   "day = '2026-01-01' AND prompt_tokens = 5 AND completion_tokens = 7 "
                   "AND usage_known = 'reported' AND cost_usd = 0.5 AND agent IS NULL") == 5000);
}

TEST_CASE("a writer that keeps up writes in short slices and pauses between them",
          "[usage_writer]") {
  // Guards against: a writer that holds the CPU for a whole batch. On a saturated core that stalls
  // the I/O thread for a scheduler tick, which every request's p99 shows. Pausing must not lose
  // or duplicate a row at slice boundaries.
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  UsageWriterOptions options;
  options.max_delay = 200ms;   // let the whole burst queue up, so it is one batch
  options.slice = 1us;         // the smallest slice: 16 rows, then a pause
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());
  for (int i = 0; i < 1000; ++i) {
    REQUIRE((*writer)->enqueue(row(i)));
  }
  (*writer)->flush();
  CHECK((*writer)->written() == 1000);
  CHECK((*writer)->failed() == 0);
  CHECK((*writer)->paced_sleeps() >= 1000 / 16 - 1);
  CHECK(count_rows(path) == 1000);
  CHECK(count_rows(path, "latency_ms BETWEEN 0 AND 999") == 1000);
}

TEST_CASE("a writer that falls behind does not pause", "[usage_writer]") {
  // Guards against: pacing that outlives the backlog. With the queue at a quarter of its capacity
  // or more, losing rows to a full queue is worse than latency, so the writer runs flat out.
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  UsageWriterOptions options;
  options.capacity = 4000;
  options.max_batch = 100;
  options.max_delay = 200ms;
  options.slice = 1us;
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());
  for (int i = 0; i < 4000; ++i) {
    REQUIRE((*writer)->enqueue(row(i)));
  }
  // The first batch of 100 leaves 3900 queued (far above 1000): no pause until the backlog is
  // under a quarter; then pauses resume.
  (*writer)->flush();
  CHECK((*writer)->written() == 4000);
  CHECK(count_rows(path) == 4000);
  CHECK((*writer)->paced_sleeps() < 4000 / 16 * 3 / 4);
}

TEST_CASE("pacing off: slice 0 writes each batch in one transaction", "[usage_writer]") {
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  UsageWriterOptions options;
  options.slice = 0us;
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());
  for (int i = 0; i < 500; ++i) {
    REQUIRE((*writer)->enqueue(row(i)));
  }
  (*writer)->flush();
  CHECK((*writer)->written() == 500);
  CHECK((*writer)->paced_sleeps() == 0);
  CHECK(count_rows(path) == 500);
}

TEST_CASE("a lone row reaches the database without a flush", "[usage_writer]") {
  // Guards against: rows that wait for a full batch (lost on SIGKILL when traffic is low).
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  auto writer = UsageWriter::open(path);
  REQUIRE(writer.has_value());
  REQUIRE((*writer)->enqueue(row(1)));
  int64_t n = 0;
  for (int i = 0; i < 200 && n == 0; ++i) {
    std::this_thread::sleep_for(10ms);
    n = count_rows(path);
  }
  CHECK(n == 1);
}

TEST_CASE("a full queue drops rows without blocking and counts them", "[usage_writer]") {
  // Guards against: record() blocking an I/O thread when the disk falls behind.
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  UsageWriterOptions options;
  options.capacity = 4;
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());

  // Another connection holds the write lock: the writer blocks inside its first batch.
  auto blocker = sqlite::Database::open(path);
  REQUIRE(blocker.has_value());
  REQUIRE(blocker->exec("BEGIN IMMEDIATE").has_value());
  REQUIRE((*writer)->enqueue(row(0)));
  for (int i = 0; i < 200 && (*writer)->queue_depth() > 0; ++i) {
    std::this_thread::sleep_for(5ms);  // until the writer took row 0 and waits for the lock
  }
  REQUIRE((*writer)->queue_depth() == 0);

  auto started = std::chrono::steady_clock::now();
  int accepted = 0;
  for (int i = 1; i <= 10; ++i) {
    accepted += (*writer)->enqueue(row(i)) ? 1 : 0;
  }
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(accepted == 4);
  CHECK((*writer)->dropped() == 6);
  CHECK((*writer)->queue_depth() == 4);
  CHECK(took < 1s);  // enqueue returned at once although the database is locked

  REQUIRE(blocker->exec("COMMIT").has_value());
  (*writer)->flush();
  CHECK(count_rows(path) == 5);
  CHECK((*writer)->written() == 5);
}

TEST_CASE("stop() stores every queued row before it returns", "[usage_writer]") {
  // Guards against: a shutdown that ends the writer thread with rows still queued.
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  {
    auto writer = UsageWriter::open(path);
    REQUIRE(writer.has_value());
    for (int i = 0; i < 3000; ++i) {
      REQUIRE((*writer)->enqueue(row(i)));
    }
    (*writer)->stop();
    CHECK_FALSE((*writer)->enqueue(row(9999)));  // after stop: dropped, counted
    CHECK((*writer)->dropped() == 1);
  }
  CHECK(count_rows(path) == 3000);
}

TEST_CASE("two rows with one request id are both kept (fallback attempts)", "[usage_writer]") {
  // Guards against: the original primary key on request_id, which made the whole batch of a
  // request that fell back to a second provider fail.
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  auto writer = UsageWriter::open(path);
  REQUIRE(writer.has_value());
  auto a = row(1);
  auto b = row(2);
  b.request_id = a.request_id;
  b.provider = "anthropic";
  REQUIRE((*writer)->enqueue(a));
  REQUIRE((*writer)->enqueue(b));
  (*writer)->flush();
  CHECK((*writer)->failed() == 0);
  CHECK(count_rows(path, "request_id = 'req_1'") == 2);
}
