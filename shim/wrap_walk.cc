// Walks that glibc makes itself: glob(3), ftw(3), nftw(3) and fts(3). glibc
// walks the directories with its internal calls, out of the shim's sight, so these wrappers hand it the view
// path and turn the paths it produces (glob's results, the walk callbacks'
// arguments, fts entries' paths) back into mount paths. A walk that changes
// directory (FTW_CHDIR, fts without FTS_NOCHDIR) does so internally: the
// shim's cwd state is refreshed before the program sees each entry.
//
// Invariants: the callback trampoline's state is thread-local and saved and
// restored around each call, so nested and concurrent walks do not mix. An
// fts entry handed to the program carries the mount path only until the next
// fts call on its stream, which first puts back glibc's own (the buffer is
// glibc's, shared by every entry).
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shim.h"

using namespace vol::shim;

namespace {

using nftw_fn = int (*)(const char*, const struct stat*, int, struct FTW*);
using nftw64_fn = int (*)(const char*, const struct stat64*, int, struct FTW*);
using ftw_fn = int (*)(const char*, const struct stat*, int);
using ftw64_fn = int (*)(const char*, const struct stat64*, int);
__thread void* t_walk_fn __attribute__((tls_model("initial-exec")));
__thread int t_walk_chdir __attribute__((tls_model("initial-exec")));

template <typename Fn, typename St>
int walk_trampoline(const char* path, const St* sb, int type, struct FTW* ftw) {
  if (t_walk_chdir && own_process()) update_cwd();
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

template <typename Fn, typename St>
int ftw_trampoline(const char* path, const St* sb, int type) {
  char tmp[kPathMax];
  long n = untranslate(::vol::shim::g.mounts, path, tmp, sizeof tmp);
  return reinterpret_cast<Fn>(t_walk_fn)(n > 0 ? tmp : path, sb, type);
}

// ---- fts: per stream, the entry lent to the program and what to put back ----
constexpr int kStreams = 16;
struct Lent {
  void* sp;          // the FTS stream, null: free
  void* p;           // the entry handed out with mount paths, or null
  char* path;        // glibc's fts_path and fts_accpath of that entry
  char* accpath;
  unsigned short pathlen;
  bool chdir;        // the stream changes directory
  char buf[kPathMax];
};
Lent* g_lent[kStreams];
int g_lent_lock;

Lent* lent_of(void* sp) {
  Lent* out = nullptr;
  while (__atomic_exchange_n(&g_lent_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  for (Lent* l : g_lent)
    if (l && l->sp == sp) out = l;
  __atomic_store_n(&g_lent_lock, 0, __ATOMIC_RELEASE);
  return out;
}

void lent_add(void* sp, bool chdir) {
  auto* l = static_cast<Lent*>(calloc(1, sizeof(Lent)));
  if (!l) return;
  l->sp = sp;
  l->chdir = chdir;
  while (__atomic_exchange_n(&g_lent_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  bool placed = false;
  for (Lent*& slot : g_lent)
    if (!slot && !placed) {
      slot = l;
      placed = true;
    }
  __atomic_store_n(&g_lent_lock, 0, __ATOMIC_RELEASE);
  if (!placed) free(l);
}

void lent_remove(void* sp) {
  while (__atomic_exchange_n(&g_lent_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  for (Lent*& slot : g_lent)
    if (slot && slot->sp == sp) {
      free(slot);
      slot = nullptr;
    }
  __atomic_store_n(&g_lent_lock, 0, __ATOMIC_RELEASE);
}

// Before any fts call on the stream: glibc's entry as glibc left it.
template <typename Ent>
void give_back(Lent* l) {
  if (!l || !l->p) return;
  auto* p = static_cast<Ent*>(l->p);
  p->fts_path = l->path;
  p->fts_accpath = l->accpath;
  p->fts_pathlen = l->pathlen;
  l->p = nullptr;
}

// After fts_read: the entry with its mount path (and a refreshed cwd).
template <typename Ent>
Ent* lend(Lent* l, Ent* p) {
  if (!l) return p;
  if (l->chdir && own_process()) update_cwd();
  if (!p || !p->fts_path) return p;
  long n = untranslate(::vol::shim::g.mounts, p->fts_path, l->buf, sizeof l->buf);
  if (n <= 0 || n > 0xffff) return p;
  l->p = p;
  l->path = p->fts_path;
  l->accpath = p->fts_accpath;
  l->pathlen = p->fts_pathlen;
  if (p->fts_accpath == p->fts_path) p->fts_accpath = l->buf;
  p->fts_path = l->buf;
  p->fts_pathlen = (unsigned short)n;
  return p;
}

}  // namespace

// glob: its directory reads and stats go through the shim's own wrappers
// (GLOB_ALTDIRFUNC), so patterns work on mount paths as they are, ancestors'
// listings include their mounts, and the results are mount paths.
VOL_OWN(DIR*, opendir, (const char*))
VOL_OWN(struct dirent*, readdir, (DIR*))
VOL_OWN(struct dirent64*, readdir64, (DIR*))
VOL_OWN(int, closedir, (DIR*))
VOL_OWN(int, stat, (const char*, struct stat*))
VOL_OWN(int, lstat, (const char*, struct stat*))
VOL_OWN(int, stat64, (const char*, struct stat64*))
VOL_OWN(int, lstat64, (const char*, struct stat64*))
static void* glob_opendir(const char* p) { return vol_w_opendir(p); }
static void glob_closedir(void* d) { vol_w_closedir(static_cast<DIR*>(d)); }
template <typename G, typename Ent, typename St>
void glob_through_shim(G* pglob, Ent* (*rd)(DIR*), int (*st)(const char*, St*),
                       int (*lst)(const char*, St*)) {
  pglob->gl_opendir = glob_opendir;
  pglob->gl_readdir = reinterpret_cast<decltype(pglob->gl_readdir)>(rd);
  pglob->gl_closedir = glob_closedir;
  pglob->gl_stat = reinterpret_cast<decltype(pglob->gl_stat)>(st);
  pglob->gl_lstat = reinterpret_cast<decltype(pglob->gl_lstat)>(lst);
}
#define VOL_GEN_GLOB(NAME, GT, RD, ST, LST)                                                 \
  VOL_WRAPPER(int, NAME,                                                                    \
              (const char* path, int flags, int (*err)(const char*, int), GT* pglob)) {     \
    if (!g.active || (flags & GLOB_ALTDIRFUNC) || !pglob)                                   \
      return VOL_REAL(NAME)(path, flags, err, pglob);                                       \
    glob_through_shim(pglob, RD, ST, LST);                                                  \
    return VOL_REAL(NAME)(path, flags | GLOB_ALTDIRFUNC, err, pglob);                       \
  }
VOL_GEN_GLOB(glob, glob_t, vol_w_readdir, vol_w_stat, vol_w_lstat)
VOL_GEN_GLOB(glob64, glob64_t, vol_w_readdir64, vol_w_stat64, vol_w_lstat64)

#define VOL_GEN_NFTW(NAME, FN, ST)                                                   \
  VOL_WRAPPER(int, NAME, (const char* path, FN fn, int nfd, int flags)) {            \
    Resolved r;                                                                      \
    if (!resolve(AT_FDCWD, path, &r)) return -1;                                     \
    if (r.mount < 0) return VOL_REAL(NAME)(r.path, fn, nfd, flags);                  \
    /* glibc reads them out of the shim's sight */                                  \
    populate_tree(r.dirfd, r.path,                                                   \
                  (flags & FTW_PHYS) ? TreeFollow::kNone : TreeFollow::kAll);        \
    void* saved = t_walk_fn;                                                         \
    int saved_chdir = t_walk_chdir;                                                  \
    t_walk_fn = reinterpret_cast<void*>(fn);                                         \
    t_walk_chdir = flags & FTW_CHDIR;                                                \
    int ret = VOL_REAL(NAME)(r.path, walk_trampoline<FN, ST>, nfd, flags);           \
    t_walk_fn = saved;                                                               \
    t_walk_chdir = saved_chdir;                                                      \
    if ((flags & FTW_CHDIR) && own_process()) update_cwd();                          \
    return ret;                                                                      \
  }
VOL_GEN_NFTW(nftw, nftw_fn, struct stat)
VOL_GEN_NFTW(nftw64, nftw64_fn, struct stat64)

#define VOL_GEN_FTW(NAME, FN, ST)                                                  \
  VOL_WRAPPER(int, NAME, (const char* path, FN fn, int nfd)) {                     \
    Resolved r;                                                                    \
    if (!resolve(AT_FDCWD, path, &r)) return -1;                                   \
    if (r.mount < 0) return VOL_REAL(NAME)(r.path, fn, nfd);                       \
    populate_tree(r.dirfd, r.path, TreeFollow::kAll); /* ftw follows symlinks */  \
    void* saved = t_walk_fn;                                                       \
    t_walk_fn = reinterpret_cast<void*>(fn);                                       \
    int ret = VOL_REAL(NAME)(r.path, ftw_trampoline<FN, ST>, nfd);                 \
    t_walk_fn = saved;                                                             \
    return ret;                                                                    \
  }
VOL_GEN_FTW(ftw, ftw_fn, struct stat)
VOL_GEN_FTW(ftw64, ftw64_fn, struct stat64)

// fts_open: every root path translated (glibc copies them).
template <typename Fts, typename Ent, typename Open>
Fts* fts_open_impl(char* const* argv, int options, Open real) {
  if (!g.active || !argv) return real(argv);
  int n = 0;
  while (argv[n]) n++;
  char** roots = static_cast<char**>(calloc((size_t)n + 1, sizeof(char*)));
  if (!roots) return nullptr;
  bool ok = true;
  for (int i = 0; i < n && ok; i++) {
    Resolved r;
    ok = resolve(AT_FDCWD, argv[i], &r) && (roots[i] = strdup(r.path)) != nullptr;
    if (ok && r.mount >= 0)  // glibc's fts reads them out of the shim's sight
      populate_tree(r.dirfd, r.path,
                    (options & FTS_LOGICAL)     ? TreeFollow::kAll
                    : (options & FTS_COMFOLLOW) ? TreeFollow::kRoot
                                                : TreeFollow::kNone);
  }
  Fts* sp = ok ? real(roots) : nullptr;
  int saved = errno;
  for (int i = 0; i < n; i++) free(roots[i]);
  free(roots);
  if (sp) lent_add(sp, !(options & FTS_NOCHDIR));
  errno = saved;
  return sp;
}
#define VOL_GEN_FTS(FTS, ENT, OPEN, READ, CHILDREN, SET, CLOSE)                                \
  VOL_WRAPPER(FTS*, OPEN, (char* const* argv, int options,                                    \
                           int (*cmp)(const ENT**, const ENT**))) {                            \
    return fts_open_impl<FTS, ENT>(argv, options,                                             \
                                   [&](char* const* a) { return VOL_REAL(OPEN)(a, options, cmp); }); \
  }                                                                                           \
  VOL_WRAPPER(ENT*, READ, (FTS* sp)) {                                                        \
    Lent* l = g.active ? lent_of(sp) : nullptr;                                               \
    give_back<ENT>(l);                                                                        \
    return lend<ENT>(l, VOL_REAL(READ)(sp));                                                  \
  }                                                                                           \
  VOL_WRAPPER(ENT*, CHILDREN, (FTS* sp, int options)) {                                       \
    Lent* l = g.active ? lent_of(sp) : nullptr;                                               \
    give_back<ENT>(l);                                                                        \
    ENT* ret = VOL_REAL(CHILDREN)(sp, options);                                               \
    if (l && l->chdir && own_process()) update_cwd();                                         \
    return ret;                                                                               \
  }                                                                                           \
  VOL_WRAPPER(int, SET, (FTS* sp, ENT* p, int instr)) {                                       \
    give_back<ENT>(g.active ? lent_of(sp) : nullptr);                                         \
    return VOL_REAL(SET)(sp, p, instr);                                                       \
  }                                                                                           \
  VOL_WRAPPER(int, CLOSE, (FTS* sp)) {                                                        \
    Lent* l = g.active ? lent_of(sp) : nullptr;                                               \
    give_back<ENT>(l);                                                                        \
    int ret = VOL_REAL(CLOSE)(sp);                                                            \
    if (l) {                                                                                  \
      int saved = errno;                                                                      \
      bool chdir = l->chdir;                                                                  \
      lent_remove(sp);                                                                        \
      if (chdir && own_process()) update_cwd();                                               \
      errno = saved;                                                                          \
    }                                                                                         \
    return ret;                                                                               \
  }
VOL_GEN_FTS(FTS, FTSENT, fts_open, fts_read, fts_children, fts_set, fts_close)
VOL_GEN_FTS(FTS64, FTSENT64, fts64_open, fts64_read, fts64_children, fts64_set, fts64_close)
