// Unix sockets at a path on a mount. bind creates the socket file in the view
// (a special file: it stays local; its directory is populated first), connect
// reaches it there, and the address the program reads back (getsockname,
// getpeername) shows the mount path. A view path longer than sun_path allows
// is reached through an O_PATH fd on its directory (/proc/self/fd/N/NAME), as
// the fetcher's socket is.
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shim.h"

using namespace vol::shim;

namespace {

// The translated address of a Unix socket path under a mount.
struct UnixAddr {
  struct sockaddr_un un;
  socklen_t len;
  int dirfd = -1;  // the O_PATH fd a long spelling goes through
  ~UnixAddr() {
    if (dirfd >= 0) sys(SYS_close, dirfd);
  }
};

// 1 if `a` is a Unix socket path under a mount (r and out filled), 0 if it is
// passed as it is, -1 (errno set) if it cannot be.
int translate_addr(const struct sockaddr* a, socklen_t len, Resolved* r, UnixAddr* out) {
  const size_t base = offsetof(struct sockaddr_un, sun_path);
  if (!g.active || !a || a->sa_family != AF_UNIX || len <= base) return 0;
  const auto* un = reinterpret_cast<const struct sockaddr_un*>(a);
  size_t n = strnlen(un->sun_path, len - base < sizeof un->sun_path ? len - base : sizeof un->sun_path);
  if (n == 0) return 0;  // unnamed, or the abstract namespace
  char path[sizeof un->sun_path + 1];
  memcpy(path, un->sun_path, n);
  path[n] = '\0';
  if (!resolve(AT_FDCWD, path, r)) return -1;
  if (r->mount < 0 && r->anc < 0) return 0;
  // Lazy views: the kernel looks the directory up itself (bind creates in it).
  if (r->mount >= 0 && populate_parent(r->dirfd, r->path) < 0) return -1;
  const char* use = r->path;
  char spelled[sizeof out->un.sun_path + 32];
  if (strlen(use) >= sizeof out->un.sun_path) {
    const char* slash = strrchr(use, '/');
    char dir[kPathMax];
    if (!slash || (size_t)(slash - use) >= sizeof dir) {
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(dir, use, (size_t)(slash - use));
    dir[slash - use] = '\0';
    long fd = sys(SYS_openat, AT_FDCWD, dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      errno = (int)-fd;
      return -1;
    }
    out->dirfd = (int)fd;
    int k = proc_fd_path(spelled, fd);
    if (k + strlen(slash) >= sizeof out->un.sun_path) {
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(spelled + k, slash, strlen(slash) + 1);
    use = spelled;
  }
  memset(&out->un, 0, sizeof out->un);
  out->un.sun_family = AF_UNIX;
  memcpy(out->un.sun_path, use, strlen(use) + 1);
  out->len = (socklen_t)(base + strlen(use) + 1);
  return 1;
}

// A returned address that names a view path: the mount path instead.
void untranslate_addr(struct sockaddr* a, socklen_t* len, socklen_t cap) {
  const size_t base = offsetof(struct sockaddr_un, sun_path);
  if (!g.active || !a || !len || a->sa_family != AF_UNIX || *len <= base + 1) return;
  auto* un = reinterpret_cast<struct sockaddr_un*>(a);
  size_t avail = cap > base ? cap - base : 0;
  size_t n = strnlen(un->sun_path, *len - base);
  char real[sizeof un->sun_path + 1], mp[kPathMax];
  if (n == 0 || n >= sizeof real || n > avail) return;
  memcpy(real, un->sun_path, n);
  real[n] = '\0';
  long m = untranslate(g.mounts, real, mp, sizeof mp);
  if (m <= 0 || (size_t)m >= sizeof un->sun_path) return;
  // The kernel reports the full length even when it truncated; so do we.
  size_t copy = (size_t)m + 1 < avail ? (size_t)m + 1 : avail;
  memcpy(un->sun_path, mp, copy);
  *len = (socklen_t)(base + (size_t)m + 1);
}

}  // namespace

VOL_WRAPPER(int, bind, (int s, const struct sockaddr* a, socklen_t len)) {
  Resolved r;
  UnixAddr u;
  int t = translate_addr(a, len, &r, &u);
  if (t < 0 || (t && !may_write(r))) return -1;
  if (!t) return VOL_REAL(bind)(s, a, len);
  int ret = VOL_REAL(bind)(s, reinterpret_cast<const struct sockaddr*>(&u.un), u.len);
  if (ret == 0 && changed(r) < 0) return -1;
  return ret;
}
VOL_WRAPPER(int, connect, (int s, const struct sockaddr* a, socklen_t len)) {
  Resolved r;
  UnixAddr u;
  int t = translate_addr(a, len, &r, &u);
  if (t < 0) return -1;
  if (!t) return VOL_REAL(connect)(s, a, len);
  return VOL_REAL(connect)(s, reinterpret_cast<const struct sockaddr*>(&u.un), u.len);
}
VOL_WRAPPER(int, getsockname, (int s, struct sockaddr* a, socklen_t* len)) {
  socklen_t cap = len ? *len : 0;
  int ret = VOL_REAL(getsockname)(s, a, len);
  if (ret == 0) untranslate_addr(a, len, cap);
  return ret;
}
VOL_WRAPPER(int, getpeername, (int s, struct sockaddr* a, socklen_t* len)) {
  socklen_t cap = len ? *len : 0;
  int ret = VOL_REAL(getpeername)(s, a, len);
  if (ret == 0) untranslate_addr(a, len, cap);
  return ret;
}
