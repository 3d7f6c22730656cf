// glob(3) and nftw(3): glibc walks the directories with its internal calls,
// out of the shim's sight, so these wrappers hand it the view path and turn
// the paths it produces (glob's results, nftw's callback arguments) back into
// mount paths.
//
// Invariant: the callback trampoline's state is thread-local and saved and
// restored around each call, so nested and concurrent walks do not mix.
#undef _FORTIFY_SOURCE
#include <errno.h>
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

}  // namespace

#define VOL_GEN_GLOB(NAME, GT)                                                              \
  VOL_WRAPPER(int, NAME,                                                                    \
              (const char* path, int flags, int (*err)(const char*, int), GT* pglob)) {     \
    Resolved r;                                                                             \
    if (!resolve(AT_FDCWD, path, &r)) return GLOB_NOSPACE;                                  \
    if (r.mount < 0 && r.path == path) return VOL_REAL(NAME)(path, flags, err, pglob);      \
    size_t first = (flags & GLOB_APPEND) ? pglob->gl_pathc : 0;                             \
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
    void* saved = t_walk_fn;                                                         \
    t_walk_fn = reinterpret_cast<void*>(fn);                                         \
    int ret = VOL_REAL(NAME)(r.path, walk_trampoline<FN, ST>, nfd, flags);           \
    t_walk_fn = saved;                                                               \
    return ret;                                                                      \
  }
VOL_GEN_NFTW(nftw, nftw_fn, struct stat)
VOL_GEN_NFTW(nftw64, nftw64_fn, struct stat64)
