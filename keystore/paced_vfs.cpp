#include "keystore/paced_vfs.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "keystore/sqlite.hpp"
#include "keystore/work_pacer.hpp"

// A shim in the shape SQLite documents for VFSes layered over another
// (https://www.sqlite.org/vfs.html): each open file is our small header followed by the default
// VFS's own file object, in the one allocation of szOsFile bytes SQLite makes for it; every
// method forwards to the default VFS's; xWrite and xSync also tell the thread's pacer, and
// xWrite starts the kernel's write-back of what was written (paced_vfs.hpp says why).

namespace keygate::sqlite {

namespace {

constexpr const char* kName = "keygate-paced";

// Write-back is started once this much has been written since the last start: 64 pages, about
// 0.17 ms of the kernel's work a call (median under strace, which inflates it). Per write it
// would be a system call per page; 64 KB steps measured no different under load.
constexpr sqlite3_int64 kWritebackBytes = 256 * 1024;

std::atomic<uint64_t> writeback_starts{0};

struct ShimFile {
  sqlite3_file base;  // must come first: SQLite sees this
  // The real file's descriptor, borrowed (SQLite closes it), for sync_file_range; -1: none.
  int fd;
  // The span written since write-back was last started, and how many bytes that was.
  sqlite3_int64 unsent_begin;
  sqlite3_int64 unsent_end;
  sqlite3_int64 unsent_bytes;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

// The descriptor of a file the "unix" VFS opened. SQLite offers no call for it; its unixFile
// starts {pMethod, pVfs, pInode, int h}, unchanged for over a decade. That guess is checked: the
// descriptor must be the very file (device and inode) named `path`, or none is used (-1), and
// then fsync simply does all the write-back as before. Closing a second descriptor of our own
// is not an option: it would drop the process's POSIX locks on the file, SQLite's included.
int unix_file_descriptor(sqlite3_vfs* root, sqlite3_file* file, const char* path) {
  struct UnixFileHead {
    const sqlite3_io_methods* methods;
    sqlite3_vfs* vfs;
    void* inode;
    int h;
  };
  if (path == nullptr || std::strcmp(root->zName, "unix") != 0 ||
      root->szOsFile < static_cast<int>(sizeof(UnixFileHead))) {
    return -1;
  }
  int fd = -1;
  std::memcpy(&fd, reinterpret_cast<const char*>(file) + offsetof(UnixFileHead, h), sizeof fd);
  struct stat by_fd {};
  struct stat by_path {};
  if (fd < 0 || ::fstat(fd, &by_fd) != 0 || ::stat(path, &by_path) != 0 ||
      by_fd.st_dev != by_path.st_dev || by_fd.st_ino != by_path.st_ino) {
    return -1;
  }
  return fd;
}

// Starts the kernel writing back the span written since the last start, once it is
// kWritebackBytes: asynchronous (SYNC_FILE_RANGE_WRITE waits for nothing already under way).
void start_writeback(ShimFile& file, sqlite3_int64 offset, int n) {
  if (file.fd < 0) {
    return;
  }
  if (file.unsent_bytes == 0) {
    file.unsent_begin = offset;
    file.unsent_end = offset + n;
  } else {
    file.unsent_begin = std::min(file.unsent_begin, offset);
    file.unsent_end = std::max(file.unsent_end, offset + n);
  }
  file.unsent_bytes += n;
  if (file.unsent_bytes < kWritebackBytes) {
    return;
  }
  // Failure changes nothing: the fsync that commits the data does the write-back then.
  if (::sync_file_range(file.fd, file.unsent_begin, file.unsent_end - file.unsent_begin,
                        SYNC_FILE_RANGE_WRITE) == 0) {
    writeback_starts.fetch_add(1, std::memory_order_relaxed);
  }
  file.unsent_bytes = 0;
}

sqlite3_vfs* root_vfs(sqlite3_vfs* vfs) {
  return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

sqlite3_file* real(sqlite3_file* f) {
  return reinterpret_cast<ShimFile*>(f)->real();
}

int shim_close(sqlite3_file* f) {
  return real(f)->pMethods->xClose(real(f));
}
int shim_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 offset) {
  return real(f)->pMethods->xRead(real(f), buf, n, offset);
}
int shim_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 offset) {
  const int rc = real(f)->pMethods->xWrite(real(f), buf, n, offset);
  if (rc == SQLITE_OK) {
    start_writeback(*reinterpret_cast<ShimFile*>(f), offset, n);
  }
  WorkPacer::this_thread().tick();
  return rc;
}
int shim_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return real(f)->pMethods->xTruncate(real(f), size);
}
int shim_sync(sqlite3_file* f, int flags) {
  reinterpret_cast<ShimFile*>(f)->unsent_bytes = 0;  // the sync writes back all of it
  const int rc = real(f)->pMethods->xSync(real(f), flags);
  WorkPacer::this_thread().restart();  // the wait was the disk's, not the core's
  return rc;
}
int shim_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real(f)->pMethods->xFileSize(real(f), size);
}
int shim_lock(sqlite3_file* f, int level) {
  return real(f)->pMethods->xLock(real(f), level);
}
int shim_unlock(sqlite3_file* f, int level) {
  return real(f)->pMethods->xUnlock(real(f), level);
}
int shim_check_reserved_lock(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int shim_file_control(sqlite3_file* f, int op, void* arg) {
#ifdef SQLITE_FCNTL_NULL_IO
  // Newer SQLite can close the descriptor while the file stays open: forget it first.
  if (op == SQLITE_FCNTL_NULL_IO) {
    reinterpret_cast<ShimFile*>(f)->fd = -1;
  }
#endif
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int shim_sector_size(sqlite3_file* f) {
  return real(f)->pMethods->xSectorSize(real(f));
}
int shim_device_characteristics(sqlite3_file* f) {
  return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
// Version 2 and 3 methods: forwarded when the real file has them, otherwise the answers SQLite
// documents for their absence.
int shim_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  const sqlite3_io_methods* m = real(f)->pMethods;
  return m->iVersion >= 2 ? m->xShmMap(real(f), region, size, extend, out) : SQLITE_IOERR_SHMMAP;
}
int shim_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  const sqlite3_io_methods* m = real(f)->pMethods;
  return m->iVersion >= 2 ? m->xShmLock(real(f), offset, n, flags) : SQLITE_IOERR_SHMLOCK;
}
void shim_shm_barrier(sqlite3_file* f) {
  const sqlite3_io_methods* m = real(f)->pMethods;
  if (m->iVersion >= 2) {
    m->xShmBarrier(real(f));
  }
}
int shim_shm_unmap(sqlite3_file* f, int delete_flag) {
  const sqlite3_io_methods* m = real(f)->pMethods;
  return m->iVersion >= 2 ? m->xShmUnmap(real(f), delete_flag) : SQLITE_OK;
}
int shim_fetch(sqlite3_file* f, sqlite3_int64 offset, int n, void** out) {
  const sqlite3_io_methods* m = real(f)->pMethods;
  if (m->iVersion >= 3) {
    return m->xFetch(real(f), offset, n, out);
  }
  *out = nullptr;  // "no mapping": SQLite reads the page instead
  return SQLITE_OK;
}
int shim_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  const sqlite3_io_methods* m = real(f)->pMethods;
  return m->iVersion >= 3 ? m->xUnfetch(real(f), offset, p) : SQLITE_OK;
}

const sqlite3_io_methods kShimMethods = {
    3,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_file_size,
    shim_lock,
    shim_unlock,
    shim_check_reserved_lock,
    shim_file_control,
    shim_sector_size,
    shim_device_characteristics,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    shim_fetch,
    shim_unfetch,
};

int shim_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  ShimFile* shim = reinterpret_cast<ShimFile*>(file);
  sqlite3_file* inner = shim->real();
  inner->pMethods = nullptr;
  const int rc = root_vfs(vfs)->xOpen(root_vfs(vfs), name, inner, flags, out_flags);
  // SQLite closes a file whose pMethods is set even when xOpen failed; ours forwards to the real
  // file's close, so it is set exactly when the real one is.
  shim->base.pMethods = inner->pMethods != nullptr ? &kShimMethods : nullptr;
  shim->unsent_begin = shim->unsent_end = shim->unsent_bytes = 0;
  // Only the database and its WAL are written back early: the files fsync is called on.
  const bool synced_file = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
  shim->fd = rc == SQLITE_OK && synced_file ? unix_file_descriptor(root_vfs(vfs), inner, name) : -1;
  return rc;
}

// The VFS-level methods all go to the default VFS, called with itself.
int shim_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return root_vfs(vfs)->xDelete(root_vfs(vfs), name, sync_dir);
}
int shim_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return root_vfs(vfs)->xAccess(root_vfs(vfs), name, flags, out);
}
int shim_full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return root_vfs(vfs)->xFullPathname(root_vfs(vfs), name, n, out);
}
void* shim_dl_open(sqlite3_vfs* vfs, const char* path) {
  return root_vfs(vfs)->xDlOpen(root_vfs(vfs), path);
}
void shim_dl_error(sqlite3_vfs* vfs, int n, char* out) {
  root_vfs(vfs)->xDlError(root_vfs(vfs), n, out);
}
void (*shim_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return root_vfs(vfs)->xDlSym(root_vfs(vfs), handle, symbol);
}
void shim_dl_close(sqlite3_vfs* vfs, void* handle) {
  root_vfs(vfs)->xDlClose(root_vfs(vfs), handle);
}
int shim_randomness(sqlite3_vfs* vfs, int n, char* out) {
  return root_vfs(vfs)->xRandomness(root_vfs(vfs), n, out);
}
int shim_sleep(sqlite3_vfs* vfs, int microseconds) {
  return root_vfs(vfs)->xSleep(root_vfs(vfs), microseconds);
}
int shim_current_time(sqlite3_vfs* vfs, double* out) {
  return root_vfs(vfs)->xCurrentTime(root_vfs(vfs), out);
}
int shim_get_last_error(sqlite3_vfs* vfs, int n, char* out) {
  return root_vfs(vfs)->xGetLastError(root_vfs(vfs), n, out);
}
int shim_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return root_vfs(vfs)->xCurrentTimeInt64(root_vfs(vfs), out);
}

sqlite3_vfs* make_vfs() {
  configure_library();  // before sqlite3_vfs_find, which initialises SQLite
  sqlite3_vfs* root = sqlite3_vfs_find(nullptr);
  // Version 2 methods (xCurrentTimeInt64) are forwarded; the system-call overrides of version
  // 3 exist for SQLite's own tests and are left out.
  if (root == nullptr || root->iVersion < 2) {
    return nullptr;
  }
  static sqlite3_vfs vfs = {};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + root->szOsFile;
  vfs.mxPathname = root->mxPathname;
  vfs.zName = kName;
  vfs.pAppData = root;
  vfs.xOpen = shim_open;
  vfs.xDelete = shim_delete;
  vfs.xAccess = shim_access;
  vfs.xFullPathname = shim_full_pathname;
  vfs.xDlOpen = shim_dl_open;
  vfs.xDlError = shim_dl_error;
  vfs.xDlSym = shim_dl_sym;
  vfs.xDlClose = shim_dl_close;
  vfs.xRandomness = shim_randomness;
  vfs.xSleep = shim_sleep;
  vfs.xCurrentTime = shim_current_time;
  vfs.xGetLastError = shim_get_last_error;
  vfs.xCurrentTimeInt64 = shim_current_time_int64;
  if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) {
    return nullptr;
  }
  return &vfs;
}

}  // namespace

uint64_t paced_vfs_writeback_starts() {
  return writeback_starts.load(std::memory_order_relaxed);
}

const char* paced_vfs_name() {
  static sqlite3_vfs* vfs = make_vfs();  // registered once, thread-safe (a function static)
  return vfs != nullptr ? vfs->zName : nullptr;
}

}  // namespace keygate::sqlite
