// Calls on fds. The lazy-content guard on every read of a view file, the fd
// table's bookkeeping (dup, fcntl, close), calls that read an fd where the
// shim cannot see it (mmap, sendfile, splice, copy_file_range, FICLONE) and
// fd-based modifications (EROFS on read-only mounts).
//
// Invariant: an fd that is not an incomplete view file costs one load of its
// fd-table entry; nothing else happens before the real call.
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "shim.h"
#include "vol/vol.h"

using namespace vol::shim;

namespace {

size_t iov_len(const struct iovec* iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  return total;
}

}  // namespace

// ---- reads: RET NAME(PARAMS), guard (fd, offset or -1, length) -----------------
#define VOL_READS(X)                                                                        \
  X(ssize_t, read, (int fd, void* b, size_t n), (fd, b, n), -1, n)                          \
  X(ssize_t, pread, (int fd, void* b, size_t n, off_t o), (fd, b, n, o), o, n)              \
  X(ssize_t, pread64, (int fd, void* b, size_t n, off64_t o), (fd, b, n, o), o, n)          \
  X(ssize_t, readv, (int fd, const struct iovec* v, int c), (fd, v, c), -1, iov_len(v, c))  \
  X(ssize_t, preadv, (int fd, const struct iovec* v, int c, off_t o), (fd, v, c, o), o,     \
    iov_len(v, c))                                                                          \
  X(ssize_t, preadv64, (int fd, const struct iovec* v, int c, off64_t o), (fd, v, c, o), o, \
    iov_len(v, c))                                                                          \
  X(ssize_t, preadv2, (int fd, const struct iovec* v, int c, off_t o, int f),               \
    (fd, v, c, o, f), o, iov_len(v, c))                                                     \
  X(ssize_t, preadv64v2, (int fd, const struct iovec* v, int c, off64_t o, int f),          \
    (fd, v, c, o, f), o, iov_len(v, c))

#define VOL_GEN_READ(RET, NAME, PARAMS, ARGS, OFF, LEN)                      \
  VOL_WRAPPER(RET, NAME, PARAMS) {                                           \
    if (__builtin_expect(fd_needs_check(fd), 0) && ensure_range(fd, OFF, LEN) < 0) \
      return -1;                                                             \
    return VOL_REAL(NAME) ARGS;                                              \
  }
VOL_READS(VOL_GEN_READ)

// The fortified reads. __read_chk(fd, buf, n, buflen) etc.
using read_chk_fn = ssize_t (*)(int, void*, size_t, size_t);
using pread_chk_fn = ssize_t (*)(int, void*, size_t, off_t, size_t);
VOL_WRAPPER_T(ssize_t, __read_chk, (int fd, void* b, size_t n, size_t bl), read_chk_fn) {
  if (fd_needs_check(fd) && ensure_range(fd, -1, n) < 0) return -1;
  return VOL_REAL(__read_chk)(fd, b, n, bl);
}
VOL_WRAPPER_T(ssize_t, __pread_chk, (int fd, void* b, size_t n, off_t o, size_t bl), pread_chk_fn) {
  if (fd_needs_check(fd) && ensure_range(fd, o, n) < 0) return -1;
  return VOL_REAL(__pread_chk)(fd, b, n, o, bl);
}
VOL_WRAPPER_T(ssize_t, __pread64_chk, (int fd, void* b, size_t n, off_t o, size_t bl), pread_chk_fn) {
  if (fd_needs_check(fd) && ensure_range(fd, o, n) < 0) return -1;
  return VOL_REAL(__pread64_chk)(fd, b, n, o, bl);
}

// ---- reads the shim cannot see: make the range present first -----------------------
static bool is_write_fd(int fd);
// A shared writable mapping of a view file: stores reach the file after its
// fds are closed, until munmap, which the shim does not follow; the process
// stays a writer of the file until it exits (killed: cut short).
static void note_mapping(void* ret, int prot, int flags, int fd) {
  if (ret != MAP_FAILED && (prot & PROT_WRITE) && (flags & MAP_TYPE) != MAP_PRIVATE && is_write_fd(fd) &&
      own_process())
    __atomic_fetch_or(&g_fds[fd].flags, kFdMapped, __ATOMIC_RELAXED);  // beside fd_settle's CAS
}
VOL_WRAPPER(void*, mmap, (void* a, size_t n, int prot, int flags, int fd, off_t o)) {
  if (!(flags & MAP_ANONYMOUS) && fd >= 0 && fd_needs_check(fd) && ensure_range(fd, o, n) < 0)
    return MAP_FAILED;
  void* ret = VOL_REAL(mmap)(a, n, prot, flags, fd, o);
  note_mapping(ret, prot, flags, fd);
  return ret;
}
VOL_WRAPPER(void*, mmap64, (void* a, size_t n, int prot, int flags, int fd, off64_t o)) {
  if (!(flags & MAP_ANONYMOUS) && fd >= 0 && fd_needs_check(fd) && ensure_range(fd, o, n) < 0)
    return MAP_FAILED;
  void* ret = VOL_REAL(mmap64)(a, n, prot, flags, fd, o);
  note_mapping(ret, prot, flags, fd);
  return ret;
}
VOL_WRAPPER(ssize_t, sendfile, (int out, int in, off_t* o, size_t n)) {
  if (fd_needs_check(in) && ensure_range(in, o ? *o : -1, n) < 0) return -1;
  return VOL_REAL(sendfile)(out, in, o, n);
}
VOL_WRAPPER(ssize_t, sendfile64, (int out, int in, off64_t* o, size_t n)) {
  if (fd_needs_check(in) && ensure_range(in, o ? *o : -1, n) < 0) return -1;
  return VOL_REAL(sendfile64)(out, in, o, n);
}
VOL_WRAPPER(ssize_t, splice, (int in, loff_t* oi, int out, loff_t* oo, size_t n, unsigned f)) {
  if (fd_needs_check(in) && ensure_range(in, oi ? *oi : -1, n) < 0) return -1;
  return VOL_REAL(splice)(in, oi, out, oo, n, f);
}
VOL_WRAPPER(ssize_t, copy_file_range,
            (int in, loff_t* oi, int out, loff_t* oo, size_t n, unsigned f)) {
  if (fd_needs_check(in) && ensure_range(in, oi ? *oi : -1, n) < 0) return -1;
  if ((unsigned)out < (unsigned)kMaxFds && g_fds[out].mount1 && !(g_fds[out].flags & kFdWrite)) {
    errno = EBADF;
    return -1;
  }
  return VOL_REAL(copy_file_range)(in, oi, out, oo, n, f);
}

// ioctl: FICLONE/FICLONERANGE share the source's blocks, holes included.
VOL_WRAPPER_T(int, ioctl, (int fd, unsigned long req, ...), int (*)(int, unsigned long, ...)) {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (g.active) {
    if (req == FICLONE && ensure_all((int)(long)arg) < 0) return -1;
    if (req == FICLONERANGE) {
      auto* r = static_cast<const struct file_clone_range*>(arg);
      if (ensure_range((int)r->src_fd, (long)r->src_offset,
                       r->src_length ? r->src_length : ~(size_t)0 >> 1) < 0)
        return -1;
    }
  }
  return VOL_REAL(ioctl)(fd, req, arg);
}

// ---- an incomplete view file has holes on disk but not in its content -------------
// SEEK_DATA/SEEK_HOLE answer for the content (no holes), and fstat reports the
// blocks of a dense file, so that tools that skip holes (cp, tar --sparse) copy
// every byte.
#define VOL_GEN_LSEEK(NAME, OFF)                                                  \
  VOL_WRAPPER(OFF, NAME, (int fd, OFF off, int whence)) {                         \
    if ((whence == SEEK_DATA || whence == SEEK_HOLE) && fd_needs_check(fd)) {     \
      long size = incomplete_size(fd);                                            \
      if (size >= 0) {                                                            \
        if (off < 0 || off >= size) {                                             \
          errno = ENXIO;                                                          \
          return -1;                                                              \
        }                                                                         \
        return VOL_REAL(NAME)(fd, whence == SEEK_DATA ? off : (OFF)size, SEEK_SET); \
      }                                                                           \
    }                                                                             \
    return VOL_REAL(NAME)(fd, off, whence);                                       \
  }
VOL_GEN_LSEEK(lseek, off_t)
VOL_GEN_LSEEK(lseek64, off64_t)
// fstat of a view file: stat_fixups (shim.h).
template <typename St>
static void fstat_fixups(int fd, St* b) {
  if ((unsigned)fd < (unsigned)kMaxFds && g_fds[fd].mount1) stat_fixups(b);
}
// An fd opened without O_DIRECTORY is settled by its first fstat, with the
// stat at hand; a directory is populated first and stat'd again, since tar
// compares that fstat with one after the listing.
template <typename St>
static bool settled_as(int fd, int ret, St* b) {
  return ret == 0 && g.active && fd_needs_check(fd) &&
         fd_settle_as(fd, reinterpret_cast<const struct stat*>(b));
}
static_assert(sizeof(struct stat) == sizeof(struct stat64), "fstat64 fills a struct stat");
#define VOL_GEN_FSTAT(NAME, ST)                          \
  VOL_WRAPPER(int, NAME, (int fd, ST* b)) {              \
    int ret = VOL_REAL(NAME)(fd, b);                     \
    if (settled_as(fd, ret, b)) ret = VOL_REAL(NAME)(fd, b); \
    if (ret == 0) fstat_fixups(fd, b);                   \
    return ret;                                          \
  }
VOL_GEN_FSTAT(fstat, struct stat)
VOL_GEN_FSTAT(fstat64, struct stat64)
using fxstat_fn = int (*)(int, int, struct stat*);
VOL_WRAPPER_T(int, __fxstat, (int ver, int fd, struct stat* b), fxstat_fn) {
  int ret = VOL_REAL(__fxstat)(ver, fd, b);
  if (settled_as(fd, ret, b)) ret = VOL_REAL(__fxstat)(ver, fd, b);
  if (ret == 0) fstat_fixups(fd, b);
  return ret;
}
VOL_WRAPPER_T(int, __fxstat64, (int ver, int fd, struct stat* b), fxstat_fn) {
  int ret = VOL_REAL(__fxstat64)(ver, fd, b);
  if (settled_as(fd, ret, b)) ret = VOL_REAL(__fxstat64)(ver, fd, b);
  if (ret == 0) fstat_fixups(fd, b);
  return ret;
}

// ---- the fd table: dup copies an entry, close clears it ----------------------------
VOL_WRAPPER(int, dup, (int fd)) {
  int nfd = VOL_REAL(dup)(fd);
  if (nfd >= 0) fd_copy(fd, nfd);
  return nfd;
}
static int closing(int fd);
// dup2/dup3 onto the number of one of the shim's fds: a connection is given
// up, a view fd or the lifeline moves out of the way first.
static int make_room(int nfd) {
  if (!g.active) return 0;
  shim_fd_lost(nfd);
  view_fd_move_from(nfd);
  closing(nfd);  // a write fd replaced is a write fd closed (the shell's `> file` restored)
  if (int err = lifeline_move_from(nfd)) {
    errno = err;
    return -1;
  }
  return 0;
}
VOL_WRAPPER(int, dup2, (int fd, int nfd)) {
  if (make_room(nfd) < 0) return -1;
  int ret = VOL_REAL(dup2)(fd, nfd);
  if (ret >= 0 && fd != nfd) fd_copy(fd, nfd);
  return ret;
}
VOL_WRAPPER(int, dup3, (int fd, int nfd, int flags)) {
  if (make_room(nfd) < 0) return -1;
  int ret = VOL_REAL(dup3)(fd, nfd, flags);
  if (ret >= 0) fd_copy(fd, nfd);
  return ret;
}
#define VOL_GEN_FCNTL(NAME)                                                    \
  VOL_WRAPPER_T(int, NAME, (int fd, int cmd, ...), int (*)(int, int, ...)) {   \
    va_list ap;                                                                \
    va_start(ap, cmd);                                                         \
    void* arg = va_arg(ap, void*);                                             \
    va_end(ap);                                                                \
    int ret = VOL_REAL(NAME)(fd, cmd, arg);                                    \
    if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) fd_copy(fd, ret); \
    return ret;                                                                \
  }
VOL_GEN_FCNTL(fcntl)
VOL_GEN_FCNTL(fcntl64)

// Reports the file behind a view fd to the fetcher (by its /proc/self/fd
// target). Returns 0, or -1 with errno EIO when the fetcher cannot be told.
static int notify_fd(int fd, uint32_t kind) {
  char link[32], real[kPathMax], mp[kPathMax];
  proc_fd_path(link, fd);
  long len = sys(SYS_readlinkat, AT_FDCWD, link, real, sizeof real - 1);
  if (len <= 0) return 0;
  real[len] = '\0';
  // An unlinked file (or an O_TMPFILE never linked) has no path to publish.
  if (len > 10 && !strcmp(real + len - 10, " (deleted)")) return 0;
  int saved = errno;
  int err = untranslate(g.mounts, real, mp, sizeof mp) > 0 ? notify_changed(mp, kind) : 0;
  errno = err ? err : saved;
  return err ? -1 : 0;
}

// The same for a view path.
static int notify_real_path(const char* real, uint32_t kind) {
  char mp[kPathMax];
  int saved = errno;
  int err = untranslate(g.mounts, real, mp, sizeof mp) > 0 ? notify_changed(mp, kind) : 0;
  errno = err ? err : saved;
  return err ? -1 : 0;
}

// Whether another write fd of this process (other than `fd`, and other than
// those `skip` says are going away) holds the same file: its content is not
// final until the last one closes (the shell's `exec 3>f`, dup2 onto stdout).
template <typename Skip>
static bool other_write_fd(int fd, Skip skip) {
  struct stat a, b;
  if (sys(SYS_fstat, fd, &a) < 0) return false;
  int max = __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED);
  for (int o = 0; o <= max && o < kMaxFds; o++) {
    if (o == fd || !g_fds[o].mount1 || !(g_fds[o].flags & kFdWrite) || skip(o)) continue;
    if (sys(SYS_fstat, o, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return true;
  }
  return false;
}

static bool is_write_fd(int fd) {
  return (unsigned)fd < (unsigned)kMaxFds && g_fds[fd].mount1 && (g_fds[fd].flags & kFdWrite);
}

// A write fd's file is reported again when its last write fd in this process
// is closed: its content is final (a writer killed before that is cut short).
// Not one mapped for writing (note_mapping): that waits for the exit.
static int closing(int fd) {
  if ((unsigned)fd >= (unsigned)kMaxFds) return 0;
  int ret = 0;
  if (is_write_fd(fd) && !(g_fds[fd].flags & kFdMapped) && own_process() &&
      !other_write_fd(fd, [](int) { return false; }))
    ret = notify_fd(fd, VOL_CHANGED_CLOSE_WRITE);
  fd_forget(fd);
  return ret;
}

static bool cloexec(int fd) {
  long fl = sys(SYS_fcntl, fd, F_GETFD);
  return fl >= 0 && (fl & FD_CLOEXEC);
}

void vol::shim::notify_cloexec_writes() {
  if (!g.active || !own_process()) return;
  int max = __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED);
  for (int fd = 0; fd <= max && fd < kMaxFds; fd++) {
    if (is_write_fd(fd) && cloexec(fd) && !other_write_fd(fd, cloexec)) notify_fd(fd, VOL_CHANGED_CLOSE_WRITE);
  }
}

// A new process (a fork child, or an exec that inherited them) holds write
// fds its parent opened: it is one of their writers now, and the parent may
// close its copies first.
void vol::shim::notify_inherited_writes() {
  if (!g.active || !g.writes || !own_process()) return;
  int max = __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED);
  for (int fd = 0; fd <= max && fd < kMaxFds; fd++) {
    if (is_write_fd(fd)) notify_fd(fd, VOL_CHANGED_OPEN_WRITE);
  }
}

VOL_WRAPPER(int, close, (int fd)) {
  if (!g.active) return VOL_REAL(close)(fd);
  if (is_shim_fd(fd) || is_view_fd(fd) || (fd >= 0 && fd == g.lifeline)) return 0;  // the shim's own fds stay open
  int told = closing(fd);
  int ret = VOL_REAL(close)(fd);
  if (ret == 0 && told < 0) {
    errno = EIO;  // closed, but the fetcher did not hear of the new content
    return -1;
  }
  return ret;
}

// fclose closes its fd inside glibc, out of the shim's sight: without this, a
// view file written through stdio would stay "being written" until the
// process exits (no background commit takes it; a kill makes it cut short),
// and the fd's entry would outlive it for whatever next gets that number.
// The buffer is flushed first, so that the close is announced after the last
// byte reached the file.
void vol::shim::stream_closing(FILE* f) {
  int fd = fileno(f);  // -1 for a memory stream
  if (fd < 0) return;
  if (is_write_fd(fd)) fflush(f);
  closing(fd);
}
VOL_WRAPPER(int, fclose, (FILE* f)) {
  if (g.active && f != nullptr) stream_closing(f);
  return VOL_REAL(fclose)(f);
}

// close_range and closefrom close everything but the shim's sockets, its view
// fds and the lifeline.
VOL_WRAPPER_T(int, close_range, (unsigned lo, unsigned hi, int flags),
              int (*)(unsigned, unsigned, int)) {
  auto real = VOL_REAL(close_range);
  if (!g.active) return real(lo, hi, flags);
  if (!(flags & CLOSE_RANGE_CLOEXEC)) {
    int max = __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED);
    for (unsigned fd = lo; fd <= hi && (int)fd <= max && fd < (unsigned)kMaxFds; fd++)
      if (g_fds[fd].mount1 || g_fds[fd].anc1) closing((int)fd);
  }
  // Close around the shim's fds: [lo, s1-1], [s1+1, s2-1], … [sn+1, hi].
  int fds[kConns + kMaxMounts + 1];
  int n = shim_fds(fds);
  n += view_fds(fds + n);
  if (g.lifeline >= 0) fds[n++] = g.lifeline;
  for (int i = 1; i < n; i++)  // sort (n <= 25)
    for (int j = i; j > 0 && fds[j] < fds[j - 1]; j--) {
      int t = fds[j];
      fds[j] = fds[j - 1];
      fds[j - 1] = t;
    }
  unsigned from = lo;
  for (int i = 0; i < n; i++) {
    unsigned s = (unsigned)fds[i];
    if (s < from || s > hi) continue;
    if (s > from && real(from, s - 1, flags) != 0) return -1;
    if (s == ~0U) return 0;
    from = s + 1;
  }
  if (from > hi) return 0;
  return real(from, hi, flags);
}
VOL_WRAPPER(void, closefrom, (int lo)) {
  if (!g.active) return VOL_REAL(closefrom)(lo);
  vol_w_close_range((unsigned)lo, ~0U, 0);
}

// ---- fd-based modifications: EROFS on a view fd whose mount refuses writes --------
static bool fd_may_write(int fd) {
  if ((unsigned)fd >= (unsigned)kMaxFds || !g_fds[fd].mount1) return true;
  int m = g_fds[fd].mount1 - 1;
  if (g.writes && g.mounts.m[m].rw) return true;
  errno = EROFS;
  return false;
}
static int fd_xattr_ok(int fd, const char* name) {
  if ((unsigned)fd >= (unsigned)kMaxFds || !g_fds[fd].mount1 || (name && !strncmp(name, "user.", 5)))
    return 0;
  errno = ENOTSUP;  // vol publishes user.* extended attributes only
  return -1;
}
#define VOL_FD_WRITES(X)                                                              \
  X(int, ftruncate, (int fd, off_t l), (fd, l), 0)                                     \
  X(int, ftruncate64, (int fd, off64_t l), (fd, l), 0)                                 \
  X(int, fchmod, (int fd, mode_t m), (fd, m), 0)                                       \
  X(int, fchown, (int fd, uid_t u, gid_t g), (fd, u, g), 0)                            \
  X(int, futimens, (int fd, const struct timespec* t), (fd, t), 0)                     \
  X(int, futimes, (int fd, const struct timeval* t), (fd, t), 0)                       \
  X(int, fallocate, (int fd, int m, off_t o, off_t l), (fd, m, o, l), 0)               \
  X(int, fallocate64, (int fd, int m, off64_t o, off64_t l), (fd, m, o, l), 0)         \
  X(int, posix_fallocate, (int fd, off_t o, off_t l), (fd, o, l), 0)                   \
  X(int, posix_fallocate64, (int fd, off64_t o, off64_t l), (fd, o, l), 0)             \
  X(int, fsetxattr, (int fd, const char* n, const void* v, size_t s, int f), (fd, n, v, s, f), \
    fd_xattr_ok(fd, n))                                                                \
  X(int, fremovexattr, (int fd, const char* n), (fd, n), fd_xattr_ok(fd, n))
// A shared content file is never changed through an fd (a read fd can chmod,
// chown, set times and xattrs): it gets a private copy, and the change is made
// to that, through an fd of its own.
#define VOL_GEN_FD_WRITE(RET, NAME, PARAMS, ARGS, PRE)                    \
  VOL_WRAPPER(RET, NAME, PARAMS) {                                        \
    if (!fd_may_write(fd) || (PRE) < 0) return -1;                        \
    if ((unsigned)fd < (unsigned)kMaxFds && g_fds[fd].mount1 && !(g_fds[fd].flags & kFdWrite)) { \
      char priv[kPathMax];                                                \
      int p = make_private_fd(fd, priv, sizeof priv);                     \
      if (p < 0) return -1;                                               \
      if (p > 0) {                                                        \
        int orig = fd;                                                    \
        long pfd = sys(SYS_openat, AT_FDCWD, priv, O_RDONLY | O_NOFOLLOW | O_CLOEXEC); \
        if (pfd < 0) {                                                    \
          errno = (int)-pfd;                                              \
          return -1;                                                      \
        }                                                                 \
        fd = (int)pfd;                                                    \
        RET r2 = VOL_REAL(NAME) ARGS;                                     \
        int err = errno;                                                  \
        sys(SYS_close, pfd);                                              \
        fd = orig;                                                        \
        if (r2 == 0 && notify_real_path(priv, VOL_CHANGED_PATH) < 0) return -1; \
        errno = err;                                                      \
        return r2;                                                        \
      }                                                                   \
    }                                                                     \
    RET ret = VOL_REAL(NAME) ARGS;                                        \
    /* A write fd's file is reported when it is closed; others now. */    \
    if (ret == 0 && (unsigned)fd < (unsigned)kMaxFds && g_fds[fd].mount1 && \
        !(g_fds[fd].flags & kFdWrite) && notify_fd(fd, VOL_CHANGED_PATH) < 0) \
      return -1;                                                          \
    return ret;                                                           \
  }
VOL_FD_WRITES(VOL_GEN_FD_WRITE)

// fstatfs/fstatvfs of a view fd: a read-only mount says so (ST_RDONLY).
static bool fd_read_only(int fd) {
  if ((unsigned)fd >= (unsigned)kMaxFds || !g_fds[fd].mount1) return false;
  int m = g_fds[fd].mount1 - 1;
  return !(g.writes && g.mounts.m[m].rw);
}
#define VOL_FD_STATFS(X)                       \
  X(fstatfs, struct statfs, f_flags)           \
  X(fstatfs64, struct statfs64, f_flags)       \
  X(fstatvfs, struct statvfs, f_flag)          \
  X(fstatvfs64, struct statvfs64, f_flag)
#define VOL_GEN_FD_STATFS(NAME, ST, FLAGS)                            \
  VOL_WRAPPER(int, NAME, (int fd, ST* b)) {                           \
    int ret = VOL_REAL(NAME)(fd, b);                                  \
    if (ret == 0 && fd_read_only(fd)) b->FLAGS |= ST_RDONLY;          \
    return ret;                                                       \
  }
VOL_FD_STATFS(VOL_GEN_FD_STATFS)

// ---- sync and syncfs commit the session's writes (the write path) -------------------
VOL_WRAPPER(void, sync, (void)) {
  VOL_REAL(sync)();
  if (g.active && g.writes) vol_commit("");
}
VOL_WRAPPER(int, syncfs, (int fd)) {
  int ret = VOL_REAL(syncfs)(fd);
  if (ret == 0 && g.active && g.writes && (unsigned)fd < (unsigned)kMaxFds && g_fds[fd].mount1)
    return vol_commit(g.mounts.m[g_fds[fd].mount1 - 1].mount);
  return ret;
}
