#include "keystore/usage_writer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <span>
#include <string_view>
#include <vector>

#include "keystore/database.hpp"
#include "keystore/paced_vfs.hpp"
#include "keystore/sqlite.hpp"
#include "keystore/work_pacer.hpp"
#include "schema/time.hpp"
#include "schema/try.hpp"

namespace keygate {

namespace {

// OR FAIL rather than the default ABORT: a statement that may abort half-way through several
// rows makes SQLite keep a statement journal (a copy of each page before the statement first
// changes it, to undo just that statement), about 2.3k instructions a row in a 16-row insert.
// Here a failed statement fails its whole transaction anyway (write() returns and the
// Transaction rolls back), so undoing the statement alone is never needed.
constexpr std::string_view kInsertVerb = "INSERT OR FAIL INTO";  // PostgreSQL: "INSERT INTO"
constexpr std::string_view kInsertHead =
    R"sql( usage (request_id, started_at_ms, user_id, token_id, agent, provider, model_requested,
                   model_served, key_source, key_id, prompt_tokens, completion_tokens,
                   cached_tokens, reasoning_tokens, usage_known, cost_usd, latency_ms, ttft_ms,
                   upstream_status, stream, outcome, day, cache_write_tokens,
                   web_search_requests)
VALUES )sql";
constexpr int kColumns = 24;

// Rows per multi-row INSERT. One statement execution per row cost more than the row itself:
// each execution opens and closes the table and index cursors and sets up and halts the VM.
// Batches are written 16 rows a statement, and the remainder (< 16) one row a statement. 16 is
// also how often the slice deadline is checked, so pacing is unchanged; 32 or 64 rows a statement
// saved only ~5% more instructions. 16 x 24 = 384 parameters, far below SQLITE_MAX_VARIABLE_NUMBER.
constexpr std::size_t kRowsPerInsert = 16;

constexpr int kWriteAttempts = 3;  // a busy database gets 3 x the 5 s busy timeout, then rows go

// "INSERT ... VALUES (?1, ..., ?24), (?25, ...)" for `rows` rows.
std::string insert_sql(std::size_t rows, std::string_view verb = kInsertVerb) {
  std::string sql = std::string(verb) + std::string(kInsertHead);
  int n = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ",\n(";
    for (int c = 0; c < kColumns; ++c) {
      sql += c == 0 ? "?" : ", ?";
      sql += std::to_string(++n);
    }
    sql += ')';
  }
  return sql;
}

// The usage table's CHECK on usage_known (schema/migrations.cpp, kUsagePerCall), which the
// writer's connection does not evaluate (see open()). Keep the two in step: a test compares them.
bool usage_known_valid(std::string_view v) {
  return v == "reported" || v == "estimated" || v == "unknown";
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

constexpr int64_t kMsPerDay = 86'400'000;

// Binds row `r` as the `slot`-th row of `s` (a SQLite or a PostgreSQL statement), every one of
// its 24 parameters. SQLite binds the text without a copy: the rows and `day` outlive the
// statement's run, and every run binds all parameters anew (write() only rewinds the statement,
// leaving the old bindings unread).
template <class Statement>
void bind_row(Statement& s, std::size_t slot, const UsageRow& r, std::string_view day) {
  const int b = static_cast<int>(slot) * kColumns;
  s.bind_static(b + 1, r.request_id)
      .bind(b + 2, r.started_at_ms)
      .bind_static_or_null(b + 3, r.user_id)
      .bind_static_or_null(b + 4, r.token_id)
      .bind_static_or_null(b + 5, r.agent)
      .bind_static_or_null(b + 6, r.provider)
      .bind_static_or_null(b + 7, r.model_requested)
      .bind_static_or_null(b + 8, r.model_served)
      .bind_static_or_null(b + 9, r.key_source)
      .bind_static_or_null(b + 10, r.key_id)
      .bind(b + 11, r.prompt_tokens)
      .bind(b + 12, r.completion_tokens)
      .bind(b + 13, r.cached_tokens)
      .bind(b + 14, r.reasoning_tokens)
      .bind_static(b + 15, r.usage_known)
      .bind(b + 17, r.latency_ms)
      .bind(b + 18, r.ttft_ms)
      .bind(b + 19, r.upstream_status)
      .bind(b + 20, r.stream ? 1 : 0)
      .bind_static_or_null(b + 21, r.outcome)
      .bind_static(b + 22, day)
      .bind(b + 23, r.cache_write_tokens)
      .bind(b + 24, r.web_search_requests);
  if (r.cost_usd) {
    s.bind(b + 16, *r.cost_usd);
  } else {
    s.bind(b + 16, nullptr);
  }
}

}  // namespace

struct UsageWriter::Impl {
  virtual ~Impl() = default;
  // Writes rows from `next` on in one transaction, and moves `next` past them once committed.
  virtual Result<void> write(std::span<const UsageRow> rows, std::size_t& next) = 0;
};

namespace {

struct SqliteUsageTable final : UsageWriter::Impl {
  SqliteUsageTable(sqlite::Database db, sqlite::Statement one, sqlite::Statement many)
      : db(std::move(db)), insert_one(std::move(one)), insert_many(std::move(many)) {}

  sqlite::Database db;
  sqlite::Statement insert_one;   // one row
  sqlite::Statement insert_many;  // kRowsPerInsert rows
  // The `day` text of the last day seen: rows of a batch nearly always share one, so format_day
  // runs once per day rather than once per row.
  int64_t cached_day = INT64_MIN;
  std::string cached_day_text;
  // The day text of each row of the statement being bound. Text is bound in place (no copy), so
  // every row needs its own buffer that lives until the statement ran (days may differ within
  // one statement around midnight UTC). 10 characters: no allocation (short string).
  std::array<std::string, kRowsPerInsert> day_text;

  std::string_view day_of(int64_t started_at_ms, std::size_t slot) {
    const int64_t day = floor_div(started_at_ms, kMsPerDay);
    if (day != cached_day) {
      cached_day_text = format_day(day * (kMsPerDay / 1000));
      cached_day = day;
    }
    day_text[slot] = cached_day_text;
    return day_text[slot];
  }

  // Writes rows from `next` on in one transaction, and moves `next` past them once committed.
  // The thread's WorkPacer may sleep between statements and inside the commit (its file writes
  // go through the paced VFS): the transaction stays open through the pauses. A commit writes
  // every page its rows touched to the WAL again, so one commit per batch rather than per slice
  // writes a fraction of the pages (the writer's CPU per row fell by about a fifth); holding the
  // write lock a few milliseconds longer only delays other writers, which are rare (keys and
  // users being managed) and wait through the busy timeout.
  Result<void> write(std::span<const UsageRow> rows, std::size_t& next) override {
    WorkPacer& pacer = WorkPacer::this_thread();
    std::size_t i = next;
    KG_TRY(tx, sqlite::transaction(db));
    while (i < rows.size()) {
      // A pause point every 16 rows (a multi-row statement): reading the clock per row would cost
      // more than it saves.
      if (i > next && (i - next) % 16 == 0) {
        pacer.tick();
      }
      const std::size_t n = rows.size() - i >= kRowsPerInsert ? kRowsPerInsert : 1;
      sqlite::Statement& s = n == 1 ? insert_one : insert_many;
      for (std::size_t j = 0; j < n; ++j) {
        bind_row(s, j, rows[i + j], day_of(rows[i + j].started_at_ms, j));
      }
      Result<void> ran = s.run();
      // Every parameter is bound again before the next run (bind_row), so the bindings are not
      // cleared: the text they point at may be freed meanwhile, but SQLite reads it only in step.
      s.rewind();
      KG_CHECK(ran);
      i += n;
    }
    KG_CHECK(tx->commit());
    next = i;
    return {};
  }
};

// PostgreSQL: a batch is one transaction of multi-row INSERTs, 100 rows (2,400 parameters) a
// statement: one round trip per 100 rows. No pacing: the server does the work, in its own
// processes. The table's CHECK stays on (run() holds back refused rows anyway).
struct PostgresUsageTable final : UsageWriter::Impl {
  static constexpr std::size_t kRowsPerStatement = 100;

  explicit PostgresUsageTable(db::Database db) : db(std::move(db)) {}

  db::Database db;
  int64_t cached_day = INT64_MIN;
  std::string cached_day_text;

  Result<void> insert(std::span<const UsageRow> rows) {
    KG_TRY(s, db.prepare(insert_sql(rows.size(), "INSERT INTO")));
    for (std::size_t slot = 0; slot < rows.size(); ++slot) {
      const UsageRow& r = rows[slot];
      const int64_t day = floor_div(r.started_at_ms, kMsPerDay);
      if (day != cached_day) {
        cached_day_text = format_day(day * (kMsPerDay / 1000));
        cached_day = day;
      }
      bind_row(*s, slot, r, cached_day_text);
    }
    return s->run();
  }

  Result<void> write(std::span<const UsageRow> rows, std::size_t& next) override {
    KG_CHECK(db.exec("BEGIN"));
    for (std::size_t i = next; i < rows.size(); i += kRowsPerStatement) {
      const auto n = std::min(kRowsPerStatement, rows.size() - i);
      if (auto r = insert(rows.subspan(i, n)); !r) {
        (void)db.exec("ROLLBACK");
        return r;
      }
    }
    if (auto c = db.exec("COMMIT"); !c) {
      (void)db.exec("ROLLBACK");
      return c;
    }
    next = rows.size();
    return {};
  }
};

Result<std::unique_ptr<UsageWriter::Impl>> open_usage_table(const std::string& db_path) {
  if (pg::is_postgres_target(db_path)) {
    KG_TRY(db, db::Database::open(db_path));
    KG_CHECK(db::apply_migrations(*db));
    return std::unique_ptr<UsageWriter::Impl>(new PostgresUsageTable(std::move(*db)));
  }
  KG_TRY(db, sqlite::Database::open(db_path, sqlite::paced_vfs_name()));
  KG_CHECK(sqlite::apply_migrations(*db));
  // The usage table's one CHECK (usage_known IN (...)) makes SQLite build, then clear, an
  // ephemeral table for every row inserted: about 40% of the writer's instructions per row. This
  // connection runs nothing but the insert below, and run() holds back every row that CHECK would
  // refuse (usage_known_valid), so the rule is enforced there instead. Migrations above ran with
  // checks on; every other connection keeps them.
  KG_CHECK(db->exec("PRAGMA ignore_check_constraints = ON"));
  // Temporary storage in memory: the insert keeps no statement journal (OR FAIL, above), but
  // were one ever needed, on disk (Debian's default) it was a temp file created, unlinked and
  // closed per transaction: 0.5-1 us of system time per row, measured.
  KG_CHECK(db->exec("PRAGMA temp_store = MEMORY"));
  KG_TRY(insert_one, db->prepare(insert_sql(1)));
  KG_TRY(insert_many, db->prepare(insert_sql(kRowsPerInsert)));
  return std::unique_ptr<UsageWriter::Impl>(
      new SqliteUsageTable(std::move(*db), std::move(*insert_one), std::move(*insert_many)));
}

}  // namespace

Result<std::unique_ptr<UsageWriter>> UsageWriter::open(const std::string& db_path,
                                                       UsageWriterOptions options) {
  KG_TRY(impl, open_usage_table(db_path));
  if (options.capacity == 0) {
    options.capacity = 1;
  }
  if (options.max_batch == 0) {
    options.max_batch = 1;
  }
  std::unique_ptr<UsageWriter> writer(new UsageWriter(std::move(*impl), std::move(options)));
  writer->thread_ = std::thread([w = writer.get()] { w->run(); });
  return writer;
}

UsageWriter::UsageWriter(std::unique_ptr<Impl> impl, UsageWriterOptions options)
    : impl_(std::move(impl)), options_(std::move(options)) {}

UsageWriter::~UsageWriter() {
  stop();
}

bool UsageWriter::enqueue(UsageRow row) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() + backlog_ >= options_.capacity) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(row));
    ++enqueued_seq_;
    // Wake the writer only when it may be asleep waiting for a first row, or when a batch is
    // full: under load it is busy writing and a wake per row would cost a syscall per request.
    wake = queue_.size() == 1 || queue_.size() == options_.max_batch;
  }
  if (wake) {
    wake_.notify_one();
  }
  return true;
}

void UsageWriter::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = enqueued_seq_;
  done_.wait(lock, [&] { return done_seq_ >= target; });
}

void UsageWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    stopping_ = true;  // the thread drains the queue before it ends
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
  done_.notify_all();
}

std::size_t UsageWriter::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + backlog_;
}

bool UsageWriter::keeping_up() const {
  std::lock_guard lock(mutex_);
  return !stopping_ && queue_.size() + backlog_ < options_.capacity / 4;
}

Result<void> UsageWriter::write_paced(std::span<const UsageRow> rows, std::size_t& written) {
  written = 0;
  WorkPacer::this_thread().restart();  // the wait for rows was not work
  Result<void> ok;
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    ok = impl_->write(rows, written);
    if (ok) {
      break;
    }
    if (ok.error().code == "database_unavailable") {
      // A PostgreSQL server restarting or a connection dropped: the next attempt reconnects.
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    } else if (ok.error().code != "database_busy") {
      break;
    }
  }
  return ok;  // when it failed, no row of the batch was stored
}

void UsageWriter::run() {
  // Twice the work just done after each slice, while the writer keeps up: the I/O threads get
  // the core back. Behind, it writes flat out (losing rows is worse than latency).
  WorkPacer& pacer = WorkPacer::this_thread();
  pacer.start(options_.slice, [this] { return keeping_up(); });
  if (options_.busy) {
    pacer.lengthen_while(options_.busy, options_.busy_slice);
  }
  // The rows taken from the queue (all of it, by a swap) and how many of them are written. They
  // are written max_batch at a time; the next swap comes once all are.
  std::vector<UsageRow> taken;
  std::size_t next = 0;
  std::vector<UsageRow> valid;  // a batch without the rows the CHECK would refuse (rare)
  std::unique_lock lock(mutex_);
  for (;;) {
    if (next == taken.size()) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        break;  // stopping, and everything is written
      }
      if (options_.max_delay.count() > 0 && !stopping_ && queue_.size() < options_.max_batch) {
        wake_.wait_for(lock, options_.max_delay,
                       [&] { return stopping_ || queue_.size() >= options_.max_batch; });
      }
      taken.swap(queue_);  // queue_ gets taken's emptied vector, and with it its capacity
      next = 0;
    }
    const std::size_t n = std::min(options_.max_batch, taken.size() - next);
    backlog_ = taken.size() - next - n;
    lock.unlock();

    std::span<const UsageRow> batch(taken.data() + next, n);
    // Rows the usage_known CHECK would refuse are not stored; they alone fail, not their batch.
    const auto is_refused = [](const UsageRow& r) { return !usage_known_valid(r.usage_known); };
    if (std::any_of(batch.begin(), batch.end(), is_refused)) {
      valid.clear();
      std::copy_if(batch.begin(), batch.end(), std::back_inserter(valid),
                   [&](const UsageRow& r) { return !is_refused(r); });
      const std::size_t refused = n - valid.size();
      batch = valid;
      failed_.fetch_add(refused, std::memory_order_relaxed);
      if (options_.on_write_error) {
        const Error e = Error::internal(
            "usage rows with a usage_known other than reported, estimated or unknown");
        options_.on_write_error(e, refused);
      }
    }
    std::size_t stored = 0;
    Result<void> ok = write_paced(batch, stored);
    paced_sleeps_.store(pacer.sleeps(), std::memory_order_relaxed);
    written_.fetch_add(stored, std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    if (n > largest_batch_.load(std::memory_order_relaxed)) {
      largest_batch_.store(n, std::memory_order_relaxed);
    }
    if (!ok) {
      const std::size_t lost = batch.size() - stored;
      failed_.fetch_add(lost, std::memory_order_relaxed);
      if (options_.on_write_error) {
        options_.on_write_error(ok.error(), lost);
      }
    }
    next += n;
    if (next == taken.size()) {
      // The rows' strings are freed here, off the lock, and a few rows at a time between the
      // pacer's pauses: a whole batch at once (1,200-1,500 rows under load, 0.13-0.3 ms measured:
      // the strings were allocated on the I/O thread, so each free is a cross-thread one) held
      // the core past its slice. The capacity stays for the swap to come, unless a backlog grew
      // it past a few batches: idle memory is not kept for a burst.
      destroy_in_steps(taken, 64);  // 64 rows: ~10 us of frees
      next = 0;
      if (taken.capacity() > 4 * options_.max_batch) {
        std::vector<UsageRow>().swap(taken);
      }
      if (valid.capacity() > options_.max_batch) {
        std::vector<UsageRow>().swap(valid);
      }
    }

    lock.lock();
    done_seq_ += n;
    done_.notify_all();
  }
  pacer.stop();
}

}  // namespace keygate
