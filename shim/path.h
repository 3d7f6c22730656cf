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
#ifndef VOL_SHIM_PATH_H_
#define VOL_SHIM_PATH_H_

#include <stddef.h>
#include <string.h>

namespace vol::shim {

constexpr int kMaxMounts = 16;
constexpr size_t kPathMax = 4096;

struct Mount {
  char mount[kPathMax];
  char view[kPathMax];
  size_t mount_len;
  size_t view_len;
  bool rw;
};

struct MountTable {
  int count;
  Mount m[kMaxMounts];
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

// The mount whose view `path` (absolute) lies under, or -1.
inline int view_of(const MountTable& t, const char* path) {
  for (int i = 0; i < t.count; i++)
    if (path_under(path, t.m[i].view, t.m[i].view_len)) return i;
  return -1;
}

// True if the absolute `dir` is a proper ancestor of some mount ("/" and
// "/mnt" for the mount /mnt/v): relative paths from there may enter a mount.
inline bool is_mount_ancestor(const MountTable& t, const char* dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  for (int i = 0; i < t.count; i++) {
    const Mount& m = t.m[i];
    if (n == 1 && dir[0] == '/') return true;
    if (m.mount_len > n && strncmp(m.mount, dir, n) == 0 && m.mount[n] == '/') return true;
  }
  return false;
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

// Rewrites the absolute view path `real` to its mount path in `out`. Returns
// the new length, 0 if `real` is not under a view, -1 if it does not fit.
inline long untranslate(const MountTable& t, const char* real, char* out, size_t cap) {
  int i = view_of(t, real);
  if (i < 0) return 0;
  const Mount& m = t.m[i];
  return path_concat(out, cap, m.mount, m.mount_len, real + m.view_len);
}

}  // namespace vol::shim

#endif  // VOL_SHIM_PATH_H_
