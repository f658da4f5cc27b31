// The usage writer: rows leave the caller's thread through a bounded queue and reach SQLite in
// batches; a full queue drops (and counts) instead of blocking; stop() stores every queued row.

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

int64_t count_rows(const std::string& path, const std::string& where = "1=1") {
  auto db = db::Database::open(path);
  REQUIRE(db.has_value());
  auto s = db->prepare("SELECT count(*) FROM usage WHERE " + where);
  REQUIRE(s.has_value());
  REQUIRE(s->step().value());
  return s->column_int(0);
}

// Writes `rows` rows through a writer with `options` into a fresh keystore, checks that all were
// stored, and returns how many times the writer paused.
uint64_t pauses_writing(int rows, const UsageWriterOptions& options) {
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());
  for (int i = 0; i < rows; ++i) {
    REQUIRE((*writer)->enqueue(row(i)));
  }
  (*writer)->flush();
  CHECK((*writer)->written() == static_cast<uint64_t>(rows));
  CHECK(count_rows(path) == rows);
  return (*writer)->paced_sleeps();
}

}  // namespace

TEST_CASE("rows are written in batches of at most max_batch, all of them",
          "[usage_writer][store]") {
  // Guards against: a writer that commits one transaction per row (slow) or loses rows that
  // arrive while a batch commits.
  testing::TempDir dir;
  auto path = testing::store_target(dir.file("k.db"));
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
  // or duplicate a row at slice boundaries. And against a commit per slice: each commit writes
  // every page its rows touched to the WAL again (strace: 0.58 pwrite calls per request, 0.28
  // with one commit per batch), so the batch stays one transaction through its pauses, and a
  // reader sees none of it or all of it.
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  UsageWriterOptions options;
  options.max_delay = 200ms;  // let the whole burst queue up, so it is one batch
  options.slice = 1us;        // the smallest slice: 16 rows, then a pause
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());

  std::atomic<bool> stop{false};
  std::vector<int64_t> seen;  // the counts a reader saw while the batch was written
  std::thread reader([&] {
    auto db = sqlite::Database::open(path);
    if (!db) {
      return;
    }
    auto count = db->prepare("SELECT count(*) FROM usage");
    while (count && !stop.load()) {
      if (auto row = count->step(); row && *row) {
        seen.push_back(count->column_int(0));
      }
      count->reset();
    }
  });
  for (int i = 0; i < 1000; ++i) {
    REQUIRE((*writer)->enqueue(row(i)));
  }
  (*writer)->flush();
  stop = true;
  reader.join();
  CHECK((*writer)->written() == 1000);
  CHECK((*writer)->failed() == 0);
  CHECK((*writer)->paced_sleeps() >= 1000 / 16 - 1);
  CHECK(count_rows(path) == 1000);
  CHECK(count_rows(path, "latency_ms BETWEEN 0 AND 999") == 1000);
  REQUIRE_FALSE(seen.empty());
  for (int64_t n : std::set<int64_t>(seen.begin(), seen.end())) {
    INFO("a reader saw " << n << " rows");
    CHECK((n == 0 || n == 1000));
  }
}

TEST_CASE("a writer pauses less often while the I/O threads have several requests in hand",
          "[usage_writer]") {
  // Guards against: the busy slice not reaching the writer's pacer, or sticking to it. The same
  // 1,000 rows, in one batch with a 1 us quiet slice (a pause every 16 rows): while `busy` says
  // so, the slice is an hour and no pause comes; while it says not, every statement pauses.
  auto sleeps_writing_1000 = [](bool busy) {
    UsageWriterOptions options;
    options.max_delay = 200ms;
    options.slice = 1us;
    options.busy_slice = std::chrono::hours(1);
    options.busy = [busy] { return busy; };
    return pauses_writing(1000, options);
  };
  CHECK(sleeps_writing_1000(true) == 0);
  CHECK(sleeps_writing_1000(false) >= 1000 / 16 - 1);
}

TEST_CASE("a writer that falls behind does not pause", "[usage_writer]") {
  // Guards against: pacing that outlives the backlog. With the queue at a quarter of its capacity
  // or more, losing rows to a full queue is worse than latency, so the writer runs flat out.
  // The same 4,000 rows are written twice, in batches of 100 with a 1 us slice (every pause
  // point pauses): by a writer with room for 100,000 rows, which always keeps up, and by one
  // with room for 4,000, which is behind until fewer than 1,000 wait.
  auto sleeps_writing_4000 = [](std::size_t capacity) {
    UsageWriterOptions options;
    options.capacity = capacity;
    options.max_batch = 100;
    options.max_delay = 200ms;
    options.slice = 1us;
    return pauses_writing(4000, options);
  };
  const uint64_t keeping_up = sleeps_writing_4000(100'000);
  const uint64_t behind = sleeps_writing_4000(4000);
  INFO("sleeps keeping up " << keeping_up << ", behind at first " << behind);
  CHECK(keeping_up >= 4000 / 16);
  CHECK(behind < keeping_up / 2);  // about a quarter of the rows were written while keeping up
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

TEST_CASE("a lone row reaches the database without a flush", "[usage_writer][store]") {
  // Guards against: rows that wait for a full batch (lost on SIGKILL when traffic is low).
  testing::TempDir dir;
  auto path = testing::store_target(dir.file("k.db"));
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

TEST_CASE("stop() stores every queued row before it returns", "[usage_writer][store]") {
  // Guards against: a shutdown that ends the writer thread with rows still queued.
  testing::TempDir dir;
  auto path = testing::store_target(dir.file("k.db"));
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

TEST_CASE("two rows with one request id are both kept (fallback attempts)",
          "[usage_writer][store]") {
  // Guards against: the original primary key on request_id, which made the whole batch of a
  // request that fell back to a second provider fail.
  testing::TempDir dir;
  auto path = testing::store_target(dir.file("k.db"));
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

namespace {

// A row whose every column depends on `i`, with each optional column empty / absent for some i.
UsageRow varied_row(int i) {
  UsageRow r;
  r.request_id = "req_" + std::to_string(1000 + i);
  r.started_at_ms = 1'767'225'600'000 + i * 1000;
  r.user_id = i % 7 == 6 ? "" : "usr_" + std::to_string(i % 3);
  r.token_id = i % 5 == 4 ? "" : "tok_" + std::to_string(i);
  r.agent = i % 2 == 0 ? "" : "agent-" + std::to_string(i);
  r.provider = i % 3 == 0 ? "anthropic" : "openai";
  r.model_requested = i % 4 == 3 ? "" : "alias-" + std::to_string(i);
  r.model_served = "model-" + std::to_string(i);
  r.key_source = i % 2 == 0 ? "user" : "system";
  r.key_id = i % 3 == 2 ? "" : "key_" + std::to_string(i);
  r.prompt_tokens = i;
  r.completion_tokens = 2 * i;
  r.cached_tokens = i % 4;
  r.reasoning_tokens = i % 5;
  r.cache_write_tokens = i % 6;
  r.web_search_requests = i % 7;
  r.usage_known = i % 3 == 0 ? "unknown" : (i % 3 == 1 ? "reported" : "estimated");
  if (i % 4 != 0) {
    r.cost_usd = i / 1000.0;
  }
  r.latency_ms = 10 + i;
  if (i % 5 != 0) {
    r.ttft_ms = i;
  }
  r.upstream_status = i % 6 == 0 ? 429 : 200;
  r.stream = i % 2 == 1;
  r.outcome = i % 6 == 0 ? "" : "ok";
  return r;
}

// Every stored row of `path`, keyed by request_id, each as the text of its columns ("NULL" for
// NULL), so a comparison names the column that differs.
std::map<std::string, std::vector<std::string>> stored_rows(const std::string& path,
                                                            int64_t* duplicates) {
  auto db = db::Database::open(path);
  REQUIRE(db.has_value());
  auto s = db->prepare(
      "SELECT request_id, started_at_ms, user_id, token_id, agent, provider, model_requested, "
      "model_served, key_source, key_id, prompt_tokens, completion_tokens, cached_tokens, "
      "reasoning_tokens, usage_known, cost_usd, latency_ms, ttft_ms, upstream_status, stream, "
      "outcome, day, cache_write_tokens, web_search_requests FROM usage");
  REQUIRE(s.has_value());
  std::map<std::string, std::vector<std::string>> rows;
  *duplicates = 0;
  while (s->step().value()) {
    std::vector<std::string> cols;
    for (int c = 0; c < 24; ++c) {
      cols.push_back(s->is_null(c) ? "NULL" : s->column_text(c));
    }
    *duplicates += rows.count(cols[0]) ? 1 : 0;
    rows[cols[0]] = std::move(cols);
  }
  return rows;
}

std::string text_or_null(const std::string& s) {
  return s.empty() ? "NULL" : s;
}

// A REAL's text is compared as a number by the caller; "<cost>" stands for it here.
std::vector<std::string> expected_columns(const UsageRow& r, const std::string& day) {
  const std::string cost = r.cost_usd ? "<cost>" : "NULL";
  return {r.request_id,
          std::to_string(r.started_at_ms),
          text_or_null(r.user_id),
          text_or_null(r.token_id),
          text_or_null(r.agent),
          text_or_null(r.provider),
          text_or_null(r.model_requested),
          text_or_null(r.model_served),
          text_or_null(r.key_source),
          text_or_null(r.key_id),
          std::to_string(r.prompt_tokens),
          std::to_string(r.completion_tokens),
          std::to_string(r.cached_tokens),
          std::to_string(r.reasoning_tokens),
          r.usage_known,
          cost,
          std::to_string(r.latency_ms),
          r.ttft_ms ? std::to_string(*r.ttft_ms) : "NULL",
          std::to_string(r.upstream_status),
          r.stream ? "1" : "0",
          text_or_null(r.outcome),
          day,
          std::to_string(r.cache_write_tokens),
          std::to_string(r.web_search_requests)};
}

}  // namespace

TEST_CASE("batches of any size store every row once with its own values", "[usage_writer][store]") {
  // Guards against: the multi-row INSERT (16 rows a statement, the rest one by one) binding a
  // row's values into another row's slot, skipping or repeating rows at the 16-row boundaries or
  // at slice ends, storing "" where NULL means none, or a cost where none is known.
  for (const auto slice : {0us, 1us}) {
    testing::TempDir dir;
    auto path = testing::store_target(dir.file("k.db"));
    testing::open_keystore(path);
    UsageWriterOptions options;
    options.max_delay = 200ms;  // each burst below is one batch
    options.slice = slice;
    auto writer = UsageWriter::open(path, options);
    REQUIRE(writer.has_value());
    std::vector<UsageRow> sent;
    for (const int burst : {1, 15, 16, 17, 37, 100}) {
      for (int k = 0; k < burst; ++k) {
        sent.push_back(varied_row(static_cast<int>(sent.size())));
        REQUIRE((*writer)->enqueue(sent.back()));
      }
      (*writer)->flush();
    }
    INFO("slice " << slice.count() << " us");
    CHECK((*writer)->written() == sent.size());
    CHECK((*writer)->failed() == 0);
    int64_t duplicates = 0;
    const auto rows = stored_rows(path, &duplicates);
    CHECK(duplicates == 0);
    REQUIRE(rows.size() == sent.size());
    for (const UsageRow& r : sent) {
      INFO(r.request_id);
      REQUIRE(rows.count(r.request_id) == 1);
      std::vector<std::string> want = expected_columns(r, "2026-01-01");
      std::vector<std::string> got = rows.at(r.request_id);
      if (r.cost_usd && got[15] != "NULL") {
        CHECK(std::stod(got[15]) == *r.cost_usd);
        got[15] = "<cost>";
      }
      CHECK(got == want);
    }
  }
}

TEST_CASE("each row's day is the UTC day it started, also across midnight in one statement",
          "[usage_writer][store]") {
  // Guards against: the day cache reusing one day for a whole statement (rows around midnight
  // would land on the wrong day in reports), and against truncating division before 1970.
  testing::TempDir dir;
  auto path = testing::store_target(dir.file("k.db"));
  testing::open_keystore(path);
  UsageWriterOptions options;
  options.max_delay = 200ms;
  options.slice = 0us;
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());
  const int64_t midnight = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  std::vector<std::pair<UsageRow, std::string>> sent;
  for (int i = 0; i < 40; ++i) {  // two 16-row statements and 8 single rows, days alternating
    UsageRow r = row(i);
    const bool before = i % 2 == 0;
    r.started_at_ms = before ? midnight - 1 - i : midnight + i;
    sent.emplace_back(r, before ? "2025-12-31" : "2026-01-01");
  }
  sent[37].first.started_at_ms = -1;  // 1969-12-31T23:59:59.999Z
  sent[37].second = "1969-12-31";
  sent[38].first.started_at_ms = 0;
  sent[38].second = "1970-01-01";
  for (const auto& [r, day] : sent) {
    REQUIRE((*writer)->enqueue(r));
  }
  (*writer)->flush();
  int64_t duplicates = 0;
  const auto rows = stored_rows(path, &duplicates);
  REQUIRE(rows.size() == sent.size());
  for (const auto& [r, day] : sent) {
    INFO(r.request_id << " started at " << r.started_at_ms);
    CHECK(rows.at(r.request_id)[21] == day);
  }
}

TEST_CASE("a row with an invalid usage_known fails alone, not its batch", "[usage_writer]") {
  // Guards against: the writer's connection skipping the table's CHECK (for speed) and storing a
  // usage_known the reports do not know; and against one such row costing the rows around it
  // (before, the CHECK failure rolled back the rest of the batch).
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  UsageWriterOptions options;
  options.max_delay = 200ms;
  std::size_t reported_rows = 0;
  std::string reported_message;
  options.on_write_error = [&](const Error& e, std::size_t rows) {
    reported_rows += rows;
    reported_message = e.message;
  };
  auto writer = UsageWriter::open(path, options);
  REQUIRE(writer.has_value());
  for (int i = 0; i < 40; ++i) {
    UsageRow r = row(i);
    if (i == 20) {
      r.usage_known = "guessed";
    }
    if (i == 33) {
      r.usage_known = "";
    }
    REQUIRE((*writer)->enqueue(r));
  }
  (*writer)->flush();
  CHECK((*writer)->written() == 38);
  CHECK((*writer)->failed() == 2);
  CHECK(reported_rows == 2);
  CHECK(reported_message.find("usage_known") != std::string::npos);
  CHECK(count_rows(path) == 38);
  CHECK(count_rows(path, "request_id IN ('req_20', 'req_33')") == 0);
}

TEST_CASE("the writer's usage_known rule is the table's CHECK", "[usage_writer]") {
  // Guards against: a migration that changes the usage table's CHECK constraints while the
  // writer (whose connection does not evaluate them) keeps enforcing the old rule. If this fails,
  // update usage_known_valid() in keystore/usage_writer.cpp with the new rule.
  testing::TempDir dir;
  auto path = dir.file("k.db");
  testing::open_keystore(path);
  auto db = sqlite::Database::open(path);
  REQUIRE(db.has_value());
  std::string table;
  {
    auto sql = db->prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'usage'");
    REQUIRE(sql.has_value());
    REQUIRE(sql->step().value());
    table = sql->column_text(0);
  }  // finalized: an open read would pin this connection to an old snapshot
  std::size_t checks = 0;
  for (auto at = table.find("CHECK"); at != std::string::npos; at = table.find("CHECK", at + 1)) {
    ++checks;
  }
  CHECK(checks == 1);
  CHECK(table.find("CHECK (usage_known IN ('reported', 'estimated', 'unknown'))") !=
        std::string::npos);

  // The same values through SQLite with checks on, and through the writer.
  auto writer = UsageWriter::open(path);
  REQUIRE(writer.has_value());
  auto insert = db->prepare(
      "INSERT INTO usage (request_id, started_at_ms, usage_known, day) "
      "VALUES ('direct', 0, ?, '1970-01-01')");
  REQUIRE(insert.has_value());
  int i = 0;
  for (const char* value : {"reported", "estimated", "unknown", "guessed", "", "Reported"}) {
    INFO(value);
    insert->reset();
    insert->bind(1, std::string(value));
    const bool sqlite_accepts = insert->run().has_value();
    UsageRow r = row(i++);
    r.usage_known = value;
    const uint64_t failed_before = (*writer)->failed();
    REQUIRE((*writer)->enqueue(r));
    (*writer)->flush();
    CHECK(((*writer)->failed() == failed_before) == sqlite_accepts);
  }
}
