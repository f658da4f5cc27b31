#include "gateway/log.hpp"

#include <algorithm>
#include <chrono>

#include "schema/json.hpp"

namespace keygate::gateway {

Logger& Logger::instance() {
  static Logger logger;
  return logger;
}

Logger::Logger() : thread_([this] { run(); }) {}

Logger::~Logger() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Logger::set_output(std::FILE* out) {
  flush();
  // write_mutex_ ensures no batch is being written to the old FILE when we return, so the caller
  // may close it (tests capture the log in a file and close it afterwards).
  std::lock_guard write(write_mutex_);
  std::lock_guard lock(mutex_);
  out_ = out;
}

void Logger::write_line(std::string_view line) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    // Bounded: a stuck log sink must not grow memory without limit.
    if (pending_.size() > 8 * 1024 * 1024) {
      return;
    }
    pending_ += line;
    pending_ += '\n';
    ++queued_seq_;
    wake = pending_.size() >= kWakeBytes;
  }
  // The writer thread wakes by itself every kInterval; waking it per line would cost a syscall
  // and a context switch per request.
  if (wake) {
    wake_.notify_one();
  }
}

void Logger::flush() {
  std::unique_lock lock(mutex_);
  uint64_t target = queued_seq_;
  flush_requested_ = true;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return written_seq_ >= target || stop_; });
}

void Logger::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kInterval,
                     [&] { return stop_ || flush_requested_ || pending_.size() >= kWakeBytes; });
      flush_requested_ = false;
    }
    uint64_t seq = 0;
    {
      // The batch and the FILE are taken, and written, under write_mutex_: set_output() cannot
      // swap the FILE between the two.
      std::lock_guard write(write_mutex_);
      std::string batch;
      std::FILE* out = nullptr;
      {
        std::lock_guard lock(mutex_);
        batch.swap(pending_);
        seq = queued_seq_;
        out = out_;
      }
      if (!batch.empty()) {
        std::fwrite(batch.data(), 1, batch.size(), out);
        std::fflush(out);
      }
    }
    std::lock_guard lock(mutex_);
    written_seq_ = std::max(written_seq_, seq);
    flushed_.notify_all();
    if (stop_ && pending_.empty()) {
      return;
    }
  }
}

void log_event(std::string_view level, std::string_view message, std::string_view fields_json) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  JsonWriter w;
  w.start_object();
  w.field("ts_ms", static_cast<int64_t>(ms));
  w.field("level", level);
  w.field("msg", message);
  w.end_object();
  std::string line = w.take();
  if (!fields_json.empty()) {
    line.pop_back();  // reopen the object to append the extra members
    line += fields_json;
    line += '}';
  }
  Logger::instance().write_line(std::move(line));
}

}  // namespace keygate::gateway
