#pragma once
// JSON-lines logging. I/O threads only append to an in-memory buffer; a background thread writes
// it out, so a slow stderr (a pipe to a log shipper) never blocks request handling.
// Callers pass values they have chosen; header values of Authorization / x-api-key are never
// given to the logger (see gateway/access_log.cpp).

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace keygate::gateway {

class Logger {
 public:
  static Logger& instance();
  // Where lines go; stderr by default. The FILE must outlive the logger.
  void set_output(std::FILE* out);
  void write_line(std::string_view line);  // `line` is one JSON object, no newline
  void flush();                            // blocks until everything written so far is out
  ~Logger();

 private:
  Logger();
  void run();
  std::mutex mutex_;
  std::mutex write_mutex_;  // held while a batch is written; see set_output()
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::string pending_;
  std::FILE* out_ = stderr;
  static constexpr std::size_t kWakeBytes = 64 * 1024;
  static constexpr std::chrono::milliseconds kInterval{50};
  bool stop_ = false;
  bool flush_requested_ = false;
  uint64_t written_seq_ = 0;
  uint64_t queued_seq_ = 0;
  std::thread thread_;
};

// A structured event: {"ts":..., "level":..., "msg":..., <extra fields>}. `fields_json` is a
// pre-built, comma-led list of JSON members (e.g. ,"port":8080) or empty.
void log_event(std::string_view level, std::string_view message, std::string_view fields_json = {});

}  // namespace keygate::gateway
