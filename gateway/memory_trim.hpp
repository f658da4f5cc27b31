#pragma once
// Handing memory the allocator keeps back to the OS, once a second.
//
// The server's allocator (mimalloc, linked into the keygate binary only: gateway/main.cpp) keeps
// a freed page's memory committed for a short while, in case the next request wants it again,
// and gives it back on its next use of that memory: a page freed for good (by connections that
// went idle, say) would otherwise stay resident. Giving pages back at once instead cost a page
// fault and an madvise call per stream (a stream's buffers empty a page; the next stream faults
// it in again), about a third of the stream relay's throughput. So pages stay committed while
// busy, and App calls trim_memory() once a second on an I/O thread: that thread's allocator
// returns what is free. With several I/O threads the timer lands on one of them each time (the
// allocator's memory is per thread), so pages freed on the others wait for those threads' next
// use of them: bench/idle_streams.py --request-kb 16, 9,000 streams, 8.0-8.6 KB a stream with one
// I/O thread, 9.7-10.2 KB with two. Running each thread's io_context a second at a time and
// trimming after each second reached every thread (8.3 KB with two) but read the clock per
// handler: 2% more instructions a request.

namespace keygate::gateway {

// Installed by main(); nothing is installed in tests (the default allocator).
void set_memory_trim(void (*trim)());
void trim_memory();

}  // namespace keygate::gateway
