// Directory streams. A large unpopulated view directory is served from its
// listing (listing.cc): readdir, telldir, seekdir and rewinddir on that
// stream never reach glibc's. opendir notes the directory (a view or an ancestor of a
// mount) in the fd table; a listing of an ancestor ends with the names below
// it that lead to mounts and that the host directory does not have, as the
// parent of a bind mount would list them (`ls /mnt` shows the mount /mnt/v;
// a synthetic parent lists only those). scandir is done here over these
// readdir and openat wrappers, because glibc's calls its internal readdir.
//
// Invariants: the added entries come after the host's, once per stream, and
// cost nothing until the host directory's listing ends. Their state sits in a
// small table keyed by DIR* (kStreams streams listing an ancestor at once;
// past that the names are left out), freed by closedir and reset by rewinddir.
#undef _FORTIFY_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shim.h"

using namespace vol::shim;

static_assert(sizeof(struct dirent) == sizeof(struct dirent64) &&
                  offsetof(struct dirent, d_name) == offsetof(struct dirent64, d_name),
              "readdir and readdir64 share one entry layout on LP64 Linux");

namespace {

constexpr int kStreams = 32;
struct Listing {
  DIR* d;     // null: free
  int next;   // the next mount-leading name to consider
  struct dirent64 ent;
};
Listing g_listings[kStreams];
int g_listings_lock;
int g_listings_used;

void lock() {
  while (__atomic_exchange_n(&g_listings_lock, 1, __ATOMIC_ACQUIRE)) {
  }
}
void unlock() { __atomic_store_n(&g_listings_lock, 0, __ATOMIC_RELEASE); }

Listing* find(DIR* d, bool create) {
  Listing* free_slot = nullptr;
  for (Listing& l : g_listings) {
    if (l.d == d) return &l;
    if (!l.d && !free_slot) free_slot = &l;
  }
  if (!create || !free_slot) return nullptr;
  free_slot->d = d;
  free_slot->next = 0;
  g_listings_used++;
  return free_slot;
}

// The next name that leads from the ancestor behind d to a mount and that the
// host directory does not have (so it was not listed), or null.
struct dirent64* added_entry(DIR* d) {
  if (!own_process()) return nullptr;
  int fd = dirfd(d);
  if ((unsigned)fd >= (unsigned)kMaxFds || !g_fds[fd].anc1) return nullptr;
  int k = g_fds[fd].anc1 - 1;
  struct dirent64* out = nullptr;
  lock();
  Listing* l = find(d, true);
  while (l && !out) {
    char name[256];
    if (!ancestor_child(g.mounts, k, l->next, name, sizeof name)) break;
    l->next++;
    struct stat st;
    if (sys(SYS_newfstatat, fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
    char full[kPathMax];
    const char* ap = ancestor_path(g.mounts, k);
    size_t alen = g.mounts.anc[k].len;
    if (alen + 1 + strlen(name) + 1 > sizeof full) continue;
    memcpy(full, ap, alen);
    full[alen == 1 ? 0 : alen] = '/';
    memcpy(full + (alen == 1 ? 1 : alen + 1), name, strlen(name) + 1);
    Resolved r;
    // A real inode number: some programs skip entries whose d_ino is 0.
    if (!resolve(AT_FDCWD, full, &r) || sys(SYS_newfstatat, AT_FDCWD, r.path, &st, 0) != 0) continue;
    struct dirent64& e = l->ent;
    e.d_ino = st.st_ino;
    e.d_off = 0x7fffffff00000000LL + l->next;
    e.d_reclen = sizeof e;
    e.d_type = DT_DIR;
    memcpy(e.d_name, name, strlen(name) + 1);
    out = &e;
  }
  unlock();
  return out;
}

// The end of a stream's host listing (a null readdir that set no errno) is
// where the added names go.
template <typename Ent, typename Real>
Ent* read_entry(DIR* d, Real real) {
  bool served;
  struct dirent64* listed = listed_read(d, &served);
  if (served) return reinterpret_cast<Ent*>(listed);
  int saved = errno;
  errno = 0;
  Ent* e = real(d);
  if (e || errno || !g.active) {
    if (e || !errno) errno = saved;
    return e;
  }
  errno = saved;
  return reinterpret_cast<Ent*>(added_entry(d));
}

template <typename Ent, typename Real>
int read_entry_r(DIR* d, Ent* entry, Ent** result, Real real) {
  bool served;
  struct dirent64* listed = listed_read(d, &served);
  if (served) {
    if (listed) memcpy(entry, listed, offsetof(struct dirent64, d_name) + strlen(listed->d_name) + 1);
    *result = listed ? entry : nullptr;
    return 0;
  }
  int ret = real(d, entry, result);
  if (ret != 0 || *result || !g.active) return ret;
  if (struct dirent64* e = added_entry(d)) {
    memcpy(entry, e, sizeof *e);
    *result = entry;
  }
  return 0;
}

}  // namespace

VOL_WRAPPER(DIR*, opendir, (const char* path)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return nullptr;
  DIR* d = VOL_REAL(opendir)(r.path);
  if (!d && retry_resolve(&r)) d = VOL_REAL(opendir)(r.path);
  if (!d || !g.active) return d;
  // A large unpopulated directory is listed from its listing, and populated
  // only if something needs more than its names (its fd settles it then).
  bool listed = r.mount >= 0 && listed_open(d, dirfd(d));
  fd_note_resolved(dirfd(d), r, listed ? O_RDONLY : O_RDONLY | O_DIRECTORY);
  return d;
}

// A directory opened without O_DIRECTORY is populated when it is listed.
VOL_WRAPPER(DIR*, fdopendir, (int fd)) {
  fd_settle_dir(fd);
  return VOL_REAL(fdopendir)(fd);
}
VOL_WRAPPER(ssize_t, getdents64, (int fd, void* buf, size_t n)) {
  fd_settle_dir(fd);
  return VOL_REAL(getdents64)(fd, buf, n);
}

VOL_WRAPPER(struct dirent*, readdir, (DIR* d)) {
  return read_entry<struct dirent>(d, VOL_REAL(readdir));
}
VOL_WRAPPER(struct dirent64*, readdir64, (DIR* d)) {
  return read_entry<struct dirent64>(d, VOL_REAL(readdir64));
}
// (readdir_r is deprecated in glibc's headers, but programs still call it.)
VOL_WRAPPER_T(int, readdir_r, (DIR* d, struct dirent* entry, struct dirent** result),
              int (*)(DIR*, struct dirent*, struct dirent**)) {
  return read_entry_r(d, entry, result, VOL_REAL(readdir_r));
}
VOL_WRAPPER_T(int, readdir64_r, (DIR* d, struct dirent64* entry, struct dirent64** result),
              int (*)(DIR*, struct dirent64*, struct dirent64**)) {
  return read_entry_r(d, entry, result, VOL_REAL(readdir64_r));
}

VOL_WRAPPER(void, rewinddir, (DIR* d)) {
  VOL_REAL(rewinddir)(d);
  listed_rewind(d);
  if (!__atomic_load_n(&g_listings_used, __ATOMIC_RELAXED)) return;
  lock();
  if (Listing* l = find(d, false)) l->next = 0;
  unlock();
}

VOL_WRAPPER(long, telldir, (DIR* d)) {
  long pos;
  return listed_tell(d, &pos) ? pos : VOL_REAL(telldir)(d);
}
VOL_WRAPPER(void, seekdir, (DIR* d, long pos)) {
  if (!listed_seek(d, pos)) VOL_REAL(seekdir)(d, pos);
}

VOL_WRAPPER(int, closedir, (DIR* d)) {
  if (g.active && d) {
    listed_close(d);
    fd_forget(dirfd(d));  // glibc closes the fd itself
    if (__atomic_load_n(&g_listings_used, __ATOMIC_RELAXED)) {
      lock();
      if (Listing* l = find(d, false)) {
        l->d = nullptr;
        g_listings_used--;
      }
      unlock();
    }
  }
  return VOL_REAL(closedir)(d);
}

// ---- scandir: the listing through the wrappers above ---------------------------
VOL_OWN(int, openat, (int, const char*, int, ...))
namespace {
template <typename Ent>
int scan(int dirfd, const char* path, Ent*** list, int (*filter)(const Ent*),
         int (*cmp)(const Ent**, const Ent**)) {
  int fd = vol_w_openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR* d = fdopendir(fd);
  if (!d) {
    int saved = errno;
    fd_forget(fd);
    sys(SYS_close, fd);
    errno = saved;
    return -1;
  }
  Ent** v = nullptr;
  size_t n = 0, cap = 0;
  int err = 0;
  for (;;) {
    errno = 0;
    Ent* e = reinterpret_cast<Ent*>(vol_w_readdir64(d));
    if (!e) {
      err = errno;
      break;
    }
    if (filter && !filter(e)) continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      Ent** nv = static_cast<Ent**>(realloc(v, ncap * sizeof *v));
      if (!nv) {
        err = ENOMEM;
        break;
      }
      v = nv;
      cap = ncap;
    }
    size_t len = offsetof(Ent, d_name) + strlen(e->d_name) + 1;
    Ent* copy = static_cast<Ent*>(malloc(len));
    if (!copy) {
      err = ENOMEM;
      break;
    }
    memcpy(copy, e, len);
    v[n++] = copy;
  }
  vol_w_closedir(d);
  if (err) {
    while (n) free(v[--n]);
    free(v);
    errno = err;
    return -1;
  }
  if (cmp) qsort(v, n, sizeof *v, reinterpret_cast<int (*)(const void*, const void*)>(cmp));
  *list = v;
  return (int)n;
}
}  // namespace

#define VOL_SCANDIRS(X)                                                                   \
  X(scandir, dirent, (const char* path, struct dirent*** l, int (*f)(const struct dirent*), \
                      int (*c)(const struct dirent**, const struct dirent**)), AT_FDCWD)    \
  X(scandir64, dirent64, (const char* path, struct dirent64*** l,                          \
                          int (*f)(const struct dirent64*),                                 \
                          int (*c)(const struct dirent64**, const struct dirent64**)), AT_FDCWD) \
  X(scandirat, dirent, (int dirfd, const char* path, struct dirent*** l,                   \
                        int (*f)(const struct dirent*),                                     \
                        int (*c)(const struct dirent**, const struct dirent**)), dirfd)     \
  X(scandirat64, dirent64, (int dirfd, const char* path, struct dirent64*** l,             \
                            int (*f)(const struct dirent64*),                               \
                            int (*c)(const struct dirent64**, const struct dirent64**)), dirfd)
#define VOL_GEN_SCANDIR(NAME, ENT, PARAMS, DIRFD) \
  VOL_WRAPPER(int, NAME, PARAMS) {                \
    return scan<struct ENT>(DIRFD, path, l, f, c); \
  }
VOL_SCANDIRS(VOL_GEN_SCANDIR)
