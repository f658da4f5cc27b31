#pragma once
// WorkPacer: keeps a background thread (the usage writer) from holding a core for long while the
// I/O threads share it. Once the thread has worked for a `slice`, it sleeps twice as long.
//
// Why sleeps and not sched_yield(): Linux's scheduler lets a thread that just woke from a sleep
// take the core at once, and lets a busy one keep it for milliseconds. A thread that sleeps
// often therefore gets the core back promptly and gives it up on its own schedule. A thread
// that yields to a busy I/O thread loses a whole scheduler slice each time: measured, the usage
// writer then fell behind, and catching up flat out made the p99 three times worse.
//
// Each thread has its own pacer (this_thread()). The thread's own loop calls tick() between
// units of work; so does the paced SQLite VFS (paced_vfs.hpp) on every file write, which is
// how commits and checkpoints, each one long call into SQLite, get their pauses too.
//
// Why a pause's length can depend on the load (lengthen_while): each pause costs two context
// switches and both threads' caches, and what it buys is a short wait for a request that needs
// the core while the writer has it. That wait matters where a client sends one request at a
// time to an upstream that answers in microseconds (the benchmark's one connection: p99 0.12 ms
// with 50 us slices, 0.32 with 250). With several requests open the gateway passes the longer
// slices: under load they queue for the I/O thread anyway (measured, 250 us slices then served
// 6-24% more requests a second than 50 us, at less CPU a request; README, Performance), and
// with real providers' calls, which take hundreds of milliseconds, a 250 us wait is noise.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace keygate {

class WorkPacer {
 public:
  using Clock = std::chrono::steady_clock;

  static WorkPacer& this_thread();

  // Paces from now on in slices of `slice` (0: never pauses). At each slice's end
  // `keep_pacing` is asked: false (the thread is behind) skips the sleep and starts a new slice.
  void start(std::chrono::microseconds slice, std::function<bool()> keep_pacing);
  // From now on a slice is `busy_slice` long when `busy` says so at its start (asked once a
  // slice, not per tick). Reset by start() and stop().
  void lengthen_while(std::function<bool()> busy, std::chrono::microseconds busy_slice);
  void stop();
  // A point where the thread may pause: sleeps if the current slice is over.
  void tick();
  // Starts a new slice now: work before this (or a wait for work) does not count.
  void restart() {
    if (slice_.count() > 0) {
      begin_slice(Clock::now());
    }
  }

  uint64_t sleeps() const { return sleeps_; }
  // How long the current slice may run (slice or busy_slice).
  std::chrono::microseconds current_slice() const { return current_; }

 private:
  void begin_slice(Clock::time_point now) {
    slice_started_ = now;
    current_ = busy_ && busy_() ? busy_slice_ : slice_;
  }

  std::chrono::microseconds slice_{0};
  std::chrono::microseconds current_{0};
  std::chrono::microseconds busy_slice_{0};
  std::function<bool()> keep_pacing_;
  std::function<bool()> busy_;
  Clock::time_point slice_started_;
  uint64_t sleeps_ = 0;
};

// Empties `items` from the back, `step` at a time, with a pause point of the thread's pacer
// after each step: destroying many at once is one long stretch of work no tick can cut.
template <class T>
void destroy_in_steps(std::vector<T>& items, std::size_t step) {
  WorkPacer& pacer = WorkPacer::this_thread();
  while (!items.empty()) {
    const std::size_t n = std::min(step == 0 ? items.size() : step, items.size());
    items.erase(items.end() - static_cast<std::ptrdiff_t>(n), items.end());
    pacer.tick();
  }
}

}  // namespace keygate
