// Calls that take paths. Each translates its paths with resolve() and hands
// glibc a real local path (stat, access and open: the mount's view fd and the
// path below it, when resolve() gives that form; viewfd.cc); a call on a host
// path that fails with ENOENT or ENOTDIR is tried once more when
// retry_resolve() finds the path leads into a mount through a host symlink.
// Calls that modify the file system go through may_write() (EROFS unless the
// mount accepts writes) and report the changed mount path to the fetcher;
// when that report cannot be made (the fetcher is gone) the call fails with
// EIO, its change left in the view where recovery finds it.
//
// The wrappers are generated from tables (X-macros), one row per symbol,
// grouped as in shared/RESEARCH.md. Special cases (open, rename, temporary
// names) are written out below the tables.
#undef _FORTIFY_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "shim.h"

namespace vol::shim {

// Tells the fetcher that the path behind r changed. Returns 0, or -1 with
// errno EIO when the fetcher cannot be told (errno preserved otherwise).
int changed(const Resolved& r, uint32_t kind) {
  if (r.mount < 0) return 0;
  int saved = errno;
  char mp[kPathMax];
  int err = mount_path_of(r, mp, sizeof mp) ? notify_changed(mp, kind) : 0;
  errno = err ? err : saved;
  return err ? -1 : 0;
}

namespace {

// Before dropping a file's content (O_TRUNC, truncate to 0, unlink, rename
// onto it): an incomplete file's slot is retired by the fetcher, so nothing is
// fetched into it afterwards (session.h). A file that is unlinked or replaced
// lives on for whoever holds it open, and on local disk they keep reading its
// old bytes: then it is fetched in full instead. Returns 0, or -1 with errno set.
// A shared content file (lazy.cc) is never discarded: its bytes arrive in its
// own inode, for whoever holds it, whatever happens to its name.
enum class Drop { kTruncate, kUnlink };
int copy_up(const Resolved& r, bool follow = true, bool empty = false);
int discard(const Resolved& r, bool follow, Drop how) {
  if (r.mount < 0 || !incomplete_at(r.dirfd, r.path, follow)) return 0;
  struct stat st;
  if (sys(SYS_newfstatat, r.dirfd, r.path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 && is_content_file(st))
    return 0;
  if (how == Drop::kUnlink && held_open(r.dirfd, r.path, follow)) return copy_up(r);
  char mp[kPathMax];
  if (!mount_path_of(r, mp, sizeof mp)) return 0;
  int err = notify_changed(mp, VOL_CHANGED_DISCARD);
  if (err) {
    errno = err;
    return -1;
  }
  return 0;
}

// Before writing into, truncating or changing the metadata of a file (the
// one place for copy-up): a shared content file is replaced by a private copy
// (empty when its content is about to be dropped); a file still arriving that
// is not shared is fetched in full. `follow`: the call follows a final
// symlink, so the file it reaches is the one to copy.
int copy_up(const Resolved& r, bool follow, bool empty) {
  if (r.mount < 0 || !r.path) return 0;
  struct stat st;
  if (sys(SYS_newfstatat, r.dirfd, r.path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return 0;
  if (is_content_file(st)) {
    if (!follow) return make_private(r.dirfd, r.path, empty);
    long fd = sys(SYS_openat, r.dirfd, r.path, O_PATH | O_CLOEXEC);
    if (fd < 0) return 0;
    char real[kPathMax];
    int ret = make_private_fd((int)fd, real, sizeof real);
    sys(SYS_close, fd);
    return ret < 0 ? -1 : 0;
  }
  if (empty) return discard(r, follow, Drop::kTruncate);
  return incomplete_at(r.dirfd, r.path, follow) ? ensure_path_at(r.dirfd, r.path) : 0;
}
// Before a file moves (rename, link source): a shared content file moves as it
// is; one still arriving that is not shared is fetched in full first.
int fetch_if_private(const Resolved& r) {
  if (r.mount < 0 || !incomplete_at(r.dirfd, r.path, false)) return 0;
  struct stat st;
  if (sys(SYS_newfstatat, r.dirfd, r.path, &st, AT_SYMLINK_NOFOLLOW) == 0 && is_content_file(st)) return 0;
  return ensure_path_at(r.dirfd, r.path);
}
// Lazy views: a name is created only in a populated directory, and a
// directory is removed or replaced only once populated (else it looks empty).
int parent_ready(const Resolved& r) { return r.mount < 0 ? 0 : populate_parent(r.dirfd, r.path); }
int self_ready(const Resolved& r) { return r.mount < 0 ? 0 : populate_self(r.dirfd, r.path); }

// vol publishes user.* extended attributes only: others fail rather than
// vanish at the next commit.
int xattr_name_ok(const char* name) {
  if (name && strncmp(name, "user.", 5) == 0) return 0;
  errno = ENOTSUP;
  return -1;
}

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
template <typename T>
bool failed(T ret) {
  if constexpr (std::is_pointer_v<T>) return ret == nullptr;
  else return ret < 0;
}

bool is_write_open(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) ||
         (flags & O_TMPFILE) == O_TMPFILE;
}

// A stat of a view object by path: a symlink's size is its mount path's
// length; a file gets stat_fixups (shim.h).
template <typename St>
void path_stat_fixups(const Resolved& r, St* b) {
  if (S_ISLNK(b->st_mode) && !r.magic) link_size(r.dirfd, r.path, &b->st_size);
  stat_fixups(b);
}
void path_stat_fixups(const Resolved& r, struct statx* b) {
  if (S_ISLNK(b->stx_mode) && !r.magic) link_size(r.dirfd, r.path, &b->stx_size);
  stat_fixups(b);
}

// A read-only mount says so in statfs/statvfs, as a read-only file system would.
bool mount_read_only(int mount) { return !(g.writes && g.mounts.m[mount].rw); }
void fs_fixups(int mount, struct statfs* b) {
  if (mount >= 0 && mount_read_only(mount)) b->f_flags |= ST_RDONLY;
}
void fs_fixups(int mount, struct statfs64* b) {
  if (mount >= 0 && mount_read_only(mount)) b->f_flags |= ST_RDONLY;
}
void fs_fixups(int mount, struct statvfs* b) {
  if (mount >= 0 && mount_read_only(mount)) b->f_flag |= ST_RDONLY;
}
void fs_fixups(int mount, struct statvfs64* b) {
  if (mount >= 0 && mount_read_only(mount)) b->f_flag |= ST_RDONLY;
}

}  // namespace
}  // namespace vol::shim

using namespace vol::shim;

// ---- read-only calls with one path: RET NAME(const char* path, ...) ----------
#define VOL_PATH_READ(X) X(long, pathconf, (const char* path, int n), (r.path, n))
// The same, answered from a listing for an entry of a listed directory.
#define VOL_PATH_LISTED_READ(X)                                                            \
  X(ssize_t, getxattr, (const char* path, const char* n, void* v, size_t s), (r.path, n, v, s)) \
  X(ssize_t, lgetxattr, (const char* path, const char* n, void* v, size_t s), (r.path, n, v, s)) \
  X(ssize_t, listxattr, (const char* path, char* l, size_t s), (r.path, l, s))              \
  X(ssize_t, llistxattr, (const char* path, char* l, size_t s), (r.path, l, s))

// ---- read-only calls relative to a directory fd: RET NAME(int dirfd, const char* path, ...)
#define VOL_AT_READ(X)                                                                     \
  X(int, name_to_handle_at, (int dirfd, const char* path, struct file_handle* h, int* id, int f), \
    (dirfd, r.path, h, id, f))

// ---- calls that modify the file system, one path: PRE runs first, on a
// writable mount ----------------------------------------------------------------------
#define VOL_PATH_WRITE(X)                                                                  \
  X(int, mkdir, (const char* path, mode_t m), (r.path, m), parent_ready(r))                 \
  X(int, rmdir, (const char* path), (r.path), self_ready(r))                                \
  X(int, unlink, (const char* path), (r.path), discard(r, false, Drop::kUnlink))           \
  X(int, truncate, (const char* path, off_t l), (r.path, l), copy_up(r, true, l == 0))      \
  X(int, truncate64, (const char* path, off64_t l), (r.path, l), copy_up(r, true, l == 0))  \
  X(int, chmod, (const char* path, mode_t m), (r.path, m), copy_up(r))                      \
  X(int, lchmod, (const char* path, mode_t m), (r.path, m), copy_up(r, false))              \
  X(int, chown, (const char* path, uid_t u, gid_t g), (r.path, u, g), copy_up(r))           \
  X(int, lchown, (const char* path, uid_t u, gid_t g), (r.path, u, g), copy_up(r, false))   \
  X(int, utime, (const char* path, const struct utimbuf* t), (r.path, t), copy_up(r))       \
  X(int, utimes, (const char* path, const struct timeval* t), (r.path, t), copy_up(r))      \
  X(int, lutimes, (const char* path, const struct timeval* t), (r.path, t), copy_up(r, false)) \
  X(int, mknod, (const char* path, mode_t m, dev_t d), (r.path, m, d), parent_ready(r))     \
  X(int, mkfifo, (const char* path, mode_t m), (r.path, m), parent_ready(r))                \
  X(int, setxattr, (const char* path, const char* n, const void* v, size_t s, int f),       \
    (r.path, n, v, s, f), xattr_name_ok(n) < 0 ? -1 : copy_up(r))                           \
  X(int, lsetxattr, (const char* path, const char* n, const void* v, size_t s, int f),      \
    (r.path, n, v, s, f), xattr_name_ok(n) < 0 ? -1 : copy_up(r, false))                    \
  X(int, removexattr, (const char* path, const char* n), (r.path, n),                       \
    xattr_name_ok(n) < 0 ? -1 : copy_up(r))                                                 \
  X(int, lremovexattr, (const char* path, const char* n), (r.path, n),                      \
    xattr_name_ok(n) < 0 ? -1 : copy_up(r, false))

#define VOL_AT_WRITE(X)                                                                    \
  X(int, mkdirat, (int dirfd, const char* path, mode_t m), (dirfd, r.path, m), parent_ready(r)) \
  X(int, unlinkat, (int dirfd, const char* path, int f), (dirfd, r.path, f),                \
    (f & AT_REMOVEDIR) ? self_ready(r) : discard(r, false, Drop::kUnlink))                  \
  X(int, fchmodat, (int dirfd, const char* path, mode_t m, int f), (dirfd, r.path, m, f),   \
    copy_up(r, !(f & AT_SYMLINK_NOFOLLOW)))                                                 \
  X(int, fchownat, (int dirfd, const char* path, uid_t u, gid_t g, int f),                  \
    (dirfd, r.path, u, g, f), copy_up(r, !(f & AT_SYMLINK_NOFOLLOW)))                       \
  X(int, utimensat, (int dirfd, const char* path, const struct timespec* t, int f),         \
    (dirfd, r.path, t, f), copy_up(r, !(f & AT_SYMLINK_NOFOLLOW)))                          \
  X(int, futimesat, (int dirfd, const char* path, const struct timeval* t), (dirfd, r.path, t), \
    copy_up(r))                                                                             \
  X(int, mknodat, (int dirfd, const char* path, mode_t m, dev_t d), (dirfd, r.path, m, d),  \
    parent_ready(r))                                                                        \
  X(int, mkfifoat, (int dirfd, const char* path, mode_t m), (dirfd, r.path, m), parent_ready(r))

// ---- stat and statfs: the call, then what a view object reports differently.
// The stat calls of a path below a view root go through the mount's view fd
// (AT: the call as fstatat/statx on (fd, rel); resolve.cc, viewfd.cc).
#define VOL_STATS(X)                                                                           \
  X(stat, (const char* path, struct stat* b), (r.path, b), AT_FDCWD, at_fstatat(fd, rel, b, 0), \
    path_stat_fixups(r, b))                                                                     \
  X(lstat, (const char* path, struct stat* b), (r.path, b), AT_FDCWD,                           \
    at_fstatat(fd, rel, b, AT_SYMLINK_NOFOLLOW), path_stat_fixups(r, b))                        \
  X(stat64, (const char* path, struct stat64* b), (r.path, b), AT_FDCWD,                        \
    at_fstatat64(fd, rel, b, 0), path_stat_fixups(r, b))                                        \
  X(lstat64, (const char* path, struct stat64* b), (r.path, b), AT_FDCWD,                       \
    at_fstatat64(fd, rel, b, AT_SYMLINK_NOFOLLOW), path_stat_fixups(r, b))                      \
  X(fstatat, (int dirfd, const char* path, struct stat* b, int f), (dirfd, r.path, b, f), dirfd, \
    at_fstatat(fd, rel, b, f), path_stat_fixups(r, b))                                          \
  X(fstatat64, (int dirfd, const char* path, struct stat64* b, int f), (dirfd, r.path, b, f),  \
    dirfd, at_fstatat64(fd, rel, b, f), path_stat_fixups(r, b))                                 \
  X(statx, (int dirfd, const char* path, int f, unsigned m, struct statx* b),                 \
    (dirfd, r.path, f, m, b), dirfd, at_statx(fd, rel, f, m, b), path_stat_fixups(r, b))
#define VOL_STATFS(X)                                                                          \
  X(statfs, (const char* path, struct statfs* b), (r.path, b), AT_FDCWD, fs_fixups(r.mount, b)) \
  X(statfs64, (const char* path, struct statfs64* b), (r.path, b), AT_FDCWD,                   \
    fs_fixups(r.mount, b))                                                                     \
  X(statvfs, (const char* path, struct statvfs* b), (r.path, b), AT_FDCWD, fs_fixups(r.mount, b)) \
  X(statvfs64, (const char* path, struct statvfs64* b), (r.path, b), AT_FDCWD,                 \
    fs_fixups(r.mount, b))

// The real *at calls that the view-fd forms make (each with its own pointer:
// the wrappers' are defined further down).
static int at_fstatat(int fd, const char* p, struct stat* b, int f) {
  VOL_REAL_DECL(fstatat);
  return VOL_REAL(fstatat)(fd, p, b, f);
}
static int at_fstatat64(int fd, const char* p, struct stat64* b, int f) {
  VOL_REAL_DECL(fstatat64);
  return VOL_REAL(fstatat64)(fd, p, b, f);
}
static int at_statx(int fd, const char* p, int f, unsigned m, struct statx* b) {
  VOL_REAL_DECL(statx);
  return VOL_REAL(statx)(fd, p, f, m, b);
}
static int at_faccessat(int fd, const char* p, int m, int f) {
  VOL_REAL_DECL(faccessat);
  return VOL_REAL(faccessat)(fd, p, m, f);
}

#define VOL_BODY_READ(DIRFD, RET, NAME, ARGS)                                \
  {                                                                          \
    Resolved r;                                                              \
    if (!resolve(DIRFD, path, &r)) return fail<RET>();                       \
    RET ret = VOL_REAL(NAME) ARGS;                                           \
    if (failed(ret) && retry_resolve(&r)) ret = VOL_REAL(NAME) ARGS;         \
    return ret;                                                              \
  }
#define VOL_BODY_WRITE(DIRFD, RET, NAME, ARGS, PRE)                          \
  {                                                                          \
    Resolved r;                                                              \
    if (!resolve(DIRFD, path, &r)) return fail<RET>();                       \
    for (int attempt = 0;; attempt++) {                                      \
      if (!may_write(r)) return fail<RET>();                                 \
      if (r.mount >= 0 && (PRE) < 0) return fail<RET>();                     \
      RET ret = VOL_REAL(NAME) ARGS;                                         \
      if (ret == 0) return changed(r) < 0 ? fail<RET>() : ret;               \
      if (attempt > 0 || !retry_resolve(&r)) return ret;                     \
    }                                                                        \
  }
#define VOL_GEN_PATH_READ(RET, NAME, PARAMS, ARGS) \
  VOL_WRAPPER(RET, NAME, PARAMS) VOL_BODY_READ(AT_FDCWD, RET, NAME, ARGS)
#define VOL_GEN_AT_READ(RET, NAME, PARAMS, ARGS) \
  VOL_WRAPPER(RET, NAME, PARAMS) VOL_BODY_READ(dirfd, RET, NAME, ARGS)
#define VOL_GEN_PATH_WRITE(RET, NAME, PARAMS, ARGS, PRE) \
  VOL_WRAPPER(RET, NAME, PARAMS) VOL_BODY_WRITE(AT_FDCWD, RET, NAME, ARGS, PRE)
#define VOL_GEN_AT_WRITE(RET, NAME, PARAMS, ARGS, PRE) \
  VOL_WRAPPER(RET, NAME, PARAMS) VOL_BODY_WRITE(dirfd, RET, NAME, ARGS, PRE)
// A call on the view, or, for an entry of a listed directory (listing.cc),
// on its content file: *listed says which answered. The directory is checked
// first when the last listed name on this thread was its neighbour; else the
// call on the view fails first (ENOENT: nothing is in an unpopulated
// directory). The content file's answer is the call's, failures included
// (ENODATA for an xattr it lacks), but for ENOENT: a content file gone from
// the cache leaves that to retry_resolve, which populates the directory.
template <typename Direct, typename ByPath>
auto listed_or_direct(Resolved& r, ListedTarget* t, bool* listed, Direct direct, ByPath by_path)
    -> decltype(by_path()) {
  Listed what = r.mount >= 0 && listed_hint(r) ? listed_target(r, t) : Listed::kNo;
  if (what == Listed::kNo) {
    auto ret = direct();
    if (ret >= 0 || errno != ENOENT || r.mount < 0) return ret;
    what = listed_target(r, t);
    errno = ENOENT;
    if (what == Listed::kNo) {
      *listed = false;
      return ret;
    }
  }
  *listed = true;
  if (what == Listed::kAbsent) {
    errno = ENOENT;
    return (decltype(by_path()))-1;
  }
  const char* view_path = r.path;
  int vfd = r.vfd;
  r.path = t->path;
  r.vfd = -1;
  auto ret = by_path();
  if (ret < 0 && errno == ENOENT) {
    listed_other_name(t);  // completed, or not, since the listing was made
    ret = by_path();
  }
  r.path = view_path;
  r.vfd = vfd;
  if (ret < 0 && errno == ENOENT) *listed = false;  // evicted: populate (ENODATA &c. are answers)
  return ret;
}

#define VOL_GEN_STAT(NAME, PARAMS, ARGS, DIRFD, AT, FIXUPS)                 \
  VOL_WRAPPER(int, NAME, PARAMS) {                                          \
    Resolved r;                                                             \
    if (!resolve(DIRFD, path, &r)) return -1;                               \
    auto at = [&](int fd, const char* rel) { return AT; };                  \
    auto by_path = [&] { return VOL_REAL(NAME) ARGS; };                     \
    ListedTarget lt;                                                        \
    bool listed;                                                            \
    int ret = listed_or_direct(r, &lt, &listed, [&] { return view_call(r, at, by_path); }, by_path); \
    if (listed) {                                                           \
      if (ret == 0) listed_fixups(lt, b);                                   \
      return ret;                                                           \
    }                                                                       \
    if (ret != 0 && retry_resolve(&r)) ret = view_call(r, at, by_path);     \
    if (ret == 0 && r.mount >= 0) FIXUPS;                                   \
    return ret;                                                             \
  }
#define VOL_GEN_PATH_LISTED_READ(RET, NAME, PARAMS, ARGS)                   \
  VOL_WRAPPER(RET, NAME, PARAMS) {                                          \
    Resolved r;                                                             \
    if (!resolve(AT_FDCWD, path, &r)) return fail<RET>();                   \
    auto by_path = [&] { return VOL_REAL(NAME) ARGS; };                     \
    ListedTarget lt;                                                        \
    bool listed;                                                            \
    RET ret = listed_or_direct(r, &lt, &listed, by_path, by_path);          \
    if (!listed && failed(ret) && retry_resolve(&r)) ret = by_path();       \
    return ret;                                                             \
  }
#define VOL_GEN_STATFS(NAME, PARAMS, ARGS, DIRFD, FIXUPS)                   \
  VOL_WRAPPER(int, NAME, PARAMS) {                                          \
    Resolved r;                                                             \
    if (!resolve(DIRFD, path, &r)) return -1;                               \
    int ret = VOL_REAL(NAME) ARGS;                                          \
    if (ret != 0 && retry_resolve(&r)) ret = VOL_REAL(NAME) ARGS;           \
    if (ret == 0 && r.mount >= 0) FIXUPS;                                   \
    return ret;                                                             \
  }
VOL_STATS(VOL_GEN_STAT)
VOL_STATFS(VOL_GEN_STATFS)
VOL_PATH_READ(VOL_GEN_PATH_READ)
VOL_PATH_LISTED_READ(VOL_GEN_PATH_LISTED_READ)
VOL_AT_READ(VOL_GEN_AT_READ)
VOL_PATH_WRITE(VOL_GEN_PATH_WRITE)
VOL_AT_WRITE(VOL_GEN_AT_WRITE)

// ---- the pre-2.33 stat ABI (__xstat…): binaries built against older glibc ----
// struct stat is the kernel's on x86_64 and aarch64, so these map onto fstatat.
VOL_OWN(int, fstatat, (int, const char*, struct stat*, int))
using xstat_fn = int (*)(int, const char*, void*);
using fxstatat_fn = int (*)(int, int, const char*, void*, int);
VOL_WRAPPER_T(int, __xstat, (int, const char* p, void* b), xstat_fn) {
  return vol_w_fstatat(AT_FDCWD, p, static_cast<struct stat*>(b), 0);
}
VOL_WRAPPER_T(int, __xstat64, (int, const char* p, void* b), xstat_fn) {
  return vol_w_fstatat(AT_FDCWD, p, static_cast<struct stat*>(b), 0);
}
VOL_WRAPPER_T(int, __lxstat, (int, const char* p, void* b), xstat_fn) {
  return vol_w_fstatat(AT_FDCWD, p, static_cast<struct stat*>(b), AT_SYMLINK_NOFOLLOW);
}
VOL_WRAPPER_T(int, __lxstat64, (int, const char* p, void* b), xstat_fn) {
  return vol_w_fstatat(AT_FDCWD, p, static_cast<struct stat*>(b), AT_SYMLINK_NOFOLLOW);
}
VOL_WRAPPER_T(int, __fxstatat, (int, int d, const char* p, void* b, int f), fxstatat_fn) {
  return vol_w_fstatat(d, p, static_cast<struct stat*>(b), f);
}
VOL_WRAPPER_T(int, __fxstatat64, (int, int d, const char* p, void* b, int f), fxstatat_fn) {
  return vol_w_fstatat(d, p, static_cast<struct stat*>(b), f);
}

// ---- access: a write-access question on a read-only mount is EROFS; on a
// shared content file (no write bit on disk: a program writing it gets a
// private copy) it is answered from the mode the program is shown ----------------
static int content_write_access(const Resolved& r, int* mode, bool eff, bool nofollow) {
  struct stat st;
  if (!(*mode & W_OK) || r.mount < 0 ||
      sys(SYS_newfstatat, r.dirfd, r.path, &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) != 0 || !is_content_file(st))
    return 0;
  stat_fixups(&st);
  uid_t uid = eff ? geteuid() : getuid();
  gid_t gid = eff ? getegid() : getgid();
  bool ok = uid == 0 || (st.st_uid == uid ? (st.st_mode & S_IWUSR) != 0
                         : st.st_gid == gid ? (st.st_mode & S_IWGRP) != 0
                                            : (st.st_mode & S_IWOTH) != 0);
  if (!ok) {
    errno = EACCES;
    return -1;
  }
  *mode &= ~W_OK;
  return 0;
}
// euidaccess and eaccess are glibc's own (not a system call): by path.
#define VOL_ACCESS(X)                                                                    \
  X(access, (const char* path, int mode), AT_FDCWD, (r.path, m), true, at_faccessat(fd, rel, m, 0), \
    false, false)                                                                        \
  X(euidaccess, (const char* path, int mode), AT_FDCWD, (r.path, m), false, 0, true, false) \
  X(eaccess, (const char* path, int mode), AT_FDCWD, (r.path, m), false, 0, true, false)   \
  X(faccessat, (int dirfd, const char* path, int mode, int flags), dirfd, (dirfd, r.path, m, flags), \
    true, at_faccessat(fd, rel, m, flags), (flags & AT_EACCESS) != 0,                   \
    (flags & AT_SYMLINK_NOFOLLOW) != 0)
#define VOL_GEN_ACCESS(NAME, PARAMS, DIRFD, ARGS, VIA_FD, AT, EFF, NOFOLLOW)    \
  VOL_WRAPPER(int, NAME, PARAMS) {                                              \
    Resolved r;                                                                 \
    if (!resolve(DIRFD, path, &r)) return -1;                                   \
    for (int attempt = 0;; attempt++) {                                         \
      if ((mode & W_OK) && !may_write(r)) return -1;                            \
      int m = mode;                                                             \
      if (content_write_access(r, &m, EFF, NOFOLLOW) < 0) return -1;            \
      auto by_path = [&] { return VOL_REAL(NAME) ARGS; };                       \
      int ret = VIA_FD ? view_call(r, [&](int fd, const char* rel) { return AT; }, by_path) \
                       : by_path();                                             \
      if (ret == 0 || attempt > 0 || !retry_resolve(&r)) return ret;            \
    }                                                                           \
  }
VOL_ACCESS(VOL_GEN_ACCESS)

// ---- open -----------------------------------------------------------------------
// Every open funnels into the real openat. A read-only open of a view file is
// noted in the fd table (the lazy-content guard); a write-open needs a writable
// mount and first makes a committed file complete (copy-up) unless it truncates.
static int open_impl(int dirfd, const char* path, int flags, mode_t mode);
static mode_t open_mode(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}
#define VOL_GEN_OPEN(NAME)                                         \
  VOL_WRAPPER(int, NAME, (const char* path, int flags, ...)) {     \
    va_list ap;                                                    \
    va_start(ap, flags);                                           \
    mode_t mode = open_mode(flags, ap);                            \
    va_end(ap);                                                    \
    return open_impl(AT_FDCWD, path, flags, mode);                 \
  }
#define VOL_GEN_OPENAT(NAME)                                                \
  VOL_WRAPPER(int, NAME, (int dirfd, const char* path, int flags, ...)) {   \
    va_list ap;                                                             \
    va_start(ap, flags);                                                    \
    mode_t mode = open_mode(flags, ap);                                     \
    va_end(ap);                                                             \
    return open_impl(dirfd, path, flags, mode);                             \
  }
VOL_GEN_OPEN(open)
VOL_GEN_OPEN(open64)
VOL_GEN_OPENAT(openat)
VOL_GEN_OPENAT(openat64)

static int open_resolved(Resolved& r, int flags, mode_t mode) {
  auto real = VOL_REAL(openat);
  auto open_as = [&](int fl, mode_t md) {
    return view_call(r, [&](int fd, const char* rel) { return real(fd, rel, fl, md); },
                     [&] { return real(r.dirfd, r.path, fl, md); });
  };
  if (r.mount < 0) {
    int fd = real(r.dirfd, r.path, flags, mode);
    if (g.active) fd_note_resolved(fd, r, flags);
    return fd;
  }
  bool writes = is_write_open(flags);
  if (writes) {
    if (!may_write(r)) return -1;
    if ((flags & O_CREAT) && parent_ready(r) < 0) return -1;
    if (copy_up(r, !(flags & O_NOFOLLOW), flags & O_TRUNC) < 0) return -1;
  } else if ((flags & O_CREAT) && !may_write(r)) {
    // O_CREAT of an existing file only opens it; creating one is a write.
    int fd = open_as(flags & ~(O_CREAT | O_EXCL), 0);
    if (fd >= 0 && (flags & O_EXCL)) {
      sys(SYS_close, fd);
      errno = EEXIST;
      return -1;
    }
    if (fd < 0 && errno == ENOENT) errno = EROFS;
    fd_note_resolved(fd, r, flags);
    return fd;
  }
  if ((flags & O_CREAT) && !writes && parent_ready(r) < 0) return -1;
  // A writer is announced before the open: a kill between the two must not
  // leave an empty or truncated file that looks final, and a fetcher that is
  // gone fails the open before it creates or truncates anything.
  bool opens_for_writing = (flags & O_ACCMODE) != O_RDONLY;
  if (opens_for_writing && changed(r, VOL_CHANGED_OPEN_WRITE) < 0) {
    errno = EIO;
    return -1;
  }
  int fd = open_as(flags, mode);
  if (fd < 0) {
    int saved = errno;
    if (opens_for_writing) changed(r, VOL_CHANGED_CLOSE_WRITE);
    errno = saved;
    return fd;
  }
  fd_note_resolved(fd, r, flags);
  int told = 0;
  if (!opens_for_writing && (writes || (flags & O_CREAT))) told = changed(r, VOL_CHANGED_PATH);
  if (told < 0) {
    fd_forget(fd);
    sys(SYS_close, fd);
    errno = EIO;
    return -1;
  }
  return fd;
}
static int open_impl(int dirfd, const char* path, int flags, mode_t mode) {
  Resolved r;
  if (!resolve(dirfd, path, &r)) return -1;
  int fd = open_resolved(r, flags, mode);
  if (fd < 0 && retry_resolve(&r)) fd = open_resolved(r, flags, mode);
  return fd;
}


// The fortified entry points (_FORTIFY_SOURCE builds call these).
using open_2_fn = int (*)(const char*, int);
using openat_2_fn = int (*)(int, const char*, int);
VOL_WRAPPER_T(int, __open_2, (const char* path, int flags), open_2_fn) {
  return open_impl(AT_FDCWD, path, flags, 0);
}
VOL_WRAPPER_T(int, __open64_2, (const char* path, int flags), open_2_fn) {
  return open_impl(AT_FDCWD, path, flags, 0);
}
VOL_WRAPPER_T(int, __openat_2, (int d, const char* path, int flags), openat_2_fn) {
  return open_impl(d, path, flags, 0);
}
VOL_WRAPPER_T(int, __openat64_2, (int d, const char* path, int flags), openat_2_fn) {
  return open_impl(d, path, flags, 0);
}
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
  if (r.mount < 0) {
    if (f) fd_forget(fileno(f));  // its number may have been a view fd's, closed unseen
    return f;
  }
  int saved = errno;
  if (!f) {
    if (is_write_open(flags)) changed(r, VOL_CHANGED_CLOSE_WRITE);  // announced by fopen_check
    errno = saved;
    return f;
  }
  int fd = fileno(f);
  fd_note(fd, r.mount, flags);
  if (ensure_all(fd) < 0) {
    saved = errno;
    fd_forget(fd);
    fclose(f);
    if (is_write_open(flags)) changed(r, VOL_CHANGED_CLOSE_WRITE);
    errno = saved;
    return nullptr;
  }
  return f;
}
static bool fopen_check(const Resolved& r, int flags) {
  if (r.mount < 0 || !is_write_open(flags)) return true;
  if (!may_write(r) || parent_ready(r) < 0) return false;
  if (copy_up(r, true, flags & O_TRUNC) < 0) return false;
  if (changed(r, VOL_CHANGED_OPEN_WRITE) == 0) return true;  // announced before the open (open_resolved)
  errno = EIO;
  return false;
}
#define VOL_GEN_FOPEN(NAME, PARAMS, ARGS, PRE)                               \
  VOL_WRAPPER(FILE*, NAME, PARAMS) {                                         \
    Resolved r;                                                              \
    int flags = fopen_flags(mode);                                           \
    if (!resolve(AT_FDCWD, path, &r)) return nullptr;                        \
    PRE;                                                                     \
    for (int attempt = 0;; attempt++) {                                      \
      if (!fopen_check(r, flags)) return nullptr;                            \
      FILE* f = VOL_REAL(NAME) ARGS;                                         \
      if (f || attempt > 0 || !retry_resolve(&r)) return fopen_done(f, r, flags); \
    }                                                                        \
  }
VOL_GEN_FOPEN(fopen, (const char* path, const char* mode), (r.path, mode), (void)0)
VOL_GEN_FOPEN(fopen64, (const char* path, const char* mode), (r.path, mode), (void)0)
// freopen closes the stream's old fd inside glibc first.
VOL_GEN_FOPEN(freopen, (const char* path, const char* mode, FILE* stream), (r.path, mode, stream),
              if (g.active && stream) stream_closing(stream))
VOL_GEN_FOPEN(freopen64, (const char* path, const char* mode, FILE* stream), (r.path, mode, stream),
              if (g.active && stream) stream_closing(stream))

VOL_WRAPPER(FILE*, fdopen, (int fd, const char* mode)) {
  if (fd_needs_check(fd) && ensure_all(fd) < 0) return nullptr;
  return VOL_REAL(fdopen)(fd, mode);
}

// ---- remove(3): glibc's calls its internal unlink and rmdir -------------------
VOL_OWN(int, unlink, (const char*))
VOL_OWN(int, rmdir, (const char*))
VOL_WRAPPER(int, remove, (const char* path)) {
  if (!g.active) return VOL_REAL(remove)(path);
  if (vol_w_unlink(path) == 0) return 0;
  if (errno != EISDIR) return -1;
  return vol_w_rmdir(path);
}

// ---- two paths: rename and link stay within one mount (EXDEV across) ---------
static bool two_paths_ok(const Resolved& a, const Resolved& b) {
  if (a.mount < 0 && b.mount < 0) return true;
  if (!may_write(a) || !may_write(b)) return false;
  if (a.mount != b.mount) {
    errno = EXDEV;
    return false;
  }
  return true;
}
// After a failure: either path may lead into a mount through a host symlink.
static bool two_paths_retry(Resolved* a, Resolved* b) {
  int err = errno;
  bool ra = retry_resolve(a);
  errno = err;
  bool rb = retry_resolve(b);
  errno = err;
  return ra || rb;
}
// rename: the source moves as it is (a file still arriving that is not shared
// is fetched in full first), the target's directory is populated, and so is a
// target that is a directory (it is not empty); the file it replaces is
// discarded; afterwards one RENAME names both paths.
static int rename_pre(const Resolved& a, const Resolved& b) {
  if (a.mount < 0) return 0;
  if (fetch_if_private(a) < 0 || parent_ready(b) < 0 || self_ready(b) < 0) return -1;
  return discard(b, false, Drop::kUnlink);
}
static int rename_done(const Resolved& a, const Resolved& b) {
  if (a.mount < 0) return 0;
  int saved = errno;
  char from[kPathMax], to[kPathMax];
  int err = 0;
  if (mount_path_of(a, from, sizeof from) && mount_path_of(b, to, sizeof to))
    err = notify_changed(from, VOL_CHANGED_RENAME, to);
  errno = err ? err : saved;
  return err ? -1 : 0;
}
// link: a second name for the same inode; the source is made private first (a
// shared content file must keep its one link from this view).
static int link_pre(const Resolved& a, const Resolved& b) {
  return copy_up(a, false) < 0 || parent_ready(b) < 0 ? -1 : 0;
}
static int link_done(const Resolved&, const Resolved& b) { return changed(b, VOL_CHANGED_PATH); }
#define VOL_TWO_PATHS(X)                                                                    \
  X(rename, (const char* from, const char* to), AT_FDCWD, AT_FDCWD, (a.path, b.path), rename) \
  X(renameat, (int d1, const char* from, int d2, const char* to), d1, d2,                   \
    (d1, a.path, d2, b.path), rename)                                                       \
  X(renameat2, (int d1, const char* from, int d2, const char* to, unsigned f), d1, d2,      \
    (d1, a.path, d2, b.path, f), rename)                                                    \
  X(link, (const char* from, const char* to), AT_FDCWD, AT_FDCWD, (a.path, b.path), link)   \
  X(linkat, (int d1, const char* from, int d2, const char* to, int f), d1, d2,              \
    (d1, a.path, d2, b.path, f), link)
#define VOL_GEN_TWO_PATHS(NAME, PARAMS, D1, D2, ARGS, KIND)                     \
  VOL_WRAPPER(int, NAME, PARAMS) {                                              \
    Resolved a, b;                                                              \
    if (!resolve(D1, from, &a) || !resolve(D2, to, &b)) return -1;              \
    for (int attempt = 0;; attempt++) {                                         \
      if (!two_paths_ok(a, b) || KIND##_pre(a, b) < 0) return -1;               \
      int ret = VOL_REAL(NAME) ARGS;                                            \
      if (ret == 0) return KIND##_done(a, b);                                   \
      if (attempt > 0 || !two_paths_retry(&a, &b)) return ret;                  \
    }                                                                           \
  }
VOL_TWO_PATHS(VOL_GEN_TWO_PATHS)

// symlink: the target is stored, not followed now. An absolute target inside a
// mount is stored as its view path (the view's convention, so that the kernel
// resolves it); readlink turns it back.
static int symlink_impl(const char* target, int dirfd, const char* path) {
  Resolved r, t;
  if (!resolve(dirfd, path, &r)) return -1;
  VOL_REAL_DECL(symlinkat);
  for (int attempt = 0;; attempt++) {
    if (!may_write(r) || parent_ready(r) < 0) return -1;
    const char* stored = target;
    if (target && target[0] == '/' && r.mount >= 0) {
      if (!resolve(AT_FDCWD, target, &t)) return -1;
      if (t.mount >= 0 && t.tmpfd < 0) stored = t.path;
    }
    int ret = VOL_REAL(symlinkat)(stored, r.dirfd, r.path);
    if (ret == 0) return changed(r, VOL_CHANGED_PATH);
    if (attempt > 0 || !retry_resolve(&r)) return ret;
  }
}
VOL_WRAPPER(int, symlink, (const char* target, const char* path)) {
  return symlink_impl(target, AT_FDCWD, path);
}
VOL_WRAPPER(int, symlinkat, (const char* target, int dirfd, const char* path)) {
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
  Resolved done;
  if (!resolve(AT_FDCWD, tmpl, &done) ||
      changed(done, dir ? VOL_CHANGED_PATH : VOL_CHANGED_OPEN_WRITE) < 0) {
    if (!dir) {
      fd_forget(ret);
      sys(SYS_close, ret);
    }
    errno = EIO;
    return -1;
  }
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

// tempnam(dir, pfx): glibc looks for the directory ($TMPDIR, dir, P_tmpdir,
// /tmp) and for a free name with its internal stat. The same search through
// the shim's stat, then a free name by mktemp on the translated template.
VOL_OWN(int, stat, (const char*, struct stat*))
VOL_REAL_DECL_T(mktemp, char* (*)(char*));
VOL_WRAPPER(char*, tempnam, (const char* dir, const char* pfx)) {
  if (!g.active) return VOL_REAL(tempnam)(dir, pfx);
  auto is_dir = [](const char* d) {
    struct stat st;
    return d && *d && vol_w_stat(d, &st) == 0 && S_ISDIR(st.st_mode);
  };
  const char* env = secure_getenv("TMPDIR");
  const char* use = is_dir(env) ? env : is_dir(dir) ? dir : is_dir(P_tmpdir) ? P_tmpdir : "/tmp";
  if (!is_dir(use)) {
    errno = ENOENT;
    return nullptr;
  }
  size_t dlen = strlen(use);
  while (dlen > 1 && use[dlen - 1] == '/') dlen--;
  size_t plen = pfx && *pfx ? strnlen(pfx, 5) : 4;
  char tmpl[kPathMax];
  if (dlen + 1 + plen + 7 > sizeof tmpl) {
    errno = ENAMETOOLONG;
    return nullptr;
  }
  memcpy(tmpl, use, dlen);
  tmpl[dlen] = '/';
  memcpy(tmpl + dlen + 1, pfx && *pfx ? pfx : "file", plen);
  memcpy(tmpl + dlen + 1 + plen, "XXXXXX", 7);
  Resolved r;
  if (!resolve(AT_FDCWD, tmpl, &r)) return nullptr;
  char local[kPathMax];
  memcpy(local, r.path, strlen(r.path) + 1);
  char* name = VOL_REAL(mktemp)(local);
  if (!name || !*name) {
    errno = EEXIST;
    return nullptr;
  }
  size_t n = strlen(tmpl);
  memcpy(tmpl + n - 6, local + strlen(local) - 6, 6);
  return strdup(tmpl);
}

// inotify watches a path: the view's.
VOL_WRAPPER(int, inotify_add_watch, (int fd, const char* path, uint32_t mask)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  int ret = VOL_REAL(inotify_add_watch)(fd, r.path, mask);
  if (ret < 0 && retry_resolve(&r)) ret = VOL_REAL(inotify_add_watch)(fd, r.path, mask);
  return ret;
}
