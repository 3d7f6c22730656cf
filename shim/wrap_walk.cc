// glob(3) and nftw(3): glibc walks the directories with its internal calls,
// out of the shim's sight, so these wrappers hand it the view path and turn
// the paths it produces (glob's results, nftw's callback arguments) back into
// mount paths.
//
// Invariant: the callback trampoline's state is thread-local and saved and
// restored around each call, so nested and concurrent walks do not mix.
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

using namespace vol::shim;

namespace {

// Rewrites glob results [first, first + count) from view paths to mount paths.
template <typename G>
void glob_untranslate(G* g, size_t first) {
  size_t offs = g->gl_offs;
  for (size_t i = first; i < g->gl_pathc; i++) {
    char*& p = g->gl_pathv[offs + i];
    char tmp[kPathMax];
    long n = untranslate(::vol::shim::g.mounts, p, tmp, sizeof tmp);
    if (n <= 0) continue;
    char* q = static_cast<char*>(malloc((size_t)n + 1));
    if (!q) continue;
    memcpy(q, tmp, (size_t)n + 1);
    free(p);
    p = q;
  }
}

using nftw_fn = int (*)(const char*, const struct stat*, int, struct FTW*);
using nftw64_fn = int (*)(const char*, const struct stat64*, int, struct FTW*);
__thread void* t_walk_fn __attribute__((tls_model("initial-exec")));

template <typename Fn, typename St>
int walk_trampoline(const char* path, const St* sb, int type, struct FTW* ftw) {
  char tmp[kPathMax];
  long n = untranslate(::vol::shim::g.mounts, path, tmp, sizeof tmp);
  auto fn = reinterpret_cast<Fn>(t_walk_fn);
  if (n <= 0) return fn(path, sb, type, ftw);
  struct FTW f = *ftw;
  // Below the root only the prefix changed; the root's own name may differ.
  if (f.level > 0) {
    f.base += (int)n - (int)strlen(path);
  } else {
    const char* slash = strrchr(tmp, '/');
    f.base = slash && slash[1] ? (int)(slash - tmp + 1) : 0;
  }
  return fn(tmp, sb, type, &f);
}

// glob walks with GLOB_ALTDIRFUNC under a mount, so that the directories it
// opens are populated (lazy views) before it reads them.
void* glob_opendir(const char* name) {
  VOL_REAL_DECL(opendir);
  DIR* d = VOL_REAL(opendir)(name);
  if (d) populate_dir(dirfd(d));
  return d;
}
void* glob_readdir(void* d) { return readdir(static_cast<DIR*>(d)); }
void glob_closedir(void* d) { closedir(static_cast<DIR*>(d)); }
template <typename G>
int glob_lstat(const char* p, G* st) { return (int)sys(SYS_newfstatat, AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW); }
template <typename G>
int glob_stat(const char* p, G* st) { return (int)sys(SYS_newfstatat, AT_FDCWD, p, st, 0); }
template <typename GT, typename St>
void glob_use_views(GT* g, int* flags) {
  if (*flags & GLOB_ALTDIRFUNC) return;  // the program's own functions
  g->gl_opendir = glob_opendir;
  g->gl_readdir = reinterpret_cast<decltype(g->gl_readdir)>(glob_readdir);
  g->gl_closedir = glob_closedir;
  g->gl_lstat = reinterpret_cast<decltype(g->gl_lstat)>(glob_lstat<St>);
  g->gl_stat = reinterpret_cast<decltype(g->gl_stat)>(glob_stat<St>);
  *flags |= GLOB_ALTDIRFUNC;
}

// nftw reads every directory below its root: all of them are populated first.
void populate_tree(int at, const char* path, int depth) {
  long fd = sys(SYS_openat, at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  populate_dir((int)fd);
  if (depth < 256) {
    alignas(8) char buf[8192];
    long n;
    while ((n = sys(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
      for (long off = 0; off < n;) {
        struct D {
          uint64_t ino;
          int64_t off;
          unsigned short reclen;
          unsigned char type;
          char name[1];
        };
        auto* d = reinterpret_cast<const D*>(buf + off);
        off += d->reclen;
        if (d->type != DT_DIR || strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0) continue;
        populate_tree((int)fd, d->name, depth + 1);
      }
    }
  }
  sys(SYS_close, fd);
}

}  // namespace

#define VOL_GEN_GLOB(NAME, GT)                                                              \
  VOL_WRAPPER(int, NAME,                                                                    \
              (const char* path, int flags, int (*err)(const char*, int), GT* pglob)) {     \
    Resolved r;                                                                             \
    if (!resolve(AT_FDCWD, path, &r)) return GLOB_NOSPACE;                                  \
    if (r.mount < 0 && r.path == path) return VOL_REAL(NAME)(path, flags, err, pglob);      \
    size_t first = (flags & GLOB_APPEND) ? pglob->gl_pathc : 0;                             \
    if (r.mount >= 0) glob_use_views<GT, struct stat>(pglob, &flags);                        \
    int ret = VOL_REAL(NAME)(r.path, flags, err, pglob);                                    \
    if (ret == 0) glob_untranslate(pglob, first);                                           \
    return ret;                                                                             \
  }
VOL_GEN_GLOB(glob, glob_t)
VOL_GEN_GLOB(glob64, glob64_t)

#define VOL_GEN_NFTW(NAME, FN, ST)                                                   \
  VOL_WRAPPER(int, NAME, (const char* path, FN fn, int nfd, int flags)) {            \
    Resolved r;                                                                      \
    if (!resolve(AT_FDCWD, path, &r)) return -1;                                     \
    if (r.mount < 0) return VOL_REAL(NAME)(r.path, fn, nfd, flags);                  \
    populate_tree(AT_FDCWD, r.path, 0);                                              \
    void* saved = t_walk_fn;                                                         \
    t_walk_fn = reinterpret_cast<void*>(fn);                                         \
    int ret = VOL_REAL(NAME)(r.path, walk_trampoline<FN, ST>, nfd, flags);           \
    t_walk_fn = saved;                                                               \
    return ret;                                                                      \
  }
VOL_GEN_NFTW(nftw, nftw_fn, struct stat)
VOL_GEN_NFTW(nftw64, nftw64_fn, struct stat64)
