// Path arguments: mount path → view path, and the cwd state that relative
// paths need. Every wrapper that takes a path calls resolve(), and every way
// to name a file goes through it: absolute and relative paths, any dirfd (in
// a view, above a mount, or on the host with a ".." that climbs to a mount's
// ancestor), /proc and /dev/fd spellings, and — after a failure — host
// symlinks that lead into a mount (retry_resolve).
//
// Invariants: a path that is not under a mount, with a cwd that is neither in a
// view nor an ancestor of a mount, costs one flag load and a prefix compare per
// mount and ancestor: no system call, no copy (paths with ".." and /proc or
// /dev/fd spellings cost one more system call). The cwd state is written only
// by the owning process (never by a vfork child) under a seqlock; readers copy
// it out.
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "shim.h"

namespace vol::shim {

namespace {

enum CwdMode : int { kCwdPlain = 0, kCwdView = 1, kCwdAncestor = 2 };

// The cwd as the program sees it (a mount path when in a view).
struct Cwd {
  int mode;
  int mount;
  int depth;   // components below the mount root when in a view
  int anc;     // the ancestor when kCwdAncestor
  char path[kPathMax];
};
Cwd g_cwd;
unsigned g_cwd_seq;   // odd while being written
int g_cwd_lock;

int cwd_mode() { return __atomic_load_n(&g_cwd.mode, __ATOMIC_ACQUIRE); }

// Copies the cwd state out consistently.
void read_cwd(Cwd* out, bool with_path) {
  for (;;) {
    unsigned s1 = __atomic_load_n(&g_cwd_seq, __ATOMIC_ACQUIRE);
    if (s1 & 1) continue;
    out->mode = g_cwd.mode;
    out->mount = g_cwd.mount;
    out->depth = g_cwd.depth;
    out->anc = g_cwd.anc;
    if (with_path) memcpy(out->path, g_cwd.path, strnlen(g_cwd.path, kPathMax - 1) + 1);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&g_cwd_seq, __ATOMIC_RELAXED) == s1) return;
  }
}

// r->buf holds the view path of a path under mount m: r names it by that
// path and, when the mount has a view fd and the path goes below the view
// root, also as (view fd, the rest) for the calls that take that form.
void use_view(Resolved* r, int m) {
  r->path = r->buf;
  r->mount = m;
  int fd = __atomic_load_n(&g_view_fd[m], __ATOMIC_RELAXED);
  if (fd < 0) return;
  const char* rel = r->buf + g.mounts.m[m].view_len;
  while (*rel == '/') rel++;
  if (!*rel) return;
  r->vfd = fd;
  r->rel = rel;
}

bool use_buf(Resolved* r, const char* p) {
  if (path_concat(r->buf, sizeof r->buf, p, strlen(p), nullptr) < 0) {
    errno = ENAMETOOLONG;
    return false;
  }
  r->path = r->buf;
  return true;
}

// ---- ancestors of the mounts ------------------------------------------------
// 0: not looked at yet, 1: exists on the host, 2: synthetic, 3: synthetic and
// its directory made.
signed char g_anc_state[kMaxAncestors];

signed char ancestor_state(int k) {
  signed char s = __atomic_load_n(&g_anc_state[k], __ATOMIC_RELAXED);
  if (s) return s;
  char p[kPathMax];
  memcpy(p, ancestor_path(g.mounts, k), g.mounts.anc[k].len);
  p[g.mounts.anc[k].len] = '\0';
  struct stat st;
  s = sys(SYS_newfstatat, AT_FDCWD, p, &st, 0) == 0 ? 1 : 2;
  if (own_process()) __atomic_store_n(&g_anc_state[k], s, __ATOMIC_RELAXED);
  return s;
}

// The synthetic parent of ancestor k into out, made if missing.
bool synthetic_dir(int k, char* out, size_t cap) {
  if (synth_path(g.mounts, k, out, cap) < 0) return false;
  if (ancestor_state(k) == 3) return true;
  sys(SYS_mkdirat, AT_FDCWD, g.mounts.synth, 0700);
  long rc = sys(SYS_mkdirat, AT_FDCWD, out, 0555);
  if (rc != 0 && rc != -EEXIST) return false;
  if (own_process()) __atomic_store_n(&g_anc_state[k], (signed char)3, __ATOMIC_RELAXED);
  return true;
}

// r names ancestor k: a synthetic one is reached through its directory.
void name_ancestor(int k, Resolved* r) {
  r->anc = k;
  if (ancestor_synthetic(k) && synthetic_dir(k, r->buf, sizeof r->buf)) r->path = r->buf;
}

// ---- /proc and /dev/fd spellings ----------------------------------------------
bool resolve_abs(const char* path, Resolved* r, const char* fallback);

// A magic link reaches what it points at whatever the spelling: a view object
// keeps the spelling (it may be an O_TMPFILE or an unlinked file) and gets its
// mount; a mount reached through the rest (/proc/self/root/mnt/v/f) is
// translated.
bool resolve_magic(const char* path, size_t n, Resolved* r, const char* fallback) {
  char link[kPathMax], target[kPathMax];
  memcpy(link, path, n);
  link[n] = '\0';
  long len = 0;
  for (int hops = 0; hops < 4; hops++) {  // /dev/stdin → /proc/self/fd/0 → the file
    len = sys(SYS_readlinkat, AT_FDCWD, link, target, sizeof target - 1);
    if (len <= 0) break;
    target[len] = '\0';
    if (magic_prefix(target) != (size_t)len) break;
    memcpy(link, target, (size_t)len + 1);
  }
  if (len > 0 && target[0] == '/') {
    int v = view_of(g.mounts, target);
    if (v >= 0) {
      r->mount = v;
      r->magic = true;
      if (fallback) return true;
      return path == r->path || use_buf(r, path);
    }
    const char* rest;
    char joined[kPathMax], norm[kPathMax];
    int k = synth_of(g.mounts, target, &rest);
    if (k >= 0) {
      if (!*rest) r->anc = k;
    } else if (path_join(joined, sizeof joined, target, path[n] ? path + n + 1 : "") >= 0 &&
               path_normalize(joined, norm, sizeof norm) >= 0) {
      int mount = -1;
      if (translate_abs(g.mounts, norm, r->buf, sizeof r->buf, &mount) == Xlate::kMount) {
        use_view(r, mount);
        return true;
      }
      r->anc = ancestor_of(g.mounts, norm);
    }
  }
  if (fallback) return true;
  return path == r->path || use_buf(r, path);
}

// ---- paths too long for their view spelling -------------------------------------
// The view path of `path` (under mount) exceeds PATH_MAX although the path
// itself does not: reach it as /proc/self/fd/<parent's O_PATH fd>/NAME.
bool resolve_long(const char* path, Resolved* r) {
  char norm[kPathMax];
  if (path_normalize(path, norm, sizeof norm) < 0) {
    errno = ENAMETOOLONG;
    return false;
  }
  int m = mount_of(g.mounts, norm);
  if (m < 0) {
    errno = ENAMETOOLONG;
    return false;
  }
  const char* rest = norm + g.mounts.m[m].mount_len;
  while (*rest == '/') rest++;
  const char* slash = strrchr(rest, '/');
  const char* name = slash ? slash + 1 : rest;
  if (strlen(name) + 32 > sizeof r->shortp) {
    errno = ENAMETOOLONG;
    return false;
  }
  long fd = sys(SYS_openat, AT_FDCWD, g.mounts.m[m].view, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0 && slash) {
    char parent[kPathMax];
    memcpy(parent, rest, (size_t)(slash - rest));
    parent[slash - rest] = '\0';
    long pfd = sys(SYS_openat, fd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    sys(SYS_close, fd);
    fd = pfd;
  }
  if (fd < 0) {
    errno = (int)-fd;
    return false;
  }
  r->tmpfd = (int)fd;
  int k = proc_fd_path(r->shortp, fd);
  if (*name) {
    r->shortp[k++] = '/';
    memcpy(r->shortp + k, name, strlen(name) + 1);
  }
  memcpy(r->buf, norm, strlen(norm) + 1);  // the mount path, for notifications
  r->path = r->shortp;
  r->mount = m;
  return true;
}

// "." and ".." may name a mount or an ancestor (/mnt/x/.. , /tmp/../mnt/v,
// /data/. for a synthetic /data): then the normal spelling is used, and r
// is done (true). Kept out of resolve_abs, whose frame stays small.
__attribute__((noinline)) bool resolve_normalized(const char* path, Resolved* r) {
  char norm[kPathMax];
  if (path_normalize(path, norm, sizeof norm) < 0) return false;
  int mount = -1;
  if (translate_abs(g.mounts, norm, r->buf, sizeof r->buf, &mount) == Xlate::kMount) {
    use_view(r, mount);
    return true;
  }
  int k = ancestor_of(g.mounts, norm);
  if (k < 0 || !use_buf(r, norm)) return false;
  name_ancestor(k, r);
  return true;
}

// Translates the absolute `path`. With `fallback` (the caller's relative
// path), a result on the host that is no ancestor keeps the caller's spelling.
bool resolve_abs(const char* path, Resolved* r, const char* fallback) {
  int mount = -1;
  switch (translate_abs(g.mounts, path, r->buf, sizeof r->buf, &mount)) {
    case Xlate::kMount:
      use_view(r, mount);
      return true;
    case Xlate::kError:
      return resolve_long(path, r);
    case Xlate::kHost: {
      r->path = r->buf;
      int k = ancestor_of(g.mounts, r->buf);
      if (k >= 0) name_ancestor(k, r);
      return true;
    }
    case Xlate::kPass:
      break;
  }
  if (path[1] == 'p' || path[1] == 'd')
    if (size_t n = magic_prefix(path)) return resolve_magic(path, n, r, fallback);
  // Most host paths stop here: neither near a mount nor "/", and no dots.
  bool near = path_near_mounts(g.mounts, path);
  int k = near || path[1] == '\0' ? ancestor_of(g.mounts, path) : -1;
  if (k < 0 && (path_has_dots(path) || (near && strstr(path, "//"))) && resolve_normalized(path, r))
    return true;
  if (k >= 0) {
    r->anc = k;
    if (ancestor_synthetic(k)) {
      name_ancestor(k, r);
      return true;
    }
  }
  if (fallback) return true;  // r->path stays the caller's relative path
  return path == r->path || use_buf(r, path);
}

// `path` relative to the absolute `base`, normalised and translated. With
// keep_host, a result on the host keeps the caller's relative spelling.
bool resolve_joined(const char* base, const char* path, Resolved* r, bool keep_host) {
  char joined[kPathMax], norm[kPathMax];
  if (path_join(joined, sizeof joined, base, path) < 0 ||
      path_normalize(joined, norm, sizeof norm) < 0) {
    errno = ENAMETOOLONG;
    return false;
  }
  r->mount = -1;
  return resolve_abs(norm, r, keep_host ? path : nullptr);
}

// The real path of a directory fd, into out. False if it has none that fits.
bool fd_real_path(int fd, char* out, size_t cap) {
  char link[32];
  proc_fd_path(link, fd);
  long n = sys(SYS_readlinkat, AT_FDCWD, link, out, cap - 1);
  if (n <= 0 || out[0] != '/') return false;
  out[n] = '\0';
  return true;
}

bool real_cwd(char* out, size_t cap) {
  long n = sys(SYS_getcwd, out, cap);
  return n > 0 && out[0] == '/';
}

// A relative `path` (not "") against the cwd or dirfd.
__attribute__((noinline)) bool resolve_relative(int dirfd, const char* path, Resolved* r) {
  char base[kPathMax];
  if (dirfd == AT_FDCWD) {
    int mode = cwd_mode();
    if (mode == kCwdPlain) {
      // A ".." may climb from a host directory to a mount (cd /tmp; ls ../mnt/v).
      if (!path_has_dotdot(path) || !real_cwd(base, sizeof base)) return true;
      return resolve_joined(base, path, r, true);
    }
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
    bool keep = c.mode == kCwdAncestor && !ancestor_synthetic(c.anc) && !path_has_dotdot(path);
    return resolve_joined(c.path, path, r, keep);
  }
  if ((unsigned)dirfd >= (unsigned)kMaxFds) return true;
  FdEntry e = g_fds[dirfd];
  if (e.anc1) {  // above a mount: the path may enter one
    int k = e.anc1 - 1;
    memcpy(base, ancestor_path(g.mounts, k), g.mounts.anc[k].len);
    base[g.mounts.anc[k].len] = '\0';
    return resolve_joined(base, path, r, !ancestor_synthetic(k) && !path_has_dotdot(path));
  }
  if (e.mount1 == 0) {
    // A host directory: only a ".." can climb to a mount.
    if (!path_has_dotdot(path) || !fd_real_path(dirfd, base, sizeof base)) return true;
    return resolve_joined(base, path, r, true);
  }
  // A directory fd in a view: only a ".." that climbs out of its view needs help.
  int mount = e.mount1 - 1;
  r->mount = mount;
  if (!path_has_dotdot(path)) return true;
  char real[kPathMax];
  if (!fd_real_path(dirfd, real, sizeof real)) return true;
  const Mount& m = g.mounts.m[mount];
  if (!path_under(real, m.view, m.view_len)) return true;
  if (!path_escapes(path, path_depth_below(real, m.view_len))) return true;
  if (untranslate(g.mounts, real, base, sizeof base) <= 0) return true;
  return resolve_joined(base, path, r, false);
}

}  // namespace

bool ancestor_synthetic(int k) { return ancestor_state(k) >= 2; }

void update_cwd() {
  char real[kPathMax];
  long n = sys(SYS_getcwd, real, sizeof real);
  Cwd c{};
  c.mode = kCwdPlain;
  c.anc = -1;
  const char* rest;
  if (n > 0 && real[0] == '/') {
    int v = view_of(g.mounts, real);
    int k;
    if (v >= 0) {
      c.mode = kCwdView;
      c.mount = v;
      if (untranslate(g.mounts, real, c.path, sizeof c.path) < 0) c.mode = kCwdPlain;
      c.depth = path_depth_below(c.path, g.mounts.m[v].mount_len);
    } else if ((k = synth_of(g.mounts, real, &rest)) >= 0 && !*rest) {
      c.mode = kCwdAncestor;
      c.anc = k;
      memcpy(c.path, ancestor_path(g.mounts, k), g.mounts.anc[k].len);
      c.path[g.mounts.anc[k].len] = '\0';
    } else if ((k = ancestor_of(g.mounts, real)) >= 0) {
      c.mode = kCwdAncestor;
      c.anc = k;
      memcpy(c.path, real, strlen(real) + 1);
    }
  } else if (n == -ENAMETOOLONG) {
    int v;
    if (deep_view_cwd(c.path, sizeof c.path, &v) > 0) {
      c.mode = kCwdView;
      c.mount = v;
      c.depth = path_depth_below(c.path, g.mounts.m[v].mount_len);
    }
  }
  while (__atomic_exchange_n(&g_cwd_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  __atomic_store_n(&g_cwd_seq, g_cwd_seq + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  g_cwd.mount = c.mount;
  g_cwd.depth = c.depth;
  g_cwd.anc = c.anc;
  memcpy(g_cwd.path, c.path, strlen(c.path) + 1);
  __atomic_store_n(&g_cwd.mode, c.mode, __ATOMIC_RELEASE);
  __atomic_store_n(&g_cwd_seq, g_cwd_seq + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&g_cwd_lock, 0, __ATOMIC_RELEASE);
}

bool resolve(int dirfd, const char* path, Resolved* r) {
  r->path = path;
  r->mount = -1;
  r->dirfd = dirfd;
  r->anc = -1;
  r->vfd = -1;
  r->magic = false;
  r->arg = path;
  r->argfd = dirfd;
  if (!g.active || path == nullptr || t_resolving) return true;
  if (path[0] == '/') return resolve_abs(path, r, nullptr);
  // A directory opened without O_DIRECTORY, used as one: populated first.
  fd_settle_dir(dirfd);
  if (path[0] == '\0') {  // "" with AT_EMPTY_PATH names dirfd itself
    if ((unsigned)dirfd < (unsigned)kMaxFds) {
      r->mount = (int)g_fds[dirfd].mount1 - 1;
      r->anc = (int)g_fds[dirfd].anc1 - 1;
    }
    return true;
  }

  // The common relative paths need nothing: from a host cwd or a host dirfd
  // without "..".
  if (dirfd == AT_FDCWD ? cwd_mode() == kCwdPlain
                        : (unsigned)dirfd >= (unsigned)kMaxFds ||
                              (!g_fds[dirfd].mount1 && !g_fds[dirfd].anc1)) {
    if (!path_has_dotdot(path)) return true;
  }
  return resolve_relative(dirfd, path, r);
}

bool retry_resolve(Resolved* r) {
  int err = errno;
  // Under a mount, the path may go through directories not populated yet
  // (lazy views): populated, the call is tried again.
  if (g.active && !t_resolving && r->mount >= 0 && r->path) return populate_for_retry(r->dirfd, r->path, err);
  if (!g.active || t_resolving || r->mount >= 0 || r->anc >= 0 || r->magic || !r->arg ||
      !r->arg[0] || (err != ENOENT && err != ENOTDIR))
    return false;
  const char* path = r->arg;
  int dirfd = r->argfd;
  struct stat st;
  // The usual genuine failure costs two system calls: the parent directory
  // exists, and the last component is missing or is no symlink.
  {
    char parent[kPathMax];
    const char* slash = strrchr(path, '/');
    size_t plen = slash ? (size_t)(slash - path) : 0;
    if (slash && plen == 0) plen = 1;  // "/name"
    if (plen >= sizeof parent) return false;
    memcpy(parent, slash ? path : ".", slash ? plen : 1);
    parent[slash ? plen : 1] = '\0';
    if (sys(SYS_newfstatat, dirfd, parent, &st, 0) == 0 && S_ISDIR(st.st_mode)) {
      if (sys(SYS_newfstatat, dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
        return false;
    }
  }
  // Walk the path component by component, as the kernel does, but knowing the
  // mounts: `done` is a real absolute path without symlinks, `todo` what is left.
  char done[kPathMax], todo[kPathMax], next[kPathMax], target[kPathMax];
  size_t dlen;
  if (path[0] == '/') {
    done[0] = '\0';
    dlen = 0;
  } else {
    bool ok = dirfd == AT_FDCWD ? real_cwd(done, sizeof done) : fd_real_path(dirfd, done, sizeof done);
    if (!ok || view_of(g.mounts, done) >= 0) return false;
    dlen = strlen(done);
    if (dlen == 1) dlen = 0;  // "/"
  }
  if (strlen(path) >= sizeof todo) return false;
  memcpy(todo, path, strlen(path) + 1);
  int links = 0;
  const char* t = todo;
  for (;;) {
    while (*t == '/') t++;
    if (!*t) return false;  // the whole path is on the host: the failure stands
    const char* e = t;
    while (*e && *e != '/') e++;
    size_t n = (size_t)(e - t);
    if (n == 1 && t[0] == '.') {
      t = e;
      continue;
    }
    if (n == 2 && t[0] == '.' && t[1] == '.') {
      while (dlen > 0 && done[dlen - 1] != '/') dlen--;
      if (dlen > 0) dlen--;
      done[dlen] = '\0';
      t = e;
      continue;
    }
    if (dlen + 1 + n + 1 > sizeof done) return false;
    done[dlen] = '/';
    memcpy(done + dlen + 1, t, n);
    done[dlen + 1 + n] = '\0';
    if (mount_of(g.mounts, done) >= 0) {
      // Entered a mount: the rest is the mount's business.
      if (path_join(next, sizeof next, done, *e ? e + 1 : "") < 0) return false;
      r->mount = -1;
      r->anc = -1;
      r->vfd = -1;
      r->dirfd = AT_FDCWD;
      if (!resolve_abs(next, r, nullptr) || r->mount < 0) return false;
      // The caller tries once more: the directories on the way must be there
      // (lazy views), which the first attempt, on the host, could not see to.
      materialize_path(r->dirfd, r->path);
      return true;
    }
    if (ancestor_of(g.mounts, done) >= 0) {  // it need not exist on the host
      dlen += 1 + n;
      t = e;
      continue;
    }
    if (sys(SYS_newfstatat, AT_FDCWD, done, &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) return false;
      long tl = sys(SYS_readlinkat, AT_FDCWD, done, target, sizeof target - 1);
      if (tl <= 0) return false;
      target[tl] = '\0';
      if (path_join(next, sizeof next, target, *e ? e + 1 : "") < 0) return false;
      memcpy(todo, next, strlen(next) + 1);
      t = todo;
      if (target[0] == '/') dlen = 0;
      done[dlen] = '\0';
      continue;
    }
    if (!S_ISDIR(st.st_mode) && *e) return false;
    dlen += 1 + n;
    t = e;
  }
}

bool may_write(const Resolved& r) {
  if (r.mount < 0) return true;
  if (g.writes && g.mounts.m[r.mount].rw) return true;
  errno = EROFS;
  return false;
}

bool mount_path_of(const Resolved& r, char* out, size_t cap) {
  if (r.mount < 0) return false;
  if (r.tmpfd >= 0) return path_concat(out, cap, r.buf, strlen(r.buf), nullptr) > 0;
  if (r.magic) {  // what the link points at
    char real[kPathMax];
    long n = sys(SYS_readlinkat, AT_FDCWD, r.path, real, sizeof real - 1);
    if (n <= 0) return false;
    real[n] = '\0';
    return untranslate(g.mounts, real, out, cap) > 0;
  }
  if (r.path[0] == '/') return untranslate(g.mounts, r.path, out, cap) > 0;
  char base[kPathMax], joined[kPathMax], norm[kPathMax];
  if (r.dirfd == AT_FDCWD) {
    if (!real_cwd(base, sizeof base)) {
      int m;
      if (deep_view_cwd(base, sizeof base, &m) < 0) return false;
      if (path_join(joined, sizeof joined, base, r.path) < 0) return false;
      return path_normalize(joined, out, cap) > 0;
    }
  } else if (!fd_real_path(r.dirfd, base, sizeof base)) {
    return false;
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

// The kernel cannot name a cwd deeper than PATH_MAX: climb with ".." to a view
// root, naming each directory by its inode in its parent's listing.
long deep_view_cwd(char* out, size_t cap, int* mount) {
  struct LinuxDirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[1];
  };
  struct stat roots[kMaxMounts];
  for (int i = 0; i < g.mounts.count; i++)
    if (sys(SYS_newfstatat, AT_FDCWD, g.mounts.m[i].view, &roots[i], 0) != 0) roots[i].st_ino = 0;
  char rev[kPathMax];  // the components found so far, from the end of the buffer
  size_t used = 0;
  long fd = sys(SYS_openat, AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  long ret = -1;
  for (int depth = 0; fd >= 0 && depth < (int)kPathMax / 2; depth++) {
    struct stat st;
    if (sys(SYS_fstat, fd, &st) != 0) break;
    int root = -1;
    for (int i = 0; i < g.mounts.count && root < 0; i++)
      if (roots[i].st_ino == st.st_ino && roots[i].st_dev == st.st_dev) root = i;
    if (root >= 0) {
      const Mount& m = g.mounts.m[root];
      if (m.mount_len + used + 1 > cap) break;
      memcpy(out, m.mount, m.mount_len);
      memcpy(out + m.mount_len, rev + sizeof rev - used, used);
      out[m.mount_len + used] = '\0';
      *mount = root;
      ret = (long)(m.mount_len + used);
      break;
    }
    long parent = sys(SYS_openat, fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sys(SYS_close, fd);
    fd = parent;
    if (fd < 0) break;
    struct stat pst;
    if (sys(SYS_fstat, fd, &pst) != 0 || (pst.st_ino == st.st_ino && pst.st_dev == st.st_dev))
      break;  // the file system's root: not in a view
    alignas(8) char dents[4096];
    bool found = false;
    long n;
    while (!found && (n = sys(SYS_getdents64, fd, dents, sizeof dents)) > 0) {
      for (long off = 0; off < n && !found;) {
        auto* d = reinterpret_cast<const LinuxDirent64*>(dents + off);
        off += d->reclen;
        if (d->ino != st.st_ino || !strcmp(d->name, ".") || !strcmp(d->name, "..")) continue;
        size_t nl = strlen(d->name);
        if (used + nl + 1 > sizeof rev) break;
        used += nl + 1;
        rev[sizeof rev - used] = '/';
        memcpy(rev + sizeof rev - used + 1, d->name, nl);
        found = true;
      }
    }
    if (!found) break;
  }
  if (fd >= 0) sys(SYS_close, fd);
  return ret;
}

}  // namespace vol::shim
