#include "keystore/usage_writer.hpp"

#include <vector>

#include "keystore/sqlite.hpp"
#include "keystore/try.hpp"
#include "schema/time.hpp"

namespace keygate {

namespace {

constexpr std::string_view kInsert = R"sql(
INSERT INTO usage (request_id, started_at_ms, user_id, token_id, agent, provider, model_requested,
                   model_served, key_source, key_id, prompt_tokens, completion_tokens,
                   cached_tokens, reasoning_tokens, usage_known, cost_usd, latency_ms, ttft_ms,
                   upstream_status, stream, outcome, day)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
        ?21, ?22)
)sql";

constexpr int kWriteAttempts = 3;  // a busy database gets 3 x the 5 s busy timeout, then rows go

// Empty strings are "none" for the optional text columns (agent, key_id, ...).
std::optional<std::string> text_or_null(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

struct UsageWriter::Impl {
  sqlite::Database db;
  sqlite::Statement insert;

  // Writes rows from `next` on, in one transaction, until they end or `budget` is spent; moves
  // `next` past what was committed.
  Result<void> write(const std::vector<UsageRow>& rows, std::size_t& next,
                     std::chrono::microseconds budget) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    std::size_t i = next;
    KG_TRY(tx, sqlite::transaction(db));
    for (; i < rows.size(); ++i) {
      // Checked every 16 rows: reading the clock per row would cost more than it saves.
      if (budget.count() > 0 && i > next && (i - next) % 16 == 0 &&
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      const UsageRow& r = rows[i];
      insert.reset();
      insert.bind(1, r.request_id)
          .bind(2, r.started_at_ms)
          .bind(3, text_or_null(r.user_id))
          .bind(4, text_or_null(r.token_id))
          .bind(5, text_or_null(r.agent))
          .bind(6, text_or_null(r.provider))
          .bind(7, text_or_null(r.model_requested))
          .bind(8, text_or_null(r.model_served))
          .bind(9, text_or_null(r.key_source))
          .bind(10, text_or_null(r.key_id))
          .bind(11, r.prompt_tokens)
          .bind(12, r.completion_tokens)
          .bind(13, r.cached_tokens)
          .bind(14, r.reasoning_tokens)
          .bind(15, r.usage_known)
          .bind(17, r.latency_ms)
          .bind(18, r.ttft_ms)
          .bind(19, r.upstream_status)
          .bind(20, r.stream ? 1 : 0)
          .bind(21, text_or_null(r.outcome))
          .bind(22, format_day(floor_div(r.started_at_ms, 1000)));
      if (r.cost_usd) {
        insert.bind(16, *r.cost_usd);
      } else {
        insert.bind(16, nullptr);
      }
      KG_CHECK(insert.run());
    }
    insert.reset();
    KG_CHECK(tx->commit());
    next = i;
    return {};
  }
};

Result<std::unique_ptr<UsageWriter>> UsageWriter::open(const std::string& db_path,
                                                       UsageWriterOptions options) {
  KG_TRY(db, sqlite::Database::open(db_path));
  KG_CHECK(sqlite::apply_migrations(*db));
  KG_TRY(insert, db->prepare(kInsert));
  auto impl = std::make_unique<Impl>(Impl{std::move(*db), std::move(*insert)});
  if (options.capacity == 0) {
    options.capacity = 1;
  }
  if (options.max_batch == 0) {
    options.max_batch = 1;
  }
  std::unique_ptr<UsageWriter> writer(new UsageWriter(std::move(impl), std::move(options)));
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
    if (stopping_ || queue_.size() >= options_.capacity) {
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
  return queue_.size();
}

bool UsageWriter::keeping_up() const {
  std::lock_guard lock(mutex_);
  return !stopping_ && queue_.size() < options_.capacity / 4;
}

Result<void> UsageWriter::write_paced(const std::vector<UsageRow>& rows, std::size_t& written) {
  written = 0;
  while (written < rows.size()) {
    const auto started = std::chrono::steady_clock::now();
    Result<void> ok;
    for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
      ok = impl_->write(rows, written, options_.slice);
      if (ok || ok.error().code != "database_busy") {
        break;
      }
    }
    if (!ok) {
      return ok;  // rows from `written` on are lost
    }
    if (written < rows.size() && options_.slice.count() > 0 && keeping_up()) {
      paced_sleeps_.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(2 * (std::chrono::steady_clock::now() - started));
    }
  }
  return {};
}

void UsageWriter::run() {
  std::vector<UsageRow> batch;
  batch.reserve(options_.max_batch);
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      break;  // stopping, and everything is written
    }
    if (options_.max_delay.count() > 0 && !stopping_ && queue_.size() < options_.max_batch) {
      wake_.wait_for(lock, options_.max_delay,
                     [&] { return stopping_ || queue_.size() >= options_.max_batch; });
    }
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();

    std::size_t stored = 0;
    Result<void> ok = write_paced(batch, stored);
    written_.fetch_add(stored, std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    if (batch.size() > largest_batch_.load(std::memory_order_relaxed)) {
      largest_batch_.store(batch.size(), std::memory_order_relaxed);
    }
    if (!ok) {
      const std::size_t lost = batch.size() - stored;
      failed_.fetch_add(lost, std::memory_order_relaxed);
      if (options_.on_write_error) {
        options_.on_write_error(ok.error(), lost);
      }
    }
    const std::size_t n = batch.size();
    batch.clear();

    lock.lock();
    done_seq_ += n;
    done_.notify_all();
  }
}

}  // namespace keygate
