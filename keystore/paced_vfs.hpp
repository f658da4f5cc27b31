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
// A sync (fsync) waits on the disk, not the core, so the pacer's slice starts again after one.
// Everything else is the default VFS's ("unix" on Linux), unchanged.

namespace keygate::sqlite {

// The VFS's name, for sqlite3_open_v2; registered (not as the default) on the first call.
// nullptr if it could not be registered (then callers get the default VFS).
const char* paced_vfs_name();

}  // namespace keygate::sqlite
