// Path arguments: mount path → view path, and the cwd state that relative
// paths need.
//
// Invariants: a path that is not under a mount, with a cwd that is neither in a
// view nor an ancestor of a mount, costs one flag load and a prefix compare per
// mount: no system call, no copy. The cwd state is written only by the owning
// process (never by a vfork child) under a seqlock; readers copy it out.
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "shim.h"

namespace vol::shim {

namespace {

enum CwdMode : int { kCwdPlain = 0, kCwdView = 1, kCwdAncestor = 2 };

// The cwd as the program sees it (a mount path when in a view).
struct Cwd {
  int mode;
  int mount;
  int depth;  // components below the mount root when in a view
  char path[kPathMax];
};
Cwd g_cwd;
unsigned g_cwd_seq;   // odd while being written
int g_cwd_lock;

int cwd_mode() { return __atomic_load_n(&g_cwd.mode, __ATOMIC_ACQUIRE); }

// Copies the cwd state out consistently. Returns false if the path did not fit.
void read_cwd(Cwd* out, bool with_path) {
  for (;;) {
    unsigned s1 = __atomic_load_n(&g_cwd_seq, __ATOMIC_ACQUIRE);
    if (s1 & 1) continue;
    out->mode = g_cwd.mode;
    out->mount = g_cwd.mount;
    out->depth = g_cwd.depth;
    if (with_path) memcpy(out->path, g_cwd.path, strnlen(g_cwd.path, kPathMax - 1) + 1);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&g_cwd_seq, __ATOMIC_RELAXED) == s1) return;
  }
}

bool use_buf(Resolved* r, const char* p) {
  if (path_concat(r->buf, sizeof r->buf, p, strlen(p), nullptr) < 0) {
    errno = ENAMETOOLONG;
    return false;
  }
  r->path = r->buf;
  return true;
}

bool resolve_abs(const char* path, Resolved* r, const char* fallback) {
  int mount = -1;
  switch (translate_abs(g.mounts, path, r->buf, sizeof r->buf, &mount)) {
    case Xlate::kPass:
      if (fallback) return true;  // r->path stays the caller's relative path
      return path == r->path || use_buf(r, path);
    case Xlate::kHost:
      r->path = r->buf;
      return true;
    case Xlate::kMount:
      r->path = r->buf;
      r->mount = mount;
      return true;
    case Xlate::kError:
      break;
  }
  errno = ENAMETOOLONG;
  return false;
}

}  // namespace

void update_cwd() {
  char real[kPathMax];
  long n = sys(SYS_getcwd, real, sizeof real);
  Cwd c{};
  c.mode = kCwdPlain;
  if (n > 0 && real[0] == '/') {
    int v = view_of(g.mounts, real);
    if (v >= 0) {
      c.mode = kCwdView;
      c.mount = v;
      if (untranslate(g.mounts, real, c.path, sizeof c.path) < 0) c.mode = kCwdPlain;
      c.depth = path_depth_below(c.path, g.mounts.m[v].mount_len);
    } else if (is_mount_ancestor(g.mounts, real)) {
      c.mode = kCwdAncestor;
      memcpy(c.path, real, strlen(real) + 1);
    }
  }
  while (__atomic_exchange_n(&g_cwd_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  __atomic_store_n(&g_cwd_seq, g_cwd_seq + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  g_cwd.mount = c.mount;
  g_cwd.depth = c.depth;
  memcpy(g_cwd.path, c.path, strlen(c.path) + 1);
  __atomic_store_n(&g_cwd.mode, c.mode, __ATOMIC_RELEASE);
  __atomic_store_n(&g_cwd_seq, g_cwd_seq + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&g_cwd_lock, 0, __ATOMIC_RELEASE);
}

bool resolve(int dirfd, const char* path, Resolved* r) {
  r->path = path;
  r->mount = -1;
  r->dirfd = dirfd;
  if (!g.active || path == nullptr || t_resolving) return true;
  if (path[0] == '/') return resolve_abs(path, r, nullptr);
  if (path[0] == '\0') {  // "" with AT_EMPTY_PATH names dirfd itself
    if ((unsigned)dirfd < (unsigned)kMaxFds) r->mount = (int)g_fds[dirfd].mount1 - 1;
    return true;
  }

  char base[kPathMax];
  if (dirfd == AT_FDCWD) {
    int mode = cwd_mode();
    if (mode == kCwdPlain) return true;
    Cwd c;
    if (mode == kCwdView) {
      read_cwd(&c, false);
      if (c.mode == kCwdView && (!path_has_dotdot(path) || !path_escapes(path, c.depth))) {
        r->mount = c.mount;  // the real cwd is the view directory itself
        return true;
      }
    }
    read_cwd(&c, true);
    if (c.mode == kCwdPlain) return true;
    memcpy(base, c.path, strlen(c.path) + 1);
  } else {
    // A directory fd: only a ".." that climbs out of its view needs help.
    if ((unsigned)dirfd >= (unsigned)kMaxFds || g_fds[dirfd].mount1 == 0) return true;
    int mount = g_fds[dirfd].mount1 - 1;
    r->mount = mount;
    if (!path_has_dotdot(path)) return true;
    char link[32] = "/proc/self/fd/";
    char num[12];
    int k = 0;
    for (int v = dirfd; k == 0 || v; v /= 10) num[k++] = (char)('0' + v % 10);
    for (int i = 0; i < k; i++) link[14 + i] = num[k - 1 - i];
    link[14 + k] = '\0';
    char real[kPathMax];
    long n = sys(SYS_readlinkat, AT_FDCWD, link, real, sizeof real - 1);
    if (n <= 0) return true;
    real[n] = '\0';
    const Mount& m = g.mounts.m[mount];
    if (!path_under(real, m.view, m.view_len)) return true;
    if (!path_escapes(path, path_depth_below(real, m.view_len))) return true;
    if (untranslate(g.mounts, real, base, sizeof base) <= 0) return true;
  }
  char joined[kPathMax], norm[kPathMax];
  if (path_join(joined, sizeof joined, base, path) < 0 ||
      path_normalize(joined, norm, sizeof norm) < 0) {
    errno = ENAMETOOLONG;
    return false;
  }
  r->mount = -1;
  return resolve_abs(norm, r, path_has_dotdot(path) ? nullptr : path);
}

bool may_write(const Resolved& r) {
  if (r.mount < 0) return true;
  if (g.writes && g.mounts.m[r.mount].rw) return true;
  errno = EROFS;
  return false;
}

bool mount_path_of(const Resolved& r, char* out, size_t cap) {
  if (r.mount < 0) return false;
  if (r.path[0] == '/') return untranslate(g.mounts, r.path, out, cap) > 0;
  char base[kPathMax], joined[kPathMax], norm[kPathMax];
  if (r.dirfd == AT_FDCWD) {
    if (sys(SYS_getcwd, base, sizeof base) <= 0) return false;
  } else {
    char link[32] = "/proc/self/fd/";
    char num[12];
    int k = 0;
    for (int v = r.dirfd; k == 0 || v; v /= 10) num[k++] = (char)('0' + v % 10);
    for (int i = 0; i < k; i++) link[14 + i] = num[k - 1 - i];
    link[14 + k] = '\0';
    long n = sys(SYS_readlinkat, AT_FDCWD, link, base, sizeof base - 1);
    if (n <= 0) return false;
    base[n] = '\0';
  }
  if (path_join(joined, sizeof joined, base, r.path) < 0) return false;
  if (path_normalize(joined, norm, sizeof norm) < 0) return false;
  return untranslate(g.mounts, norm, out, cap) > 0;
}

long untranslate_in_place(char* buf, size_t cap) {
  if (!g.active || buf[0] != '/') return (long)strlen(buf);
  char tmp[kPathMax];
  long n = untranslate(g.mounts, buf, tmp, sizeof tmp);
  if (n == 0) return (long)strlen(buf);
  if (n < 0 || (size_t)n + 1 > cap) return -1;
  memcpy(buf, tmp, (size_t)n + 1);
  return n;
}

}  // namespace vol::shim
