// Pure path logic of the shim: mount matching, lexical normalisation and the
// translation between mount paths (what the program sees) and view paths (the
// real local directories that mirror each volume). No globals, no syscalls, no
// allocation: the unit tests include this header directly.
//
// Invariants: a mount path is absolute, has no trailing '/', no "." or ".."
// components and no "//"; a path is "under" a prefix only at a component
// boundary (/mnt/v and /mnt/v/x are under /mnt/v, /mnt/vx is not). Every
// function writes at most `cap` bytes (including the NUL) and reports a result
// that would not fit as -1 (the caller's ENAMETOOLONG).
//
// The ancestors of the mounts ("/" and "/mnt" for /mnt/v) are directories a
// program can list and walk into the mounts from, as it could above a bind
// mount. An ancestor that does not exist on the host is shown as a synthetic
// parent: an empty directory SYNTH/<index> (SYNTH is the session's
// VOL_SESSION_PARENTS directory) whose listing the shim completes.
#ifndef VOL_SHIM_PATH_H_
#define VOL_SHIM_PATH_H_

#include <stddef.h>
#include <string.h>

namespace vol::shim {

constexpr int kMaxMounts = 16;
constexpr int kMaxAncestors = 1024;
constexpr size_t kPathMax = 4096;

struct Mount {
  char mount[kPathMax];
  char view[kPathMax];
  size_t mount_len;
  size_t view_len;
  bool rw;
};

// A proper ancestor of a mount: the first `len` bytes of mount `mount`'s path
// ("/" has len 1).
struct Ancestor {
  unsigned short mount;
  unsigned short len;
};

struct MountTable {
  int count;
  Mount m[kMaxMounts];
  int anc_count;
  Ancestor anc[kMaxAncestors];
  char synth[kPathMax];  // the directory of synthetic parents ("" if none)
  size_t synth_len;
};

// True if `path` is `prefix` or lies below it.
inline bool path_under(const char* path, const char* prefix, size_t len) {
  return strncmp(path, prefix, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

// Copies a then b (b may be null) into out; -1 if it does not fit.
inline long path_concat(char* out, size_t cap, const char* a, size_t alen, const char* b) {
  size_t blen = b ? strlen(b) : 0;
  if (alen + blen + 1 > cap) return -1;
  memmove(out, a, alen);
  if (blen) memcpy(out + alen, b, blen);
  out[alen + blen] = '\0';
  return (long)(alen + blen);
}

// True if some component of `p` is "..".
inline bool path_has_dotdot(const char* p) {
  for (const char* s = p; (s = strstr(s, "..")) != nullptr; s += 2) {
    bool starts = s == p || s[-1] == '/';
    bool ends = s[2] == '\0' || s[2] == '/';
    if (starts && ends) return true;
  }
  return false;
}

// True if `p` has a "." or ".." component: its lexical form differs from its
// normalised one in more than repeated '/'s.
inline bool path_has_dots(const char* p) {
  // strchr is vectorised: most paths cost one scan and no loop.
  for (const char* s = strchr(p, '.'); s; s = strchr(s + 1, '.')) {
    bool starts = s == p || s[-1] == '/';
    const char* e = s[1] == '.' ? s + 2 : s + 1;
    if (starts && (*e == '/' || *e == '\0')) return true;
  }
  return false;
}

// Walks the relative path `rel` component by component from `depth` levels
// below a root; true if a ".." climbs above the root.
inline bool path_escapes(const char* rel, int depth) {
  const char* s = rel;
  while (*s) {
    while (*s == '/') s++;
    if (!*s) break;
    const char* e = s;
    while (*e && *e != '/') e++;
    size_t n = (size_t)(e - s);
    if (n == 2 && s[0] == '.' && s[1] == '.') {
      if (--depth < 0) return true;
    } else if (!(n == 1 && s[0] == '.')) {
      depth++;
    }
    s = e;
  }
  return false;
}

// Number of components of the absolute path `p` below the absolute `root`
// (p must be under root): "/a/b" below "/a" is 1.
inline int path_depth_below(const char* p, size_t root_len) {
  int depth = 0;
  for (const char* s = p + root_len; *s; s++)
    if (*s == '/' && s[1] && s[1] != '/') depth++;
  return depth;
}

// Lexically normalises the absolute path `in` into `out`: collapses "//",
// drops ".", applies ".." (".." of "/" is "/"), drops a trailing '/'.
// Returns the length, or -1 if it does not fit. `in` and `out` may not overlap.
inline long path_normalize(const char* in, char* out, size_t cap) {
  if (cap < 2) return -1;
  size_t len = 0;
  out[0] = '/';
  const char* s = in;
  while (*s) {
    while (*s == '/') s++;
    if (!*s) break;
    const char* e = s;
    while (*e && *e != '/') e++;
    size_t n = (size_t)(e - s);
    if (n == 1 && s[0] == '.') {
    } else if (n == 2 && s[0] == '.' && s[1] == '.') {
      while (len > 0 && out[len - 1] != '/') len--;  // drop the last component
      if (len > 0) len--;                             // and its '/'
    } else {
      if (len + 1 + n + 1 > cap) return -1;
      out[len] = '/';
      memcpy(out + len + 1, s, n);
      len += 1 + n;
    }
    s = e;
  }
  if (len == 0) len = 1;  // the root
  out[len] = '\0';
  return (long)len;
}

// Joins the absolute directory `dir` and the relative `rel` with one '/'.
inline long path_join(char* out, size_t cap, const char* dir, const char* rel) {
  size_t dlen = strlen(dir);
  size_t rlen = strlen(rel);
  bool slash = dlen == 0 || dir[dlen - 1] != '/';
  if (dlen + slash + rlen + 1 > cap) return -1;
  memmove(out, dir, dlen);
  if (slash) out[dlen++] = '/';
  memcpy(out + dlen, rel, rlen + 1);
  return (long)(dlen + rlen);
}

// The mount that `path` (absolute) lies under, or -1.
inline int mount_of(const MountTable& t, const char* path) {
  for (int i = 0; i < t.count; i++)
    if (path[1] == t.m[i].mount[1] && path_under(path, t.m[i].mount, t.m[i].mount_len))
      return i;
  return -1;
}

// True if the first component of the absolute `p` is the first component of a
// mount: only then can `p` be a mount, lie under one or be an ancestor other
// than "/" — unless "." or ".." components change it (path_has_dots).
inline bool path_near_mounts(const MountTable& t, const char* p) {
  const char* s = p;
  while (*s == '/') s++;
  for (int i = 0; i < t.count; i++) {
    const char* m = t.m[i].mount + 1;
    if (m[0] != s[0]) continue;
    size_t n = (size_t)(strchrnul(s, '/') - s);
    if (strncmp(m, s, n) == 0 && (m[n] == '/' || m[n] == '\0')) return true;
  }
  return false;
}

// The mount whose view `path` (absolute) lies under, or -1.
inline int view_of(const MountTable& t, const char* path) {
  for (int i = 0; i < t.count; i++)
    if (path_under(path, t.m[i].view, t.m[i].view_len)) return i;
  return -1;
}

// Fills t.anc with every distinct proper ancestor of the mounts, in mount
// order, shortest first. Ancestors past kMaxAncestors are left out.
inline void build_ancestors(MountTable& t) {
  t.anc_count = 0;
  for (int i = 0; i < t.count; i++) {
    const Mount& m = t.m[i];
    for (size_t len = 1; len < m.mount_len; len++) {
      if (len > 1 && m.mount[len] != '/') continue;
      bool seen = false;
      for (int k = 0; k < t.anc_count && !seen; k++) {
        const Ancestor& a = t.anc[k];
        seen = a.len == len && memcmp(t.m[a.mount].mount, m.mount, len) == 0;
      }
      if (seen || t.anc_count == kMaxAncestors) continue;
      t.anc[t.anc_count++] = Ancestor{(unsigned short)i, (unsigned short)len};
    }
  }
}

inline const char* ancestor_path(const MountTable& t, int k) { return t.m[t.anc[k].mount].mount; }

// The ancestor that the absolute `dir` names (trailing '/'s ignored), or -1.
inline int ancestor_of(const MountTable& t, const char* dir, size_t n) {
  while (n > 1 && dir[n - 1] == '/') n--;
  for (int k = 0; k < t.anc_count; k++)
    if (t.anc[k].len == n && memcmp(ancestor_path(t, k), dir, n) == 0) return k;
  return -1;
}
inline int ancestor_of(const MountTable& t, const char* dir) {
  return ancestor_of(t, dir, strlen(dir));
}

// True if the absolute `dir` is a proper ancestor of some mount ("/" and
// "/mnt" for the mount /mnt/v): relative paths from there may enter a mount.
inline bool is_mount_ancestor(const MountTable& t, const char* dir) {
  return ancestor_of(t, dir) >= 0;
}

// The child of ancestor `a` that leads to mount i, as a component (not
// NUL-terminated): *len bytes at the returned pointer. Null if mount i is not
// under `a`.
inline const char* ancestor_child_of(const MountTable& t, int a, int i, size_t* len) {
  const char* ap = ancestor_path(t, a);
  size_t alen = t.anc[a].len;
  const Mount& m = t.m[i];
  if (m.mount_len <= alen || memcmp(m.mount, ap, alen) != 0) return nullptr;
  size_t start = alen == 1 ? 1 : alen + 1;
  if (alen > 1 && m.mount[alen] != '/') return nullptr;
  size_t end = start;
  while (end < m.mount_len && m.mount[end] != '/') end++;
  *len = end - start;
  return m.mount + start;
}

// The k-th distinct name (0-based) under ancestor `a` that leads to a mount:
// into out (NUL-terminated). False when there is no k-th.
inline bool ancestor_child(const MountTable& t, int a, int k, char* out, size_t cap) {
  for (int i = 0; i < t.count; i++) {
    size_t len;
    const char* name = ancestor_child_of(t, a, i, &len);
    if (!name) continue;
    bool dup = false;
    for (int j = 0; j < i && !dup; j++) {
      size_t l2;
      const char* n2 = ancestor_child_of(t, a, j, &l2);
      dup = n2 && l2 == len && memcmp(n2, name, len) == 0;
    }
    if (dup || k-- > 0) continue;
    if (len + 1 > cap) return false;
    memcpy(out, name, len);
    out[len] = '\0';
    return true;
  }
  return false;
}

// The synthetic parent directory of ancestor k: SYNTH/<k>. -1 if none fits.
inline long synth_path(const MountTable& t, int k, char* out, size_t cap) {
  if (!t.synth_len || t.synth_len + 8 > cap) return -1;
  memcpy(out, t.synth, t.synth_len);
  size_t n = t.synth_len;
  out[n++] = '/';
  char num[8];
  int d = 0;
  for (int v = k; d == 0 || v; v /= 10) num[d++] = (char)('0' + v % 10);
  while (d) out[n++] = num[--d];
  out[n] = '\0';
  return (long)n;
}

// The ancestor whose synthetic parent the absolute `real` names (or lies
// under: *rest then points at the remainder), or -1.
inline int synth_of(const MountTable& t, const char* real, const char** rest) {
  if (!t.synth_len || !path_under(real, t.synth, t.synth_len) || real[t.synth_len] != '/')
    return -1;
  const char* s = real + t.synth_len + 1;
  int k = 0;
  if (*s < '0' || *s > '9') return -1;
  while (*s >= '0' && *s <= '9') k = k * 10 + (*s++ - '0');
  if ((*s && *s != '/') || k >= t.anc_count) return -1;
  *rest = s;
  return k;
}

// The length of the magic-link prefix of `p` — /proc/{self,thread-self,PID}
// [/task/TID]/{fd/N,cwd,root,exe}, /dev/fd/N, /dev/std{in,out,err} — or 0.
inline size_t magic_prefix(const char* p) {
  if (p[0] != '/' || (p[1] != 'p' && p[1] != 'd')) return 0;
  auto digits = [](const char*& s) {
    const char* b = s;
    while (*s >= '0' && *s <= '9') s++;
    return s > b;
  };
  const char* s;
  if (strncmp(p, "/dev/", 5) == 0) {
    s = p + 5;
    if (strncmp(s, "fd/", 3) == 0) {
      s += 3;
      if (!digits(s)) return 0;
    } else if (strncmp(s, "stdin", 5) == 0) {
      s += 5;
    } else if (strncmp(s, "stdout", 6) == 0 || strncmp(s, "stderr", 6) == 0) {
      s += 6;
    } else {
      return 0;
    }
    return (*s == '\0' || *s == '/') ? (size_t)(s - p) : 0;
  }
  if (strncmp(p, "/proc/", 6) != 0) return 0;
  s = p + 6;
  if (strncmp(s, "self/", 5) == 0) s += 4;
  else if (strncmp(s, "thread-self/", 12) == 0) s += 11;
  else if (!digits(s)) return 0;
  if (strncmp(s, "/task/", 6) == 0) {
    s += 6;
    if (!digits(s)) return 0;
  }
  if (strncmp(s, "/fd/", 4) == 0) {
    s += 4;
    if (!digits(s)) return 0;
  } else if (strncmp(s, "/cwd", 4) == 0 || strncmp(s, "/exe", 4) == 0) {
    s += 4;
  } else if (strncmp(s, "/root", 5) == 0) {
    s += 5;
  } else {
    return 0;
  }
  return (*s == '\0' || *s == '/') ? (size_t)(s - p) : 0;
}

enum class Xlate { kPass, kHost, kMount, kError };

// Translates the absolute `path`. kPass: use `path` as it is. kMount: `out`
// holds the view path and *mount the mount's index. kHost: a ".." climbed out
// of a mount; `out` holds the normalised host path. kError: too long.
inline Xlate translate_abs(const MountTable& t, const char* path, char* out, size_t cap,
                           int* mount) {
  int i = mount_of(t, path);
  if (i < 0) return Xlate::kPass;
  const Mount& m = t.m[i];
  const char* rest = path + m.mount_len;
  if (path_has_dotdot(rest) && path_escapes(rest, 0)) {
    char norm[kPathMax];
    if (path_normalize(path, norm, sizeof norm) < 0) return Xlate::kError;
    int j = mount_of(t, norm);
    if (j < 0) {
      if (path_concat(out, cap, norm, strlen(norm), nullptr) < 0) return Xlate::kError;
      return Xlate::kHost;
    }
    *mount = j;
    if (path_concat(out, cap, t.m[j].view, t.m[j].view_len, norm + t.m[j].mount_len) < 0)
      return Xlate::kError;
    return Xlate::kMount;
  }
  *mount = i;
  if (path_concat(out, cap, m.view, m.view_len, rest) < 0) return Xlate::kError;
  return Xlate::kMount;
}

// Rewrites the absolute view path `real` (or synthetic parent) to its mount
// path (or ancestor path) in `out`. Returns the new length, 0 if `real` is
// neither, -1 if it does not fit.
inline long untranslate(const MountTable& t, const char* real, char* out, size_t cap) {
  int i = view_of(t, real);
  if (i >= 0) {
    const Mount& m = t.m[i];
    return path_concat(out, cap, m.mount, m.mount_len, real + m.view_len);
  }
  const char* rest;
  int k = synth_of(t, real, &rest);
  if (k < 0) return 0;
  const char* ap = ancestor_path(t, k);
  size_t alen = t.anc[k].len;
  if (alen == 1 && *rest) alen = 0;  // "/" + "/x" is "/x"
  return path_concat(out, cap, ap, alen, rest);
}

}  // namespace vol::shim

#endif  // VOL_SHIM_PATH_H_
