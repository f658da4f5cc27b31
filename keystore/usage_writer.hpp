#pragma once
// UsageWriter: stores usage rows off the request path. enqueue() only appends to a bounded
// in-memory queue (a mutex held for a push); one writer thread, with its own connection to the
// keygate database (SQLite: WAL, synchronous=NORMAL; or PostgreSQL), moves whatever is queued
// into the `usage` table, up to `max_batch` rows per transaction. What follows about pacing and
// what a crash loses is said of SQLite; on PostgreSQL a committed batch is the server's.
//
// Batching: the writer commits as soon as rows are waiting; while one batch commits, the next
// accumulates, so batches grow with load and a row waits at most one commit (well under the
// 50 ms `max_delay` bound on a healthy disk) plus at most `max_delay` of coalescing.
//
// What a crash loses: with WAL and synchronous=NORMAL a committed transaction survives the death
// of the process (only a power loss or OS crash can roll back the last commits), so SIGKILL loses
// exactly the rows still queued or in the batch being written: at most the rows recorded in the
// last ~50 ms (the coalescing delay, then the batch's paced write) under normal load — more only
// if the database is locked by another writer for longer (the busy timeout is 5 s). SIGTERM
// loses nothing: the owner calls flush()/stop() after the server drained, and the destructor
// flushes too.
//
// When the queue is full (the disk cannot keep up), enqueue() does not block: the row is dropped
// and counted (dropped()); the caller logs. Batches that cannot be written after retries are
// reported through `on_write_error` and counted in failed(), and so are rows the table's CHECK
// would refuse (a usage_known other than reported | estimated | unknown): the writer checks that
// itself, row by row, so one bad row no longer costs its whole batch.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "schema/error.hpp"

namespace keygate {

// One row of the usage table (times in unix milliseconds; `day` is derived on insert).
struct UsageRow {
  std::string request_id;
  int64_t started_at_ms = 0;
  std::string user_id;
  std::string token_id;
  std::string agent;  // empty: none (stored as NULL)
  std::string provider;
  std::string model_requested;
  std::string model_served;
  std::string key_source;  // user | system | env | none
  std::string key_id;      // empty: none (stored as NULL)
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t reasoning_tokens = 0;
  int64_t cache_write_tokens = 0;       // part of prompt_tokens
  int64_t web_search_requests = 0;      // billed apart from tokens
  std::string usage_known = "unknown";  // reported | estimated | unknown
  std::optional<double> cost_usd;       // nullopt: no price known, or usage unknown
  int64_t latency_ms = 0;
  std::optional<int64_t> ttft_ms;
  int upstream_status = 0;
  bool stream = false;
  std::string outcome;
};

struct UsageWriterOptions {
  std::size_t capacity = 100'000;  // queued rows; beyond this enqueue() drops
  std::size_t max_batch = 2'000;   // rows taken from the queue at a time
  // After waking for a first row, how long the writer may wait for more before committing (0:
  // commit at once). Bounds what SIGKILL can lose; 20 ms turns a commit per request under load
  // into one per 20 ms.
  std::chrono::milliseconds max_delay{20};
  // After this much work the writer, while it keeps up (queue below a quarter of capacity),
  // sleeps twice as long, its batch's transaction still open; inside commits and checkpoints too
  // (work_pacer.hpp, paced_vfs.hpp). On a saturated core a writer that
  // ran for a whole scheduler tick (~4 ms) would stall the I/O thread for that long: the p99 of
  // every request. Behind, it writes flat out (losing rows is worse than latency). 0: no pacing.
  // 50 us, about one 16-row statement: a request that arrives while the writer has the core
  // waits at most that long. At one connection, p99 was 0.32 ms with 250 us slices and 0.12 ms
  // with 50 (20 us: 0.11); CPU per request at 16 connections the same within noise.
  std::chrono::microseconds slice{50};
  // The slice while `busy` (optional, asked at each slice's start) says so: the gateway's test is
  // more than one request open, waiting on its provider or not (why, work_pacer.hpp). 250 us:
  // 6-24% more requests a second at 16 connections than 50 us, in four alternating runs, with a
  // lower p99 in each.
  std::chrono::microseconds busy_slice{250};
  std::function<bool()> busy;
  // Called on the writer thread when a batch could not be stored (rows lost).
  std::function<void(const Error& error, std::size_t rows)> on_write_error;
};

class UsageWriter {
 public:
  // Opens its own connection to `db_path` (migrating it if needed) and starts the thread.
  // `db_path`: a SQLite file, or a postgres:// URI (keystore/database.hpp).
  static Result<std::unique_ptr<UsageWriter>> open(const std::string& db_path,
                                                   UsageWriterOptions options = {});
  ~UsageWriter();  // stop()
  UsageWriter(const UsageWriter&) = delete;
  UsageWriter& operator=(const UsageWriter&) = delete;

  // Never blocks on the database. false: the queue was full (or the writer stopped) and the row
  // was dropped (counted in dropped()).
  bool enqueue(UsageRow row);
  // Blocks until every row enqueued before the call is committed (or failed).
  void flush();
  // flush(), then ends the thread. Later enqueue() calls drop.
  void stop();

  std::size_t queue_depth() const;
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  std::size_t largest_batch() const { return largest_batch_.load(std::memory_order_relaxed); }
  uint64_t paced_sleeps() const { return paced_sleeps_.load(std::memory_order_relaxed); }

  // The table the thread writes to: a SQLite file's or a PostgreSQL server's (usage_writer.cpp).
  struct Impl;

 private:
  explicit UsageWriter(std::unique_ptr<Impl> impl, UsageWriterOptions options);
  void run();
  // Writes `rows` in one transaction, in time slices (see UsageWriterOptions::slice); `written`
  // counts the rows committed: all of them, or none when it fails.
  Result<void> write_paced(std::span<const UsageRow> rows, std::size_t& written);
  bool keeping_up() const;

  std::unique_ptr<Impl> impl_;  // the connection and prepared insert; writer thread only
  UsageWriterOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // rows queued, or stop
  std::condition_variable done_;  // a batch finished
  // Rows enqueued and not yet taken by the writer. A vector rather than a deque: the writer swaps
  // it for its own emptied one, so in steady state a row is moved into capacity that is already
  // there (a deque of rows this size allocated a node per row, on the I/O thread).
  std::vector<UsageRow> queue_;
  std::size_t backlog_ = 0;    // rows the writer took with a swap but has not started writing yet
  uint64_t enqueued_seq_ = 0;  // rows accepted so far
  uint64_t done_seq_ = 0;      // rows committed or failed so far
  bool stopping_ = false;
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<std::size_t> largest_batch_{0};
  std::atomic<uint64_t> paced_sleeps_{0};
  std::thread thread_;
};

}  // namespace keygate
