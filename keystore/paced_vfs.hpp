#pragma once
// A SQLite VFS whose file writes are pause points for the writing thread's WorkPacer
// (work_pacer.hpp). The usage writer opens its connection through it.
//
// Why: the writer shares cores with the I/O threads. Inside SQLite, a commit writes each page
// its batch touched to the WAL, and an automatic checkpoint copies up to 1,000 pages into the
// database, each in one call that the writer's own loop cannot pause. Measured on one shared
// core, those calls held it for up to 3.7 ms at a time while requests waited: they were the
// p99.9 of every request. The writes are the one place inside SQLite where the thread can pause.
// A thread whose pacer is off (every thread but the usage writer) pays one branch per write.
//
// A sync (fsync) mostly waits on the disk, not the core, so the pacer's slice starts again after
// one. Mostly: an fsync first hands the kernel every page of the file written since the last
// one, and that hand-over is the caller's CPU. After a checkpoint (up to 1,000 pages each in the
// WAL and the database) it held the core for 0.5-0.9 ms in one system call, a few times a
// second under load (perf sched: the writer's longest runs all ended in that fsync). So each
// 256 KB written starts the kernel's write-back of it at once (sync_file_range, which does not
// wait for it to complete): the hand-over happens in small pieces between the pacer's pauses, and
// the fsync finds the pages already on their way. What is durable when is unchanged: only fsync
// promises that. Everything else is the default VFS's ("unix" on Linux), unchanged.

#include <cstdint>

namespace keygate::sqlite {

// The VFS's name, for sqlite3_open_v2; registered (not as the default) on the first call.
// nullptr if it could not be registered (then callers get the default VFS).
const char* paced_vfs_name();

// How many times a file's write-back was started early, across the process (for tests).
uint64_t paced_vfs_writeback_starts();

}  // namespace keygate::sqlite
