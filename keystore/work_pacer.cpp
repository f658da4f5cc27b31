#include "keystore/work_pacer.hpp"

#include <algorithm>
#include <thread>

namespace keygate {

WorkPacer& WorkPacer::this_thread() {
  thread_local WorkPacer pacer;
  return pacer;
}

void WorkPacer::start(std::chrono::microseconds slice, std::function<bool()> keep_pacing) {
  slice_ = slice;
  keep_pacing_ = std::move(keep_pacing);
  busy_ = nullptr;
  restart();
}

void WorkPacer::lengthen_while(std::function<bool()> busy, std::chrono::microseconds busy_slice) {
  busy_ = std::move(busy);
  busy_slice_ = busy_slice;
  restart();
}

void WorkPacer::stop() {
  slice_ = std::chrono::microseconds{0};
  current_ = slice_;
  keep_pacing_ = nullptr;
  busy_ = nullptr;
}

void WorkPacer::tick() {
  if (slice_.count() == 0) {
    return;  // the common case off the writer thread: no clock read
  }
  const auto now = Clock::now();
  const auto worked = now - slice_started_;
  if (worked < current_) {
    return;
  }
  if (!keep_pacing_ || keep_pacing_()) {
    ++sleeps_;
    // At most two slices: a slice that ran long (the thread was descheduled, or waited on the
    // disk) says nothing about how long the I/O threads need the core back.
    std::this_thread::sleep_for(2 * std::min<Clock::duration>(worked, current_));
    begin_slice(Clock::now());
  } else {
    begin_slice(now);
  }
}

}  // namespace keygate
