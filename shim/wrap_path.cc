// Wrappers for calls that take path arguments: each translates its paths with
// resolve() and hands glibc a real local path. Calls that modify the file
// system go through may_write() (EROFS unless the mount accepts writes) and
// report the changed mount path to the fetcher.
//
// The wrappers are generated from tables (X-macros), one row per symbol,
// grouped as in shared/RESEARCH.md. Special cases (open, rename, results that
// are paths) are written out below the tables.
#undef _FORTIFY_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/inotify.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "shim.h"

namespace vol::shim {
namespace {

// Tells the fetcher that the path behind r changed (errno preserved).
void changed(const Resolved& r, uint32_t kind = VOL_CHANGED_PATH) {
  if (r.mount < 0) return;
  int saved = errno;
  char mp[kPathMax];
  if (mount_path_of(r, mp, sizeof mp)) notify_changed(mp, kind);
  errno = saved;
}

// Before dropping the content of a file still arriving that is not a shared
// content file (O_TRUNC, truncate to 0, unlink, rename onto it): the fetcher
// retires its slot so that nothing is fetched into it afterwards (session.h).
int discard(const Resolved& r, bool follow) {
  if (r.mount < 0 || !incomplete_at(r.dirfd, r.path, follow)) return 0;
  struct stat st;
  if (sys(SYS_newfstatat, r.dirfd, r.path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 && is_content_file(st))
    return 0;  // shared: its bytes keep arriving for whoever holds it
  char mp[kPathMax];
  if (!mount_path_of(r, mp, sizeof mp)) return 0;
  int err = notify_changed(mp, VOL_CHANGED_DISCARD);
  if (err) {
    errno = err;
    return -1;
  }
  return 0;
}
// Before changing an existing file (writing, truncating, its metadata): a
// shared content file is replaced by a private copy (lazy.cc); `empty` when
// its content is about to be dropped anyway. `follow`: the call follows a
// final symlink, so the file it reaches is the one to copy. Returns 0, or -1
// with errno set.
int privatize(const Resolved& r, bool follow, bool empty = false) {
  if (r.mount < 0 || !r.path) return 0;
  // A file whose content is still arriving but that is not a shared content
  // file (its cache link is gone): fetched in full before anything changes it.
  if (empty && discard(r, follow) < 0) return -1;
  if (!empty && incomplete_at(r.dirfd, r.path, follow)) {
    struct stat st;
    if (sys(SYS_newfstatat, r.dirfd, r.path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 && !is_content_file(st) &&
        ensure_path_at(r.dirfd, r.path) < 0)
      return -1;
  }
  if (!follow) return make_private(r.dirfd, r.path, empty);
  struct stat st;
  if (sys(SYS_newfstatat, r.dirfd, r.path, &st, 0) != 0 || !is_content_file(st)) return 0;
  long fd = sys(SYS_openat, r.dirfd, r.path, O_PATH | O_CLOEXEC);
  if (fd < 0) return 0;
  char real[kPathMax];
  int ret = make_private_fd((int)fd, real, sizeof real);
  sys(SYS_close, fd);
  if (ret == 1 && empty) ret = 0;  // the copy already holds nothing to keep either way
  return ret < 0 ? -1 : 0;
}
int parent_ready(const Resolved& r) { return r.mount < 0 ? 0 : populate_parent(r.dirfd, r.path); }
int self_ready(const Resolved& r) { return r.mount < 0 ? 0 : populate_self(r.dirfd, r.path); }

// A symlink in a view whose target is a view path: its size becomes the length
// of the mount path that readlink hands back.
template <typename N>
void link_size(int dirfd, const char* path, N* size) {
  char target[kPathMax];
  long n = sys(SYS_readlinkat, dirfd, path, target, sizeof target - 1);
  if (n <= 0) return;
  target[n] = '\0';
  long m = untranslate_in_place(target, sizeof target);
  if (m > 0) *size = (N)m;
}

template <typename T>
T fail() {
  if constexpr (std::is_pointer_v<T>) return nullptr;
  else return (T)-1;
}

bool is_write_open(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) ||
         (flags & O_TMPFILE) == O_TMPFILE;
}

}  // namespace
}  // namespace vol::shim

using namespace vol::shim;

// ---- read-only calls with one path: RET NAME(const char* path, ...) ----------
#define VOL_PATH_READ(X)                                                                   \
  X(int, statfs, (const char* path, struct statfs* b), (r.path, b))                         \
  X(int, statfs64, (const char* path, struct statfs64* b), (r.path, b))                     \
  X(int, statvfs, (const char* path, struct statvfs* b), (r.path, b))                       \
  X(int, statvfs64, (const char* path, struct statvfs64* b), (r.path, b))                   \
  X(ssize_t, getxattr, (const char* path, const char* n, void* v, size_t s), (r.path, n, v, s)) \
  X(ssize_t, lgetxattr, (const char* path, const char* n, void* v, size_t s), (r.path, n, v, s)) \
  X(ssize_t, listxattr, (const char* path, char* l, size_t s), (r.path, l, s))              \
  X(ssize_t, llistxattr, (const char* path, char* l, size_t s), (r.path, l, s))             \
  X(long, pathconf, (const char* path, int n), (r.path, n))

// ---- listings: glibc opens the directory itself, so it is populated first ----------
#define VOL_LISTS(X)                                                                       \
  X(int, scandir, (const char* path, struct dirent*** l, int (*f)(const struct dirent*),    \
                   int (*c)(const struct dirent**, const struct dirent**)), (r.path, l, f, c), \
    AT_FDCWD)                                                                               \
  X(int, scandir64, (const char* path, struct dirent64*** l, int (*f)(const struct dirent64*), \
                     int (*c)(const struct dirent64**, const struct dirent64**)), (r.path, l, f, c), \
    AT_FDCWD)                                                                               \
  X(int, scandirat, (int dirfd, const char* path, struct dirent*** l,                      \
                     int (*f)(const struct dirent*),                                        \
                     int (*c)(const struct dirent**, const struct dirent**)),               \
    (dirfd, r.path, l, f, c), dirfd)

// ---- calls that modify the file system, one path ------------------------------
#define VOL_PATH_WRITE(X)                                                                  \
  X(int, mkdir, (const char* path, mode_t m), (r.path, m), parent_ready(r))                 \
  X(int, rmdir, (const char* path), (r.path), self_ready(r))                                \
  X(int, unlink, (const char* path), (r.path), discard(r, false))                           \
  X(int, truncate, (const char* path, off_t l), (r.path, l), privatize(r, true, l == 0))    \
  X(int, truncate64, (const char* path, off64_t l), (r.path, l), privatize(r, true, l == 0)) \
  X(int, chmod, (const char* path, mode_t m), (r.path, m), privatize(r, true))              \
  X(int, chown, (const char* path, uid_t u, gid_t g), (r.path, u, g), privatize(r, true))   \
  X(int, lchown, (const char* path, uid_t u, gid_t g), (r.path, u, g), privatize(r, false)) \
  X(int, utime, (const char* path, const struct utimbuf* t), (r.path, t), privatize(r, true)) \
  X(int, utimes, (const char* path, const struct timeval* t), (r.path, t), privatize(r, true)) \
  X(int, lutimes, (const char* path, const struct timeval* t), (r.path, t), privatize(r, false)) \
  X(int, mknod, (const char* path, mode_t m, dev_t d), (r.path, m, d), parent_ready(r))     \
  X(int, mkfifo, (const char* path, mode_t m), (r.path, m), parent_ready(r))                \
  X(int, setxattr, (const char* path, const char* n, const void* v, size_t s, int f),       \
    (r.path, n, v, s, f), privatize(r, true))                                               \
  X(int, lsetxattr, (const char* path, const char* n, const void* v, size_t s, int f),      \
    (r.path, n, v, s, f), privatize(r, false))                                              \
  X(int, removexattr, (const char* path, const char* n), (r.path, n), privatize(r, true))   \
  X(int, lremovexattr, (const char* path, const char* n), (r.path, n), privatize(r, false))

#define VOL_AT_WRITE(X)                                                                    \
  X(int, mkdirat, (int dirfd, const char* path, mode_t m), (dirfd, r.path, m), parent_ready(r)) \
  X(int, unlinkat, (int dirfd, const char* path, int f), (dirfd, r.path, f),                \
    (f & AT_REMOVEDIR) ? self_ready(r) : discard(r, false))                                 \
  X(int, fchmodat, (int dirfd, const char* path, mode_t m, int f), (dirfd, r.path, m, f),   \
    privatize(r, !(f & AT_SYMLINK_NOFOLLOW)))                                               \
  X(int, fchownat, (int dirfd, const char* path, uid_t u, gid_t g, int f),                  \
    (dirfd, r.path, u, g, f), privatize(r, !(f & AT_SYMLINK_NOFOLLOW)))                     \
  X(int, utimensat, (int dirfd, const char* path, const struct timespec* t, int f),         \
    (dirfd, r.path, t, f), privatize(r, !(f & AT_SYMLINK_NOFOLLOW)))                        \
  X(int, futimesat, (int dirfd, const char* path, const struct timeval* t), (dirfd, r.path, t), \
    privatize(r, true))                                                                     \
  X(int, mknodat, (int dirfd, const char* path, mode_t m, dev_t d), (dirfd, r.path, m, d),  \
    parent_ready(r))                                                                        \
  X(int, mkfifoat, (int dirfd, const char* path, mode_t m), (dirfd, r.path, m), parent_ready(r))

#define VOL_BODY_READ(DIRFD, RET, NAME, ARGS)                                    \
  {                                                                              \
    Resolved r;                                                                  \
    if (!resolve(DIRFD, path, &r)) return fail<RET>();                           \
    return lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(NAME) ARGS; }); \
  }
#define VOL_BODY_WRITE(DIRFD, RET, NAME, ARGS, PRE)                                   \
  {                                                                                   \
    Resolved r;                                                                       \
    if (!resolve(DIRFD, path, &r) || !may_write(r)) return fail<RET>();               \
    if (r.mount >= 0 && (PRE) < 0) return fail<RET>();                                \
    RET ret = lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(NAME) ARGS; }); \
    if (ret == 0) changed(r);                                                         \
    return ret;                                                                       \
  }
#define VOL_GEN_PATH_READ(RET, NAME, PARAMS, ARGS) \
  VOL_WRAPPER(RET, NAME, PARAMS) VOL_BODY_READ(AT_FDCWD, RET, NAME, ARGS)
#define VOL_GEN_LIST(RET, NAME, PARAMS, ARGS, DIRFD)                                   \
  VOL_WRAPPER(RET, NAME, PARAMS) {                                                      \
    Resolved r;                                                                         \
    if (!resolve(DIRFD, path, &r)) return fail<RET>();                                  \
    return lazy_retry(r.mount, r.dirfd, r.path, [&] {                                   \
      return self_ready(r) < 0 ? fail<RET>() : VOL_REAL(NAME) ARGS;                     \
    });                                                                                 \
  }
#define VOL_GEN_PATH_WRITE(RET, NAME, PARAMS, ARGS, PRE) \
  VOL_WRAPPER(RET, NAME, PARAMS) VOL_BODY_WRITE(AT_FDCWD, RET, NAME, ARGS, PRE)
#define VOL_GEN_AT_WRITE(RET, NAME, PARAMS, ARGS, PRE) \
  VOL_WRAPPER(RET, NAME, PARAMS) VOL_BODY_WRITE(dirfd, RET, NAME, ARGS, PRE)

// ---- stat: like the reads above, and a symlink whose target is a view path
// reports the length of the mount path that readlink returns. ----------------------
#define VOL_STATS(X)                                                                           \
  X(stat, (const char* path, struct stat* b), (r.path, b), AT_FDCWD, st_mode, st_size)         \
  X(lstat, (const char* path, struct stat* b), (r.path, b), AT_FDCWD, st_mode, st_size)        \
  X(stat64, (const char* path, struct stat64* b), (r.path, b), AT_FDCWD, st_mode, st_size)     \
  X(lstat64, (const char* path, struct stat64* b), (r.path, b), AT_FDCWD, st_mode, st_size)    \
  X(fstatat, (int dirfd, const char* path, struct stat* b, int f), (dirfd, r.path, b, f), dirfd, \
    st_mode, st_size)                                                                          \
  X(fstatat64, (int dirfd, const char* path, struct stat64* b, int f), (dirfd, r.path, b, f),  \
    dirfd, st_mode, st_size)                                                                   \
  X(statx, (int dirfd, const char* path, int f, unsigned m, struct statx* b),                 \
    (dirfd, r.path, f, m, b), dirfd, stx_mode, stx_size)
#define VOL_GEN_STAT(NAME, PARAMS, ARGS, DIRFD, MODE, SIZE)                \
  VOL_WRAPPER(int, NAME, PARAMS) {                                         \
    Resolved r;                                                            \
    if (!resolve(DIRFD, path, &r)) return -1;                              \
    int ret = lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(NAME) ARGS; }); \
    if (ret == 0 && r.mount >= 0) stat_fixups(DIRFD, r.path, b);          \
    return ret;                                                            \
  }
// What a stat of a view object reports differently from the view file itself.
template <typename St>
static void stat_fixups(int dirfd, const char* path, St* b) {
  if (S_ISLNK(b->st_mode)) {
    link_size(dirfd, path, &b->st_size);
  } else {
    content_fixups_st(b);
    if (S_ISREG(b->st_mode)) {
      dense_blocks(b->st_dev, b->st_ino, b->st_size, &b->st_blocks);
      b->st_ctim = b->st_mtim;  // see view_file_ctime in shim.h
    }
  }
}
static void stat_fixups(int dirfd, const char* path, struct statx* b) {
  if (S_ISLNK(b->stx_mode)) {
    link_size(dirfd, path, &b->stx_size);
  } else {
    uint64_t dev = makedev(b->stx_dev_major, b->stx_dev_minor);
    uint32_t mode = b->stx_mode;
    uint64_t nlink = b->stx_nlink;
    content_fixups(dev, b->stx_ino, &mode, &nlink);
    if (b->stx_mask & STATX_MODE) b->stx_mode = (uint16_t)mode;
    if (b->stx_mask & STATX_NLINK) b->stx_nlink = (uint32_t)nlink;
    if (S_ISREG(b->stx_mode)) {
      if (b->stx_mask & STATX_BLOCKS) dense_blocks(dev, b->stx_ino, b->stx_size, &b->stx_blocks);
      if ((b->stx_mask & STATX_CTIME) && (b->stx_mask & STATX_MTIME)) b->stx_ctime = b->stx_mtime;
    }
  }
}
VOL_STATS(VOL_GEN_STAT)
VOL_PATH_READ(VOL_GEN_PATH_READ)
VOL_LISTS(VOL_GEN_LIST)
VOL_PATH_WRITE(VOL_GEN_PATH_WRITE)
VOL_AT_WRITE(VOL_GEN_AT_WRITE)

// ---- the pre-2.33 stat ABI (__xstat…): binaries built against older glibc ----
// struct stat is the kernel's on x86_64 and aarch64, so these map onto fstatat.
using fstatat_fn = int (*)(int, const char*, struct stat*, int);
VOL_REAL_DECL_T(fstatat_x, fstatat_fn);
static int xstat_at(int dirfd, const char* path, void* buf, int flags) {
  Resolved r;
  if (!resolve(dirfd, path, &r)) return -1;
  if (!real_fstatat_x_ptr)
    resolve_real(reinterpret_cast<void**>(&real_fstatat_x_ptr), "fstatat");
  auto* st = static_cast<struct stat*>(buf);
  int ret = lazy_retry(r.mount, r.dirfd, r.path, [&] { return real_fstatat_x_ptr(dirfd, r.path, st, flags); });
  if (ret == 0 && r.mount >= 0) stat_fixups(dirfd, r.path, st);
  return ret;
}
extern "C" VOL_API int vol_w___xstat(int, const char* p, void* b) __asm__("__xstat");
extern "C" int vol_w___xstat(int, const char* p, void* b) { return xstat_at(AT_FDCWD, p, b, 0); }
extern "C" VOL_API int vol_w___xstat64(int, const char* p, void* b) __asm__("__xstat64");
extern "C" int vol_w___xstat64(int, const char* p, void* b) { return xstat_at(AT_FDCWD, p, b, 0); }
extern "C" VOL_API int vol_w___lxstat(int, const char* p, void* b) __asm__("__lxstat");
extern "C" int vol_w___lxstat(int, const char* p, void* b) {
  return xstat_at(AT_FDCWD, p, b, AT_SYMLINK_NOFOLLOW);
}
extern "C" VOL_API int vol_w___lxstat64(int, const char* p, void* b) __asm__("__lxstat64");
extern "C" int vol_w___lxstat64(int, const char* p, void* b) {
  return xstat_at(AT_FDCWD, p, b, AT_SYMLINK_NOFOLLOW);
}
extern "C" VOL_API int vol_w___fxstatat(int, int d, const char* p, void* b, int f) __asm__("__fxstatat");
extern "C" int vol_w___fxstatat(int, int d, const char* p, void* b, int f) { return xstat_at(d, p, b, f); }
extern "C" VOL_API int vol_w___fxstatat64(int, int d, const char* p, void* b, int f) __asm__("__fxstatat64");
extern "C" int vol_w___fxstatat64(int, int d, const char* p, void* b, int f) { return xstat_at(d, p, b, f); }

// ---- access: a write-access question on a read-only mount is EROFS ------------
// A content file lacks write bits on disk (it is shared); whether a program
// may write it is what its mode in the snapshot says (it gets a private copy).
static int access_check(const Resolved& r, int* mode, int flags) {
  if ((*mode & W_OK) && !may_write(r)) return -1;
  struct stat st;
  if ((*mode & W_OK) && r.mount >= 0 && sys(SYS_newfstatat, r.dirfd, r.path, &st, flags & AT_SYMLINK_NOFOLLOW) == 0 &&
      is_content_file(st)) {
    content_fixups_st(&st);
    uid_t uid = (flags & AT_EACCESS) ? geteuid() : getuid();
    bool ok = uid == 0 || (st.st_uid == uid ? (st.st_mode & S_IWUSR)
                           : (st.st_gid == ((flags & AT_EACCESS) ? getegid() : getgid())) ? (st.st_mode & S_IWGRP)
                                                                                            : (st.st_mode & S_IWOTH));
    if (!ok) {
      errno = EACCES;
      return -1;
    }
    *mode &= ~W_OK;
    if (*mode == 0) *mode = F_OK;
  }
  return 0;
}
VOL_WRAPPER(int, access, (const char* path, int mode)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  return lazy_retry(r.mount, r.dirfd, r.path, [&] {
    int m = mode;
    return access_check(r, &m, 0) ? -1 : VOL_REAL(access)(r.path, m);
  });
}
VOL_WRAPPER(int, euidaccess, (const char* path, int mode)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  return lazy_retry(r.mount, r.dirfd, r.path, [&] {
    int m = mode;
    return access_check(r, &m, AT_EACCESS) ? -1 : VOL_REAL(euidaccess)(r.path, m);
  });
}
VOL_WRAPPER(int, eaccess, (const char* path, int mode)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  return lazy_retry(r.mount, r.dirfd, r.path, [&] {
    int m = mode;
    return access_check(r, &m, AT_EACCESS) ? -1 : VOL_REAL(eaccess)(r.path, m);
  });
}
VOL_WRAPPER(int, faccessat, (int dirfd, const char* path, int mode, int flags)) {
  Resolved r;
  if (!resolve(dirfd, path, &r)) return -1;
  return lazy_retry(r.mount, r.dirfd, r.path, [&] {
    int m = mode;
    return access_check(r, &m, flags) ? -1 : VOL_REAL(faccessat)(dirfd, r.path, m, flags);
  });
}

// ---- open -----------------------------------------------------------------------
// Every open funnels into the real openat. A read-only open of a view file is
// noted in the fd table (the lazy-content guard); a write-open needs a writable
// mount and first makes a committed file complete (copy-up) unless it truncates.
VOL_REAL_DECL(openat);
static int open_impl(int dirfd, const char* path, int flags, mode_t mode) {
  Resolved r;
  if (!resolve(dirfd, path, &r)) return -1;
  auto real = VOL_REAL(openat);
  if (r.mount < 0) {
    int fd = real(dirfd, r.path, flags, mode);
    // A reopen through /proc/self/fd or /dev/fd may land in a view.
    if (fd >= 0 && g.active && path && path[0] == '/' &&
        (strncmp(path, "/proc/self/fd/", 14) == 0 || strncmp(path, "/dev/fd/", 8) == 0)) {
      char real_path[kPathMax];
      long n = sys(SYS_readlinkat, AT_FDCWD, r.path, real_path, sizeof real_path - 1);
      if (n > 0) {
        real_path[n] = '\0';
        int v = view_of(g.mounts, real_path);
        if (v >= 0) fd_note(fd, v, flags);
      }
    }
    return fd;
  }
  bool writes = is_write_open(flags);
  if (writes) {
    if (!may_write(r)) return -1;
    if ((flags & O_CREAT) && parent_ready(r) < 0) return -1;
    if (privatize(r, !(flags & O_NOFOLLOW), flags & O_TRUNC) < 0) return -1;
  } else if ((flags & O_CREAT) && !may_write(r)) {
    // O_CREAT of an existing file only opens it; creating one is a write.
    int fd = real(dirfd, r.path, flags & ~(O_CREAT | O_EXCL), 0);
    if (fd >= 0 && (flags & O_EXCL)) {
      sys(SYS_close, fd);
      errno = EEXIST;
      return -1;
    }
    if (fd < 0 && errno == ENOENT) errno = EROFS;
    if (fd >= 0) fd_note(fd, r.mount, flags);
    return fd;
  }
  if ((flags & O_CREAT) && !writes && parent_ready(r) < 0) return -1;
  int fd = lazy_retry(r.mount, r.dirfd, r.path, [&] { return real(dirfd, r.path, flags, mode); });
  if (fd >= 0) {
    fd_note(fd, r.mount, flags);
    if ((flags & O_ACCMODE) != O_RDONLY) changed(r, VOL_CHANGED_OPEN_WRITE);
    else if (writes || (flags & O_CREAT)) changed(r);
  }
  return fd;
}

static mode_t open_mode(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}
#define VOL_GEN_OPEN(NAME)                                            \
  extern "C" VOL_API int vol_w_##NAME(const char*, int, ...) __asm__(#NAME); \
  extern "C" int vol_w_##NAME(const char* path, int flags, ...) {     \
    va_list ap;                                                       \
    va_start(ap, flags);                                              \
    mode_t mode = open_mode(flags, ap);                               \
    va_end(ap);                                                       \
    return open_impl(AT_FDCWD, path, flags, mode);                    \
  }
#define VOL_GEN_OPENAT(NAME)                                               \
  extern "C" VOL_API int vol_w_##NAME(int, const char*, int, ...) __asm__(#NAME); \
  extern "C" int vol_w_##NAME(int dirfd, const char* path, int flags, ...) { \
    va_list ap;                                                            \
    va_start(ap, flags);                                                   \
    mode_t mode = open_mode(flags, ap);                                    \
    va_end(ap);                                                            \
    return open_impl(dirfd, path, flags, mode);                            \
  }
VOL_GEN_OPEN(open)
VOL_GEN_OPEN(open64)
VOL_GEN_OPENAT(openat)
VOL_GEN_OPENAT(openat64)

// The fortified entry points (_FORTIFY_SOURCE builds call these).
extern "C" VOL_API int vol_w___open_2(const char*, int) __asm__("__open_2");
extern "C" int vol_w___open_2(const char* path, int flags) { return open_impl(AT_FDCWD, path, flags, 0); }
extern "C" VOL_API int vol_w___open64_2(const char*, int) __asm__("__open64_2");
extern "C" int vol_w___open64_2(const char* path, int flags) { return open_impl(AT_FDCWD, path, flags, 0); }
extern "C" VOL_API int vol_w___openat_2(int, const char*, int) __asm__("__openat_2");
extern "C" int vol_w___openat_2(int d, const char* path, int flags) { return open_impl(d, path, flags, 0); }
extern "C" VOL_API int vol_w___openat64_2(int, const char*, int) __asm__("__openat64_2");
extern "C" int vol_w___openat64_2(int d, const char* path, int flags) { return open_impl(d, path, flags, 0); }
VOL_WRAPPER(int, creat, (const char* path, mode_t mode)) {
  return open_impl(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
VOL_WRAPPER(int, creat64, (const char* path, mode_t mode)) {
  return open_impl(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

// ---- stdio: glibc reads a FILE with its internal read, which the shim cannot
// see, so a view file opened through stdio is made complete first. -----------------
static int fopen_flags(const char* mode) {
  bool plus = mode && strchr(mode, '+');
  switch (mode ? mode[0] : 'r') {
    case 'r': return plus ? O_RDWR : O_RDONLY;
    case 'w': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    default: return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
  }
}
static FILE* fopen_done(FILE* f, const Resolved& r, int flags) {
  if (!f || r.mount < 0) return f;
  int fd = fileno(f);
  fd_note(fd, r.mount, flags);
  if (ensure_all(fd) < 0) {
    int saved = errno;
    fclose(f);
    errno = saved;
    return nullptr;
  }
  if (is_write_open(flags)) changed(r, VOL_CHANGED_OPEN_WRITE);
  return f;
}
static bool fopen_check(const char* path, const char* mode, Resolved* r, int* flags) {
  if (!resolve(AT_FDCWD, path, r)) return false;
  *flags = fopen_flags(mode);
  if (r->mount < 0 || !is_write_open(*flags)) return true;
  if (!may_write(*r) || parent_ready(*r) < 0) return false;
  return privatize(*r, true, *flags & O_TRUNC) == 0;
}
#define VOL_GEN_FOPEN(NAME)                                                  \
  VOL_WRAPPER(FILE*, NAME, (const char* path, const char* mode)) {           \
    Resolved r;                                                              \
    int flags;                                                               \
    if (!fopen_check(path, mode, &r, &flags)) return nullptr;                \
    return fopen_done(lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(NAME)(r.path, mode); }), r, flags); \
  }
#define VOL_GEN_FREOPEN(NAME)                                                          \
  VOL_WRAPPER(FILE*, NAME, (const char* path, const char* mode, FILE* stream)) {       \
    Resolved r;                                                                        \
    int flags;                                                                         \
    if (!fopen_check(path, mode, &r, &flags)) return nullptr;                          \
    return fopen_done(lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(NAME)(r.path, mode, stream); }), r, flags); \
  }
VOL_GEN_FOPEN(fopen)
VOL_GEN_FOPEN(fopen64)
VOL_GEN_FREOPEN(freopen)
VOL_GEN_FREOPEN(freopen64)

VOL_WRAPPER(FILE*, fdopen, (int fd, const char* mode)) {
  if (fd_needs_check(fd) && ensure_all(fd) < 0) return nullptr;
  return VOL_REAL(fdopen)(fd, mode);
}

// ---- directories and the cwd -------------------------------------------------------
VOL_WRAPPER(DIR*, opendir, (const char* path)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return nullptr;
  DIR* d = lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(opendir)(r.path); });
  if (d && r.mount >= 0) fd_note(dirfd(d), r.mount, O_RDONLY);
  return d;
}

VOL_WRAPPER(int, chdir, (const char* path)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  int ret = lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(chdir)(r.path); });
  if (ret == 0 && g.active && own_process()) update_cwd();
  return ret;
}
VOL_WRAPPER(int, fchdir, (int fd)) {
  int ret = VOL_REAL(fchdir)(fd);
  if (ret == 0 && g.active && own_process()) update_cwd();
  return ret;
}

// Results that are paths: a view path goes back to the program as its mount path.
// `buf` null means "allocate", as getcwd(NULL, size) and realpath(p, NULL) do.
static char* hand_back(const char* res, char* buf, size_t size, bool exact_size_given) {
  size_t n = strlen(res);
  if (buf) {
    if (n + 1 > size) {
      errno = ERANGE;
      return nullptr;
    }
    memcpy(buf, res, n + 1);
    return buf;
  }
  size_t cap = exact_size_given && size > n + 1 ? size : n + 1;
  if (exact_size_given && size && size < n + 1) {
    errno = ERANGE;
    return nullptr;
  }
  char* out = static_cast<char*>(malloc(cap));
  if (!out) return nullptr;
  memcpy(out, res, n + 1);
  return out;
}

VOL_WRAPPER(char*, getcwd, (char* buf, size_t size)) {
  if (!g.active) return VOL_REAL(getcwd)(buf, size);
  char tmp[kPathMax];
  if (!VOL_REAL(getcwd)(tmp, sizeof tmp)) return VOL_REAL(getcwd)(buf, size);
  if (untranslate_in_place(tmp, sizeof tmp) < 0) {
    errno = ENAMETOOLONG;
    return nullptr;
  }
  if (buf && size == 0) {
    errno = EINVAL;
    return nullptr;
  }
  return hand_back(tmp, buf, size, true);
}
extern "C" VOL_API char* vol_w___getcwd_chk(char*, size_t, size_t) __asm__("__getcwd_chk");
extern "C" char* vol_w___getcwd_chk(char* buf, size_t size, size_t buflen) {
  if (size > buflen) abort();  // what glibc's __chk_fail does, minus the message
  return vol_w_getcwd(buf, size);
}
VOL_WRAPPER(char*, get_current_dir_name, (void)) {
  if (!g.active) return VOL_REAL(get_current_dir_name)();
  return vol_w_getcwd(nullptr, 0);
}

VOL_WRAPPER(char*, realpath, (const char* path, char* resolved)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return nullptr;
  if (!g.active) return VOL_REAL(realpath)(r.path, resolved);
  char tmp[kPathMax];
  if (!lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(realpath)(r.path, tmp); })) return nullptr;
  if (untranslate_in_place(tmp, sizeof tmp) < 0) {
    errno = ENAMETOOLONG;
    return nullptr;
  }
  return hand_back(tmp, resolved, PATH_MAX, false);
}
extern "C" VOL_API char* vol_w___realpath_chk(const char*, char*, size_t) __asm__("__realpath_chk");
extern "C" char* vol_w___realpath_chk(const char* path, char* resolved, size_t) {
  return vol_w_realpath(path, resolved);
}
VOL_WRAPPER(char*, canonicalize_file_name, (const char* path)) {
  return vol_w_realpath(path, nullptr);
}

// readlink: a target that is a view path (absolute symlinks into the volume,
// /proc/self/fd/N, /proc/self/cwd, /proc/self/exe) goes back as a mount path.
static ssize_t readlink_done(ssize_t n, char* tmp, char* buf, size_t size) {
  if (n < 0) return n;
  tmp[n] = '\0';
  long m = untranslate_in_place(tmp, kPathMax);
  if (m < 0) m = n;
  size_t out = (size_t)m < size ? (size_t)m : size;
  memcpy(buf, tmp, out);
  return (ssize_t)out;
}
VOL_WRAPPER(ssize_t, readlink, (const char* path, char* buf, size_t size)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  if (!g.active) return VOL_REAL(readlink)(r.path, buf, size);
  char tmp[kPathMax];
  return readlink_done(
      lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(readlink)(r.path, tmp, sizeof tmp - 1); }), tmp,
      buf, size);
}
VOL_WRAPPER(ssize_t, readlinkat, (int dirfd, const char* path, char* buf, size_t size)) {
  Resolved r;
  if (!resolve(dirfd, path, &r)) return -1;
  if (!g.active) return VOL_REAL(readlinkat)(dirfd, r.path, buf, size);
  char tmp[kPathMax];
  return readlink_done(
      lazy_retry(r.mount, r.dirfd, r.path, [&] { return VOL_REAL(readlinkat)(dirfd, r.path, tmp, sizeof tmp - 1); }),
      tmp, buf, size);
}
extern "C" VOL_API ssize_t vol_w___readlink_chk(const char*, char*, size_t, size_t) __asm__("__readlink_chk");
extern "C" ssize_t vol_w___readlink_chk(const char* p, char* b, size_t s, size_t) {
  return vol_w_readlink(p, b, s);
}
extern "C" VOL_API ssize_t vol_w___readlinkat_chk(int, const char*, char*, size_t, size_t) __asm__("__readlinkat_chk");
extern "C" ssize_t vol_w___readlinkat_chk(int d, const char* p, char* b, size_t s, size_t) {
  return vol_w_readlinkat(d, p, b, s);
}

// ---- two paths: rename and link stay within one mount (EXDEV across) ---------
static bool two_paths(int d1, const char* p1, Resolved* a, int d2, const char* p2, Resolved* b) {
  if (!resolve(d1, p1, a) || !resolve(d2, p2, b)) return false;
  if (a->mount < 0 && b->mount < 0) return true;
  if (!may_write(*a) || !may_write(*b)) return false;
  if (a->mount != b->mount) {
    errno = EXDEV;
    return false;
  }
  return true;
}
// rename: the source moves as it is (a content file stays shared: its bytes
// are fetched by inode); the target's directory is populated, and a target
// that is an unpopulated directory too (it is not empty). Afterwards one
// RENAME names both paths.
static int rename_pre(const Resolved& a, const Resolved& b) {
  if (a.mount < 0) return 0;
  if (populate_parent(a.dirfd, a.path) < 0 || parent_ready(b) < 0 || self_ready(b) < 0) return -1;
  return discard(b, false);
}
static int rename_done(int ret, const Resolved& a, const Resolved& b) {
  if (ret == 0 && a.mount >= 0) {
    int saved = errno;
    char from[kPathMax], to[kPathMax];
    if (mount_path_of(a, from, sizeof from) && mount_path_of(b, to, sizeof to))
      notify_changed(from, VOL_CHANGED_RENAME, to);
    errno = saved;
  }
  return ret;
}
VOL_WRAPPER(int, rename, (const char* from, const char* to)) {
  Resolved a, b;
  if (!two_paths(AT_FDCWD, from, &a, AT_FDCWD, to, &b) || rename_pre(a, b) < 0) return -1;
  return rename_done(VOL_REAL(rename)(a.path, b.path), a, b);
}
VOL_WRAPPER(int, renameat, (int d1, const char* from, int d2, const char* to)) {
  Resolved a, b;
  if (!two_paths(d1, from, &a, d2, to, &b) || rename_pre(a, b) < 0) return -1;
  return rename_done(VOL_REAL(renameat)(d1, a.path, d2, b.path), a, b);
}
VOL_WRAPPER(int, renameat2, (int d1, const char* from, int d2, const char* to, unsigned f)) {
  Resolved a, b;
  if (!two_paths(d1, from, &a, d2, to, &b) || rename_pre(a, b) < 0) return -1;
  return rename_done(VOL_REAL(renameat2)(d1, a.path, d2, b.path, f), a, b);
}
// link: a second name for the same inode; the source is fetched in full first.
static int link_done(int ret, const Resolved& b) {
  if (ret == 0) changed(b);
  return ret;
}
VOL_WRAPPER(int, link, (const char* from, const char* to)) {
  Resolved a, b;
  if (!two_paths(AT_FDCWD, from, &a, AT_FDCWD, to, &b) || privatize(a, false) < 0 || parent_ready(b) < 0)
    return -1;
  return link_done(lazy_retry(a.mount, a.dirfd, a.path, [&] { return VOL_REAL(link)(a.path, b.path); }), b);
}
VOL_WRAPPER(int, linkat, (int d1, const char* from, int d2, const char* to, int f)) {
  Resolved a, b;
  if (!two_paths(d1, from, &a, d2, to, &b) || privatize(a, f & AT_SYMLINK_FOLLOW) < 0 || parent_ready(b) < 0)
    return -1;
  return link_done(lazy_retry(a.mount, a.dirfd, a.path, [&] { return VOL_REAL(linkat)(d1, a.path, d2, b.path, f); }),
                   b);
}

// symlink: the target is stored, not followed now. An absolute target inside a
// mount is stored as its view path (the view's convention, so that the kernel
// resolves it); readlink turns it back.
static int symlink_impl(const char* target, int dirfd, const char* path) {
  Resolved r, t;
  if (!resolve(dirfd, path, &r) || !may_write(r)) return -1;
  const char* stored = target;
  if (target && target[0] == '/' && r.mount >= 0) {
    if (!resolve(AT_FDCWD, target, &t)) return -1;
    if (t.mount >= 0) stored = t.path;
  }
  if (parent_ready(r) < 0) return -1;
  VOL_REAL_DECL(symlinkat);
  int ret = VOL_REAL(symlinkat)(stored, dirfd, r.path);
  if (ret == 0) changed(r);
  return ret;
}
VOL_WRAPPER(int, symlink, (const char* target, const char* path)) {
  return symlink_impl(target, AT_FDCWD, path);
}
extern "C" VOL_API int vol_w_symlinkat(const char*, int, const char*) __asm__("symlinkat");
extern "C" int vol_w_symlinkat(const char* target, int dirfd, const char* path) {
  return symlink_impl(target, dirfd, path);
}

// ---- mkstemp and friends fill in the caller's template; glibc opens with its
// internal open. The template is translated into a local buffer and the
// generated name copied back into the caller's template. --------------------------
template <typename Call>
static int mktemp_impl(char* tmpl, int suffixlen, bool dir, Call call) {
  Resolved r;
  if (!resolve(AT_FDCWD, tmpl, &r)) return -1;
  if (r.mount < 0 && r.path == tmpl) return call(tmpl);
  if (!may_write(r) || parent_ready(r) < 0) return -1;
  char local[kPathMax];
  size_t n = strlen(r.path), user = strlen(tmpl);
  memcpy(local, r.path, n + 1);
  int ret = call(local);
  if (ret < 0) return ret;
  // The generated characters are the 6 before the suffix, in both spellings.
  size_t tail = 6 + (size_t)(suffixlen > 0 ? suffixlen : 0);
  if (tail <= n && tail <= user) memcpy(tmpl + user - tail, local + n - tail, tail);
  if (!dir) fd_note(ret, r.mount, O_RDWR);
  Resolved done = r;
  done.path = local;
  changed(done, dir ? VOL_CHANGED_PATH : VOL_CHANGED_OPEN_WRITE);
  return ret;
}
#define VOL_GEN_MKSTEMP(NAME, PARAMS, SUFFIX, ARGS)                         \
  VOL_WRAPPER(int, NAME, PARAMS) {                                          \
    return mktemp_impl(tmpl, SUFFIX, false,                                 \
                       [&](char* t) { return VOL_REAL(NAME) ARGS; });       \
  }
VOL_GEN_MKSTEMP(mkstemp, (char* tmpl), 0, (t))
VOL_GEN_MKSTEMP(mkstemp64, (char* tmpl), 0, (t))
VOL_GEN_MKSTEMP(mkostemp, (char* tmpl, int fl), 0, (t, fl))
VOL_GEN_MKSTEMP(mkostemp64, (char* tmpl, int fl), 0, (t, fl))
VOL_GEN_MKSTEMP(mkstemps, (char* tmpl, int sl), sl, (t, sl))
VOL_GEN_MKSTEMP(mkstemps64, (char* tmpl, int sl), sl, (t, sl))
VOL_GEN_MKSTEMP(mkostemps, (char* tmpl, int sl, int fl), sl, (t, sl, fl))
VOL_GEN_MKSTEMP(mkostemps64, (char* tmpl, int sl, int fl), sl, (t, sl, fl))
VOL_WRAPPER(char*, mkdtemp, (char* tmpl)) {
  int ret = mktemp_impl(tmpl, 0, true, [&](char* t) { return VOL_REAL(mkdtemp)(t) ? 0 : -1; });
  return ret < 0 ? nullptr : tmpl;
}

// inotify watches a path: the view's.
VOL_WRAPPER(int, inotify_add_watch, (int fd, const char* path, uint32_t mask)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  return VOL_REAL(inotify_add_watch)(fd, r.path, mask);
}
