// The cwd, and calls whose results are paths. chdir and fchdir keep the shim's
// cwd state, and a view path handed back to the program (getcwd, getwd,
// realpath, readlink of a symlink or of /proc/self/fd/N) becomes its mount path.
//
// Invariant: no path a program obtains through these shows a view path.
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

using namespace vol::shim;

VOL_WRAPPER(int, chdir, (const char* path)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  int ret = VOL_REAL(chdir)(r.path);
  if (ret != 0 && retry_resolve(&r)) ret = VOL_REAL(chdir)(r.path);
  if (ret == 0 && g.active && own_process()) update_cwd();
  return ret;
}
VOL_WRAPPER(int, fchdir, (int fd)) {
  fd_settle_dir(fd);  // "." will be listed
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
  if (!VOL_REAL(getcwd)(tmp, sizeof tmp)) {
    int mount;
    // Deeper than the kernel can name: a view path longer than PATH_MAX.
    if (errno != ENAMETOOLONG || deep_view_cwd(tmp, sizeof tmp, &mount) < 0)
      return VOL_REAL(getcwd)(buf, size);
  } else if (untranslate_in_place(tmp, sizeof tmp) < 0) {
    errno = ENAMETOOLONG;
    return nullptr;
  }
  if (buf && size == 0) {
    errno = EINVAL;
    return nullptr;
  }
  return hand_back(tmp, buf, size, true);
}
using getcwd_chk_fn = char* (*)(char*, size_t, size_t);
VOL_WRAPPER_T(char*, __getcwd_chk, (char* buf, size_t size, size_t buflen), getcwd_chk_fn) {
  if (size > buflen) abort();  // what glibc's __chk_fail does, minus the message
  return vol_w_getcwd(buf, size);
}
VOL_WRAPPER(char*, get_current_dir_name, (void)) {
  if (!g.active) return VOL_REAL(get_current_dir_name)();
  return vol_w_getcwd(nullptr, 0);
}
// getwd(buf): buf holds PATH_MAX bytes; on failure it holds the reason.
VOL_WRAPPER_T(char*, getwd, (char* buf), char* (*)(char*)) {
  if (!g.active) return VOL_REAL(getwd)(buf);
  if (vol_w_getcwd(buf, PATH_MAX)) return buf;
  strerror_r(errno, buf, PATH_MAX);
  return nullptr;
}

VOL_WRAPPER(char*, realpath, (const char* path, char* resolved)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return nullptr;
  if (!g.active) return VOL_REAL(realpath)(r.path, resolved);
  char tmp[kPathMax];
  if (!VOL_REAL(realpath)(r.path, tmp) &&
      !(retry_resolve(&r) && VOL_REAL(realpath)(r.path, tmp)))
    return nullptr;
  if (untranslate_in_place(tmp, sizeof tmp) < 0) {
    errno = ENAMETOOLONG;
    return nullptr;
  }
  return hand_back(tmp, resolved, PATH_MAX, false);
}
using realpath_chk_fn = char* (*)(const char*, char*, size_t);
VOL_WRAPPER_T(char*, __realpath_chk, (const char* path, char* resolved, size_t), realpath_chk_fn) {
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
VOL_WRAPPER(ssize_t, readlinkat, (int dirfd, const char* path, char* buf, size_t size)) {
  Resolved r;
  if (!resolve(dirfd, path, &r)) return -1;
  if (!g.active) return VOL_REAL(readlinkat)(dirfd, r.path, buf, size);
  char tmp[kPathMax];
  ssize_t n = VOL_REAL(readlinkat)(dirfd, r.path, tmp, sizeof tmp - 1);
  if (n < 0 && retry_resolve(&r)) n = VOL_REAL(readlinkat)(dirfd, r.path, tmp, sizeof tmp - 1);
  return readlink_done(n, tmp, buf, size);
}
VOL_WRAPPER(ssize_t, readlink, (const char* path, char* buf, size_t size)) {
  return vol_w_readlinkat(AT_FDCWD, path, buf, size);
}
using readlink_chk_fn = ssize_t (*)(const char*, char*, size_t, size_t);
using readlinkat_chk_fn = ssize_t (*)(int, const char*, char*, size_t, size_t);
VOL_WRAPPER_T(ssize_t, __readlink_chk, (const char* p, char* b, size_t s, size_t), readlink_chk_fn) {
  return vol_w_readlinkat(AT_FDCWD, p, b, s);
}
VOL_WRAPPER_T(ssize_t, __readlinkat_chk, (int d, const char* p, char* b, size_t s, size_t),
              readlinkat_chk_fn) {
  return vol_w_readlinkat(d, p, b, s);
}
