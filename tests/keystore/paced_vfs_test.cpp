// The paced VFS and the WorkPacer: a connection opened through the VFS reads and writes an
// ordinary SQLite database (WAL, checkpoints, a second connection on the default VFS), and its
// file writes are pause points for the writing thread's pacer, when that thread has one.

#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "keystore/paced_vfs.hpp"
#include "keystore/sqlite.hpp"
#include "keystore/work_pacer.hpp"
#include "test_support.hpp"

using namespace keygate;
using namespace std::chrono_literals;

namespace {

int64_t scalar(sqlite::Database& db, const std::string& sql) {
  auto s = db.prepare(sql);
  REQUIRE(s.has_value());
  REQUIRE(s->step().value());
  return s->column_int(0);
}

// `rows` rows of `bytes` bytes in one transaction, through `db`: no pause point of our own.
void insert_rows(sqlite::Database& db, int rows, std::size_t bytes) {
  REQUIRE(db.exec("BEGIN"));
  auto insert = db.prepare("INSERT INTO t (v) VALUES (?1)");
  REQUIRE(insert.has_value());
  for (int i = 0; i < rows; ++i) {
    REQUIRE(insert->bind(1, std::to_string(i) + std::string(bytes, 'x')).run());
    insert->reset();
  }
  REQUIRE(db.exec("COMMIT"));
}

// Stops the calling thread's pacer when a test ends, passed or not.
struct PacerGuard {
  ~PacerGuard() { WorkPacer::this_thread().stop(); }
};

}  // namespace

TEST_CASE("a database written through the paced VFS is an ordinary SQLite file", "[paced_vfs]") {
  // Guards against: a shim that drops or misroutes a method (a WAL that another connection cannot
  // read, a checkpoint that never reaches the database file, a file that does not close).
  const char* vfs = sqlite::paced_vfs_name();
  REQUIRE(vfs != nullptr);
  CHECK(std::string(vfs) == "keygate-paced");

  testing::TempDir dir;
  const std::string path = dir.file("p.db");
  {
    auto db = sqlite::Database::open(path, vfs);
    REQUIRE(db.has_value());
    REQUIRE(db->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"));
    insert_rows(*db, 2000, 200);  // about 100 pages

    // Another connection, on the default VFS, sees the committed rows through the WAL.
    auto other = sqlite::Database::open(path);
    REQUIRE(other.has_value());
    CHECK(scalar(*other, "SELECT count(*) FROM t") == 2000);

    // A full checkpoint copies every page into the database file and empties the WAL.
    REQUIRE(db->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  // Both connections closed: the database file alone holds everything.
  auto reopened = sqlite::Database::open(path);
  REQUIRE(reopened.has_value());
  CHECK(scalar(*reopened, "SELECT count(*) FROM t") == 2000);
  auto last = reopened->prepare("SELECT count(*) FROM t WHERE id = 2000 AND v = ?1");
  REQUIRE(last.has_value());
  REQUIRE(last->bind(1, "1999" + std::string(200, 'x')).step().value());
  CHECK(last->column_int(0) == 1);
  auto check = reopened->prepare("PRAGMA integrity_check");
  REQUIRE(check.has_value());
  REQUIRE(check->step().value());
  CHECK(check->column_text(0) == "ok");
}

TEST_CASE("file writes through the paced VFS are pause points for the thread's pacer",
          "[paced_vfs]") {
  // Guards against: a commit or checkpoint that holds the core for milliseconds (it makes no
  // pause point of its own), and against pauses on threads that never asked for them.
  PacerGuard guard;
  WorkPacer& pacer = WorkPacer::this_thread();
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("p.db"), sqlite::paced_vfs_name());
  REQUIRE(db.has_value());
  REQUIRE(db->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"));

  uint64_t before = pacer.sleeps();
  insert_rows(*db, 200, 1000);  // no pacer: no pause
  CHECK(pacer.sleeps() == before);

  // A 1 us slice is over by the next write: 200 KB are 50 pages, each a WAL write.
  pacer.start(1us, [] { return true; });
  insert_rows(*db, 200, 1000);
  CHECK(pacer.sleeps() - before >= 50);

  // A thread that is behind keeps its pacer but does not sleep.
  before = pacer.sleeps();
  pacer.start(1us, [] { return false; });
  insert_rows(*db, 200, 1000);
  CHECK(pacer.sleeps() == before);

  pacer.stop();
  insert_rows(*db, 200, 1000);
  CHECK(pacer.sleeps() == before);
}

TEST_CASE("a failed open through the paced VFS is an error, not a crash", "[paced_vfs]") {
  // Guards against: a shim file whose methods are set although the real open failed (SQLite
  // would then close a file that was never opened).
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("missing-dir/p.db"), sqlite::paced_vfs_name());
  CHECK_FALSE(db.has_value());
}

TEST_CASE("a pacer sleeps only once a slice is over, and at most two slices", "[paced_vfs]") {
  // Guards against: a pause on every tick (the writer would crawl), and a sleep twice as long as
  // a slice that ran long (a wait for the disk, or the thread descheduled for 50 ms, would put
  // the writer to sleep for 100 ms).
  PacerGuard guard;
  WorkPacer& pacer = WorkPacer::this_thread();
  const uint64_t before = pacer.sleeps();  // the pacer is the thread's: earlier tests count too
  pacer.start(1h, [] { return true; });
  pacer.tick();
  pacer.tick();
  CHECK(pacer.sleeps() == before);  // an hour has not passed

  pacer.start(1ms, [] { return true; });
  std::this_thread::sleep_for(50ms);  // a slice that ran 50 times too long
  const auto started = WorkPacer::Clock::now();
  pacer.tick();
  const auto slept = WorkPacer::Clock::now() - started;
  CHECK(pacer.sleeps() == before + 1);
  CHECK(slept >= 2ms);
  CHECK(slept < 50ms);  // two slices (2 ms) and scheduling slack, not 100 ms

  // restart() starts a new slice: what came before it does not count.
  pacer.start(20ms, [] { return true; });
  std::this_thread::sleep_for(30ms);
  pacer.restart();
  pacer.tick();
  CHECK(pacer.sleeps() == before + 1);
}

TEST_CASE("a pacer's slice is the busy one while busy says so at the slice's start",
          "[paced_vfs]") {
  // Guards against: the busy slice applied for good once seen (a burst would leave the writer
  // pausing rarely at low load, where a pause is what keeps a lone request's wait short), or
  // asked on every tick (a call per SQLite page write).
  PacerGuard guard;
  WorkPacer& pacer = WorkPacer::this_thread();
  const uint64_t before = pacer.sleeps();
  bool busy = true;
  int asked = 0;
  pacer.start(1ms, [] { return true; });
  CHECK(pacer.current_slice() == 1ms);
  pacer.lengthen_while(
      [&] {
        ++asked;
        return busy;
      },
      std::chrono::hours(1));
  CHECK(pacer.current_slice() == std::chrono::hours(1));
  std::this_thread::sleep_for(5ms);  // longer than the quiet slice
  for (int i = 0; i < 100; ++i) {
    pacer.tick();
  }
  CHECK(pacer.sleeps() == before);  // the busy slice is not over
  CHECK(asked == 1);                // asked at the slice's start only

  busy = false;
  pacer.restart();  // a new slice: quiet now
  CHECK(pacer.current_slice() == 1ms);
  std::this_thread::sleep_for(5ms);
  pacer.tick();
  CHECK(pacer.sleeps() == before + 1);
  CHECK(asked == 3);  // at restart(), and at the slice that began after the pause

  // start() forgets the busy test.
  pacer.start(1ms, [] { return true; });
  CHECK(pacer.current_slice() == 1ms);
  CHECK(asked == 3);
}

TEST_CASE("writes through the paced VFS start their write-back every 256 KB, before the sync",
          "[paced_vfs]") {
  // Guards against: an fsync that hands the kernel a whole checkpoint's pages in one system call
  // (0.5-0.9 ms of the writer holding the core), and against the descriptor guess failing
  // silently (SQLite's unix file layout changing): then no write-back would ever start early.
  testing::TempDir dir;
  auto db = sqlite::Database::open(dir.file("p.db"), sqlite::paced_vfs_name());
  REQUIRE(db.has_value());
  REQUIRE(db->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"));

  const uint64_t before = sqlite::paced_vfs_writeback_starts();
  insert_rows(*db, 10, 100);  // a few KB: below the threshold
  CHECK(sqlite::paced_vfs_writeback_starts() == before);

  // About 1 MB of rows: 3 starts or more in the WAL; the checkpoint copies about as much into
  // the database file, 3 or more again.
  insert_rows(*db, 1000, 1000);
  const uint64_t after_commit = sqlite::paced_vfs_writeback_starts();
  CHECK(after_commit - before >= 3);
  REQUIRE(db->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  CHECK(sqlite::paced_vfs_writeback_starts() - after_commit >= 3);

  // The data is what was written (the early write-back changes no byte).
  CHECK(scalar(*db, "SELECT count(*) FROM t") == 1010);
  auto check = db->prepare("PRAGMA integrity_check");
  REQUIRE(check.has_value());
  REQUIRE(check->step().value());
  CHECK(check->column_text(0) == "ok");

  // A connection on the default VFS starts none.
  auto plain = sqlite::Database::open(dir.file("plain.db"));
  REQUIRE(plain.has_value());
  REQUIRE(plain->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"));
  const uint64_t before_plain = sqlite::paced_vfs_writeback_starts();
  insert_rows(*plain, 1000, 1000);
  CHECK(sqlite::paced_vfs_writeback_starts() == before_plain);
}

TEST_CASE("destroy_in_steps empties a vector a step at a time, a pause point after each",
          "[paced_vfs]") {
  // Guards against: freeing a whole batch of usage rows in one stretch (0.13-0.3 ms under load,
  // past the writer's slice), and against a step of 0 looping forever.
  PacerGuard guard;
  WorkPacer& pacer = WorkPacer::this_thread();
  struct Slow {  // each destruction takes longer than the 1 us slice: every tick pauses
    ~Slow() { std::this_thread::sleep_for(2us); }
  };
  std::vector<Slow> items(640);
  pacer.start(1us, [] { return true; });
  uint64_t before = pacer.sleeps();
  destroy_in_steps(items, 64);
  CHECK(items.empty());
  CHECK(pacer.sleeps() - before == 10);

  items.resize(5);
  before = pacer.sleeps();
  destroy_in_steps(items, 0);  // 0: all at once, one pause point
  CHECK(items.empty());
  CHECK(pacer.sleeps() - before == 1);

  pacer.stop();
  items.resize(100);
  before = pacer.sleeps();
  destroy_in_steps(items, 10);  // no pacer: no pause
  CHECK(items.empty());
  CHECK(pacer.sleeps() == before);
}
