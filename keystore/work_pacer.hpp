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

#include <chrono>
#include <cstdint>
#include <functional>

namespace keygate {

class WorkPacer {
 public:
  using Clock = std::chrono::steady_clock;

  static WorkPacer& this_thread();

  // Paces from now on in slices of `slice` (0: never pauses). At each slice's end
  // `keep_pacing` is asked: false (the thread is behind) skips the sleep and starts a new slice.
  void start(std::chrono::microseconds slice, std::function<bool()> keep_pacing);
  void stop();
  // A point where the thread may pause: sleeps if the current slice is over.
  void tick();
  // Starts a new slice now: work before this (or a wait for work) does not count.
  void restart() {
    if (slice_.count() > 0) {
      slice_started_ = Clock::now();
    }
  }

  uint64_t sleeps() const { return sleeps_; }

 private:
  std::chrono::microseconds slice_{0};
  std::function<bool()> keep_pacing_;
  Clock::time_point slice_started_;
  uint64_t sleeps_ = 0;
};

}  // namespace keygate
