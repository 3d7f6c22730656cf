// syscall(3) and io_uring. libuv (Node.js) and other runtimes make some file
// system calls through syscall(), so every system call that takes a path is routed to the shim's
// own wrapper of its libc function (openat2 and execveat included), reads are
// guarded like read(2), and io_uring is refused: reads submitted through a
// ring would bypass the lazy-content guard (libuv, Tokio and liburing users
// fall back to ordinary system calls).
//
// Invariant: a system call number not listed here goes to the kernel untouched.
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <string.h>
#include <utime.h>

#include "shim.h"

using namespace vol::shim;

// The shim's own wrappers, by their exported names.
VOL_OWN(int, openat, (int, const char*, int, ...))
VOL_OWN(int, statx, (int, const char*, int, unsigned, struct statx*))
VOL_OWN(int, fstatat, (int, const char*, struct stat*, int))
VOL_OWN(int, faccessat, (int, const char*, int, int))
VOL_OWN(ssize_t, readlinkat, (int, const char*, char*, size_t))
VOL_OWN(int, mkdirat, (int, const char*, mode_t))
VOL_OWN(int, unlinkat, (int, const char*, int))
VOL_OWN(int, renameat2, (int, const char*, int, const char*, unsigned))
VOL_OWN(int, linkat, (int, const char*, int, const char*, int))
VOL_OWN(int, symlinkat, (const char*, int, const char*))
VOL_OWN(int, fchmodat, (int, const char*, mode_t, int))
VOL_OWN(int, fchownat, (int, const char*, uid_t, gid_t, int))
VOL_OWN(int, utimensat, (int, const char*, const struct timespec*, int))
VOL_OWN(int, futimesat, (int, const char*, const struct timeval*))
VOL_OWN(int, mknodat, (int, const char*, mode_t, dev_t))
VOL_OWN(int, truncate, (const char*, off_t))
VOL_OWN(int, chdir, (const char*))
VOL_OWN(char*, getcwd, (char*, size_t))
VOL_OWN(int, statfs, (const char*, struct statfs*))
VOL_OWN(int, setxattr, (const char*, const char*, const void*, size_t, int))
VOL_OWN(int, lsetxattr, (const char*, const char*, const void*, size_t, int))
VOL_OWN(ssize_t, getxattr, (const char*, const char*, void*, size_t))
VOL_OWN(ssize_t, lgetxattr, (const char*, const char*, void*, size_t))
VOL_OWN(ssize_t, listxattr, (const char*, char*, size_t))
VOL_OWN(ssize_t, llistxattr, (const char*, char*, size_t))
VOL_OWN(int, removexattr, (const char*, const char*))
VOL_OWN(int, lremovexattr, (const char*, const char*))
VOL_OWN(int, inotify_add_watch, (int, const char*, uint32_t))
VOL_OWN(int, name_to_handle_at, (int, const char*, struct file_handle*, int*, int))
VOL_OWN(int, execve, (const char*, char* const[], char* const[]))
VOL_OWN(int, execveat, (int, const char*, char* const[], char* const[], int))
VOL_OWN(int, utime, (const char*, const struct utimbuf*))
VOL_OWN(int, utimes, (const char*, const struct timeval*))

namespace {

size_t iov_total(const struct iovec* iov, int n) {
  size_t total = 0;
  for (int i = 0; iov && i < n; i++) total += iov[i].iov_len;
  return total;
}

// openat2 without RESOLVE_* restrictions is openat. With them, a path is
// translated and opened for reading (a translated absolute path may then be
// refused, as RESOLVE_BENEATH refuses absolute paths).
long openat2_call(int dirfd, const char* path, const struct open_how* how, size_t size) {
  if (!how || size < sizeof(struct open_how) || how->resolve == 0)
    return how ? vol_w_openat(dirfd, path, (int)how->flags, (mode_t)how->mode)
               : (errno = EFAULT, -1);
  Resolved r;
  if (!resolve(dirfd, path, &r)) return -1;
  bool writes = (how->flags & O_ACCMODE) != O_RDONLY || (how->flags & (O_CREAT | O_TRUNC));
  if (r.mount >= 0 && writes) {
    errno = EPERM;  // not for writes: the shim's write path goes through openat
    return -1;
  }
  long fd = sys(SYS_openat2, r.dirfd, r.path, how, size);
  if (fd < 0) {
    errno = (int)-fd;
    return -1;
  }
  fd_note_resolved((int)fd, r, (int)how->flags);
  return fd;
}

}  // namespace

VOL_WRAPPER_T(long, syscall, (long n, ...), long (*)(long, ...)) {
  va_list ap;
  va_start(ap, n);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  if (g.active) {
    auto s = [](long a) { return reinterpret_cast<const char*>(a); };
    auto p = [](long a) { return reinterpret_cast<void*>(a); };
    switch (n) {
      case SYS_io_uring_setup:
        errno = ENOSYS;
        return -1;
      case SYS_clone:
#ifdef SYS_clone3
      case SYS_clone3:
#endif
#ifdef SYS_fork
      case SYS_fork:
      case SYS_vfork:
#endif
        note_foreign_clone();
        break;
      // ---- reads the shim must see
      case SYS_read:
      case SYS_readv:
      case SYS_pread64:
      case SYS_preadv:
      case SYS_preadv2:
        if (fd_needs_check((int)a1)) {
          bool vec = n == SYS_readv || n == SYS_preadv || n == SYS_preadv2;
          size_t len = vec ? iov_total(static_cast<const struct iovec*>(p(a2)), (int)a3) : (size_t)a3;
          long off = n == SYS_read || n == SYS_readv ? -1 : a4;
          if (ensure_range((int)a1, off, len) < 0) return -1;
        }
        break;
      case SYS_getdents64:
#ifdef SYS_getdents
      case SYS_getdents:
#endif
        fd_settle_dir((int)a1);
        break;
      case SYS_copy_file_range:
        if (fd_needs_check((int)a1) &&
            ensure_range((int)a1, a2 ? (long)*reinterpret_cast<loff_t*>(a2) : -1, (size_t)a5) < 0)
          return -1;
        break;
      // ---- paths
      case SYS_openat:
        return vol_w_openat((int)a1, s(a2), (int)a3, (mode_t)a4);
      case SYS_openat2:
        return openat2_call((int)a1, s(a2), static_cast<const struct open_how*>(p(a3)), (size_t)a4);
      case SYS_statx:
        return vol_w_statx((int)a1, s(a2), (int)a3, (unsigned)a4, static_cast<struct statx*>(p(a5)));
      case SYS_newfstatat:
        return vol_w_fstatat((int)a1, s(a2), static_cast<struct stat*>(p(a3)), (int)a4);
      case SYS_faccessat:
        return vol_w_faccessat((int)a1, s(a2), (int)a3, 0);
      case SYS_faccessat2:
        return vol_w_faccessat((int)a1, s(a2), (int)a3, (int)a4);
      case SYS_readlinkat:
        return vol_w_readlinkat((int)a1, s(a2), static_cast<char*>(p(a3)), (size_t)a4);
      case SYS_mkdirat:
        return vol_w_mkdirat((int)a1, s(a2), (mode_t)a3);
      case SYS_unlinkat:
        return vol_w_unlinkat((int)a1, s(a2), (int)a3);
      case SYS_renameat:
        return vol_w_renameat2((int)a1, s(a2), (int)a3, s(a4), 0);
      case SYS_renameat2:
        return vol_w_renameat2((int)a1, s(a2), (int)a3, s(a4), (unsigned)a5);
      case SYS_linkat:
        return vol_w_linkat((int)a1, s(a2), (int)a3, s(a4), (int)a5);
      case SYS_symlinkat:
        return vol_w_symlinkat(s(a1), (int)a2, s(a3));
      case SYS_fchmodat:
        return vol_w_fchmodat((int)a1, s(a2), (mode_t)a3, 0);
      case SYS_fchownat:
        return vol_w_fchownat((int)a1, s(a2), (uid_t)a3, (gid_t)a4, (int)a5);
      case SYS_utimensat:
        return vol_w_utimensat((int)a1, s(a2), static_cast<const struct timespec*>(p(a3)), (int)a4);
      case SYS_mknodat:
        return vol_w_mknodat((int)a1, s(a2), (mode_t)a3, (dev_t)a4);
      case SYS_truncate:
        return vol_w_truncate(s(a1), (off_t)a2);
      case SYS_chdir:
        return vol_w_chdir(s(a1));
      case SYS_getcwd: {  // the kernel's returns the length, NUL included
        char* buf = static_cast<char*>(p(a1));
        return vol_w_getcwd(buf, (size_t)a2) ? (long)strlen(buf) + 1 : -1;
      }
      case SYS_statfs:
        return vol_w_statfs(s(a1), static_cast<struct statfs*>(p(a2)));
      case SYS_setxattr:
        return vol_w_setxattr(s(a1), s(a2), p(a3), (size_t)a4, (int)a5);
      case SYS_lsetxattr:
        return vol_w_lsetxattr(s(a1), s(a2), p(a3), (size_t)a4, (int)a5);
      case SYS_getxattr:
        return vol_w_getxattr(s(a1), s(a2), p(a3), (size_t)a4);
      case SYS_lgetxattr:
        return vol_w_lgetxattr(s(a1), s(a2), p(a3), (size_t)a4);
      case SYS_listxattr:
        return vol_w_listxattr(s(a1), static_cast<char*>(p(a2)), (size_t)a3);
      case SYS_llistxattr:
        return vol_w_llistxattr(s(a1), static_cast<char*>(p(a2)), (size_t)a3);
      case SYS_removexattr:
        return vol_w_removexattr(s(a1), s(a2));
      case SYS_lremovexattr:
        return vol_w_lremovexattr(s(a1), s(a2));
      case SYS_inotify_add_watch:
        return vol_w_inotify_add_watch((int)a1, s(a2), (uint32_t)a3);
      case SYS_name_to_handle_at:
        return vol_w_name_to_handle_at((int)a1, s(a2), static_cast<struct file_handle*>(p(a3)),
                                       static_cast<int*>(p(a4)), (int)a5);
      case SYS_execve:
        return vol_w_execve(s(a1), static_cast<char* const*>(p(a2)), static_cast<char* const*>(p(a3)));
      case SYS_execveat:
        return vol_w_execveat((int)a1, s(a2), static_cast<char* const*>(p(a3)),
                              static_cast<char* const*>(p(a4)), (int)a5);
#ifdef SYS_open  // the legacy calls (x86_64)
      case SYS_open:
        return vol_w_openat(AT_FDCWD, s(a1), (int)a2, (mode_t)a3);
      case SYS_creat:
        return vol_w_openat(AT_FDCWD, s(a1), O_CREAT | O_WRONLY | O_TRUNC, (mode_t)a2);
      case SYS_stat:
        return vol_w_fstatat(AT_FDCWD, s(a1), static_cast<struct stat*>(p(a2)), 0);
      case SYS_lstat:
        return vol_w_fstatat(AT_FDCWD, s(a1), static_cast<struct stat*>(p(a2)), AT_SYMLINK_NOFOLLOW);
      case SYS_access:
        return vol_w_faccessat(AT_FDCWD, s(a1), (int)a2, 0);
      case SYS_readlink:
        return vol_w_readlinkat(AT_FDCWD, s(a1), static_cast<char*>(p(a2)), (size_t)a3);
      case SYS_mkdir:
        return vol_w_mkdirat(AT_FDCWD, s(a1), (mode_t)a2);
      case SYS_rmdir:
        return vol_w_unlinkat(AT_FDCWD, s(a1), AT_REMOVEDIR);
      case SYS_unlink:
        return vol_w_unlinkat(AT_FDCWD, s(a1), 0);
      case SYS_rename:
        return vol_w_renameat2(AT_FDCWD, s(a1), AT_FDCWD, s(a2), 0);
      case SYS_link:
        return vol_w_linkat(AT_FDCWD, s(a1), AT_FDCWD, s(a2), 0);
      case SYS_symlink:
        return vol_w_symlinkat(s(a1), AT_FDCWD, s(a2));
      case SYS_chmod:
        return vol_w_fchmodat(AT_FDCWD, s(a1), (mode_t)a2, 0);
      case SYS_chown:
        return vol_w_fchownat(AT_FDCWD, s(a1), (uid_t)a2, (gid_t)a3, 0);
      case SYS_lchown:
        return vol_w_fchownat(AT_FDCWD, s(a1), (uid_t)a2, (gid_t)a3, AT_SYMLINK_NOFOLLOW);
      case SYS_utime:
        return vol_w_utime(s(a1), static_cast<const struct utimbuf*>(p(a2)));
      case SYS_utimes:
        return vol_w_utimes(s(a1), static_cast<const struct timeval*>(p(a2)));
      case SYS_futimesat:
        return vol_w_futimesat((int)a1, s(a2), static_cast<const struct timeval*>(p(a3)));
      case SYS_mknod:
        return vol_w_mknodat(AT_FDCWD, s(a1), (mode_t)a2, (dev_t)a3);
#endif
    }
  }
  return VOL_REAL(syscall)(n, a1, a2, a3, a4, a5, a6);
}

// liburing's exported helpers make the system call themselves. The library
// may be absent, so their real versions are looked up without insisting.
VOL_WRAPPER_T(int, io_uring_setup, (unsigned entries, void* params), int (*)(unsigned, void*)) {
  if (g.active) {
    errno = ENOSYS;
    return -1;
  }
  auto real = reinterpret_cast<int (*)(unsigned, void*)>(dlsym(RTLD_NEXT, "io_uring_setup"));
  if (real) return real(entries, params);
  long fd = sys(SYS_io_uring_setup, entries, params);
  if (fd < 0) {
    errno = (int)-fd;
    return -1;
  }
  return (int)fd;
}
#define VOL_GEN_URING_INIT(NAME, PARAMS, ARGS)                                     \
  VOL_WRAPPER_T(int, NAME, PARAMS, int(*) PARAMS) {                                \
    if (g.active) return -ENOSYS; /* liburing returns -errno */                    \
    auto real = reinterpret_cast<int(*) PARAMS>(dlsym(RTLD_NEXT, #NAME));          \
    return real ? real ARGS : -ENOSYS;                                             \
  }
VOL_GEN_URING_INIT(io_uring_queue_init, (unsigned e, void* ring, unsigned f), (e, ring, f))
VOL_GEN_URING_INIT(io_uring_queue_init_params, (unsigned e, void* ring, void* p), (e, ring, p))
