// Listed directories: a large unpopulated view directory listed and stat'ed
// from its listing, without being populated (include/vol/session.h,
// VOL_OP_LIST; fetcher/session/view_listing.h).
//
// - listed_target(): the content file behind a name in such a directory, for
//   the stat and getxattr wrappers (wrap_path.cc), which make their call on
//   it and show it as populating would (listed_fixups, shim.h).
// - listed_open()/listed_read()…: a DIR stream over such a directory served
//   from the listing (wrap_dir.cc): ".", "..", then the names in byte order.
//
// Invariants:
//   - A listing is used only while the directory's slot says unpopulated,
//     with the origin the listing records, at the listing epoch it records:
//     each use checks (shared memory reads, no system call).
//   - Mapped listings are never unmapped (a stream or a lookup may hold one):
//     at most kMapped per process; past that, directories are populated.
//   - Nothing is cached in a process that runs on another's memory (a vfork
//     child): it populates instead.
//   - A listing is checked whole before it is used (sizes, name offsets and
//     terminators, keys of hex digits only), so a damaged file is refused,
//     never read out of bounds nor turned into a path outside the cache.
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "shim.h"

namespace vol::shim {

namespace {

constexpr int kMapped = 64;
struct Mapped {
  uint64_t dev, ino;  // ino 0: free
  const vol_listing_header* h;
};
Mapped g_mapped[kMapped];
int g_mapped_used;  // slots handed out, never returned
int g_mapped_lock;

void lock(int* l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
  }
}
void unlock(int* l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

const vol_listing_entry* entries_of(const vol_listing_header* h) {
  return reinterpret_cast<const vol_listing_entry*>(h + 1);
}
const char* names_of(const vol_listing_header* h) {
  return reinterpret_cast<const char*>(entries_of(h) + h->count);
}

uint64_t listing_epoch() {
  auto* ph = reinterpret_cast<const vol_presence_header*>(g.presence);
  return __atomic_load_n(&ph->listing_epoch, __ATOMIC_ACQUIRE);
}

// The slot of an unpopulated view directory (dev, ino), or null.
const vol_presence_file* unpopulated_slot(uint64_t dev, uint64_t ino) {
  const vol_presence_file* s = presence_slot(dev, ino);
  if (!s || s->kind != VOL_SLOT_DIR || __atomic_load_n(&s->complete, __ATOMIC_ACQUIRE) != 0) return nullptr;
  return s;
}

// Whether h describes the directory of slot s now.
bool current(const vol_listing_header* h, const vol_presence_file* s) {
  return h->epoch == listing_epoch() && h->origin_index == s->origin_index &&
         memcmp(h->origin_tree, s->origin_tree, sizeof h->origin_tree) == 0;
}

// Maps the listing file of (dev, ino) and checks it whole; null if it is
// missing or damaged.
const vol_listing_header* map_listing(uint64_t dev, uint64_t ino) {
  char path[kPathMax];
  char name[48];
  int k = 0;
  auto num = [&](uint64_t v) {
    char d[24];
    int n = 0;
    do d[n++] = (char)('0' + v % 10); while (v /= 10);
    while (n) name[k++] = d[--n];
  };
  num(dev);
  name[k++] = '-';
  num(ino);
  name[k] = '\0';
  char dir[kPathMax];
  if (path_join(dir, sizeof dir, g.session, VOL_SESSION_LISTINGS) < 0 || path_join(path, sizeof path, dir, name) < 0)
    return nullptr;
  long fd = sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return nullptr;
  struct stat st;
  long addr = -1;
  if (sys(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size >= sizeof(vol_listing_header))
    addr = sys(SYS_mmap, 0, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  sys(SYS_close, fd);
  if (addr < 0 && addr >= -4095) return nullptr;  // -errno, or not mapped
  auto* h = reinterpret_cast<const vol_listing_header*>(addr);
  uint64_t size = (uint64_t)st.st_size;
  uint64_t need = sizeof *h + (uint64_t)h->count * sizeof(vol_listing_entry) + h->names_size;
  bool ok = h->magic == VOL_LISTING_MAGIC && need == size && h->names_size > 0 &&
            memchr(h->files, '\0', sizeof h->files) != nullptr && names_of(h)[h->names_size - 1] == '\0';
  for (uint32_t i = 0; ok && i < h->count; i++) {
    const vol_listing_entry& e = entries_of(h)[i];
    ok = e.name < h->names_size;
    // The key becomes a path: hex digits only, nothing that walks elsewhere.
    for (size_t k = 0; ok && k < sizeof e.key; k++) {
      char c = e.key[k];
      ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
  }
  if (!ok) {
    sys(SYS_munmap, addr, st.st_size);
    return nullptr;
  }
  return h;
}

// The current listing of the unpopulated directory (dev, ino) of slot s that
// this process has mapped, or null.
const vol_listing_header* mapped_listing(uint64_t dev, uint64_t ino, const vol_presence_file* s) {
  int n = __atomic_load_n(&g_mapped_used, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n; i++) {
    if (g_mapped[i].ino == ino && g_mapped[i].dev == dev && current(g_mapped[i].h, s)) return g_mapped[i].h;
  }
  return nullptr;
}

// The same, asked of the fetcher (which may populate the directory instead)
// when this process has none; dirfd is the directory (any kind of fd).
const vol_listing_header* listing_of(uint64_t dev, uint64_t ino, const vol_presence_file* s, int dirfd) {
  if (const vol_listing_header* h = mapped_listing(dev, ino, s)) return h;
  if (!own_process() || __atomic_load_n(&g_mapped_used, __ATOMIC_ACQUIRE) >= kMapped) return nullptr;
  vol_response resp;
  resp.value[0] = 0;
  if (dir_request(dirfd, VOL_OP_LIST, &resp) != 0 || resp.value[0] != 1) return nullptr;
  const vol_listing_header* h = map_listing(dev, ino);
  if (!h) return nullptr;
  int i = kMapped;
  if (current(h, s)) {  // else outdated already (a reload): populate instead
    lock(&g_mapped_lock);
    i = g_mapped_used;
    if (i < kMapped) {
      g_mapped[i] = Mapped{dev, ino, h};
      __atomic_store_n(&g_mapped_used, i + 1, __ATOMIC_RELEASE);
    }
    unlock(&g_mapped_lock);
  }
  if (i < kMapped) return h;
  sys(SYS_munmap, h, sizeof *h + (uint64_t)h->count * sizeof(vol_listing_entry) + h->names_size);
  return nullptr;
}

const vol_listing_entry* find_name(const vol_listing_header* h, const char* name) {
  const vol_listing_entry* e = entries_of(h);
  const char* names = names_of(h);
  uint32_t lo = 0, hi = h->count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = strcmp(names + e[mid].name, name);
    if (c == 0) return &e[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return nullptr;
}

// The parent of the last lookup that a listing answered, on this thread: a
// path in the same directory checks its directory first (one system call)
// instead of failing on the view first (two).
__thread uint64_t t_hint __attribute__((tls_model("initial-exec")));

// A path and the fd it is relative to: r's by the mount's view fd when it
// has that form (a short path from the view root instead of the view's full
// path: fewer lookups), else r's own.
struct At {
  int fd;
  const char* path;
};
At short_form(const Resolved& r) { return r.vfd >= 0 && r.rel ? At{r.vfd, r.rel} : At{r.dirfd, r.path}; }

uint64_t parent_hash(At a, size_t parent_len) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)a.fd;
  for (size_t i = 0; i < parent_len; i++) h = (h ^ (unsigned char)a.path[i]) * 1099511628211ULL;
  return h | 1;
}

// The length of a.path's directory part ("" when none) and its last
// component; false for a path a listing never answers (".", "..", a
// trailing '/', an empty path, a name too long for any directory).
bool split(At a, size_t* parent_len, const char** name) {
  const char* p = a.path;
  if (!p || !*p) return false;
  size_t n = strlen(p);
  if (p[n - 1] == '/') return false;
  size_t slash = n;
  while (slash > 0 && p[slash - 1] != '/') slash--;
  *name = p + slash;
  if (!strcmp(*name, ".") || !strcmp(*name, "..") || n - slash > 255) return false;
  *parent_len = slash;
  return true;
}

// Looks up the directory part of a.path (parent_len bytes) into st.
bool stat_parent(At a, size_t parent_len, struct stat* st) {
  char parent[kPathMax];
  if (parent_len == 0) {
    memcpy(parent, ".", 2);
  } else {
    size_t dl = parent_len > 1 ? parent_len - 1 : 1;  // "/x" → "/"
    if (dl >= sizeof parent) return false;
    memcpy(parent, a.path, dl);
    parent[dl] = '\0';
  }
  return sys(SYS_newfstatat, a.fd, parent, st, 0) == 0 && S_ISDIR(st->st_mode);
}

}  // namespace

bool listed_hint(const Resolved& r) {
  size_t plen;
  const char* name;
  At a = short_form(r);
  return r.mount >= 0 && t_hint && split(a, &plen, &name) && parent_hash(a, plen) == t_hint;
}

Listed listed_target(const Resolved& r, ListedTarget* t) {
  size_t plen;
  const char* name;
  At a = short_form(r);
  if (r.mount < 0 || !g.presence || r.magic || !split(a, &plen, &name)) return Listed::kNo;
  struct stat st;
  bool found = stat_parent(a, plen, &st);
  if (!found && a.fd == r.vfd) {
    a = At{r.dirfd, r.path};  // the view fd went stale: the full path
    found = split(a, &plen, &name) && stat_parent(a, plen, &st);
  }
  const vol_presence_file* s = found ? unpopulated_slot(st.st_dev, st.st_ino) : nullptr;
  if (!s) {
    t_hint = 0;
    return Listed::kNo;
  }
  const vol_listing_header* h = mapped_listing(st.st_dev, st.st_ino, s);
  if (!h) {
    // Not mapped here yet: ask with the directory itself.
    long fd = -1;
    char parent[kPathMax];
    if (plen == 0) {
      memcpy(parent, ".", 2);
    } else if (plen < sizeof parent) {
      memcpy(parent, a.path, plen);
      parent[plen] = '\0';
    }
    if (plen < sizeof parent) fd = sys(SYS_openat, a.fd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      struct stat again;
      if (sys(SYS_fstat, fd, &again) == 0 && again.st_ino == st.st_ino && again.st_dev == st.st_dev)
        h = listing_of(st.st_dev, st.st_ino, s, (int)fd);
      sys(SYS_close, fd);
    }
  }
  if (!h) {
    t_hint = 0;
    return Listed::kNo;
  }
  t_hint = parent_hash(a, plen);
  // Nothing but the snapshot's entries is in an unpopulated directory (a
  // program that creates one populates it first).
  const vol_listing_entry* e = find_name(h, name);
  if (!e) return Listed::kAbsent;
  size_t flen = strlen(h->files);
  if (flen + 1 + 3 + sizeof e->key + 6 > sizeof t->path) return Listed::kNo;
  char* p = t->path;
  memcpy(p, h->files, flen);
  p += flen;
  *p++ = '/';
  *p++ = e->key[0];
  *p++ = e->key[1];
  *p++ = '/';
  memcpy(p, e->key, sizeof e->key);
  p += sizeof e->key;
  memcpy(p, ".part", 6);
  t->part_at = (size_t)(p - t->path);
  t->part = (e->flags & VOL_LISTED_PART) != 0;
  if (!t->part) *p = '\0';
  t->mode = e->mode & 07777;
  return Listed::kFile;
}

void listed_other_name(ListedTarget* t) {
  t->part = !t->part;
  if (t->part) memcpy(t->path + t->part_at, ".part", 6);
  else t->path[t->part_at] = '\0';
}

// ---- streams -----------------------------------------------------------------
namespace {

constexpr int kStreams = 32;
struct Stream {
  DIR* d;  // null: free
  const vol_listing_header* h;
  uint64_t dev, ino;  // the directory
  uint64_t dot_ino, dotdot_ino;
  long next;          // 0 ".", 1 "..", then entry next - 2
  struct dirent64 ent;
};
Stream g_streams[kStreams];
int g_streams_used;
int g_streams_lock;

Stream* find_stream(DIR* d) {
  for (Stream& s : g_streams)
    if (s.d == d) return &s;
  return nullptr;
}

}  // namespace

bool listed_open(DIR* d, int fd) {
  if (!g.presence || !own_process()) return false;
  struct stat st, up;
  const vol_presence_file* s;
  if (sys(SYS_fstat, fd, &st) != 0 || !(s = unpopulated_slot(st.st_dev, st.st_ino))) return false;
  const vol_listing_header* h = listing_of(st.st_dev, st.st_ino, s, fd);
  if (!h || sys(SYS_newfstatat, fd, "..", &up, 0) != 0) return false;
  bool ok = false;
  lock(&g_streams_lock);
  for (Stream& x : g_streams) {
    if (x.d) continue;
    x = Stream{nullptr, h, st.st_dev, st.st_ino, st.st_ino, up.st_ino, 0, {}};
    __atomic_store_n(&x.d, d, __ATOMIC_RELEASE);  // last: a fork child may see the table half-written
    g_streams_used++;
    ok = true;
    break;
  }
  unlock(&g_streams_lock);
  return ok;
}

struct dirent64* listed_read(DIR* d, bool* served) {
  *served = false;
  if (!__atomic_load_n(&g_streams_used, __ATOMIC_RELAXED)) return nullptr;
  struct dirent64* out = nullptr;
  lock(&g_streams_lock);
  if (Stream* s = find_stream(d)) {
    *served = true;
    const vol_listing_header* h = s->h;
    if (s->next < (long)h->count + 2) {
      struct dirent64& e = s->ent;
      const char* name;
      if (s->next < 2) {
        e.d_ino = s->next == 0 ? s->dot_ino : s->dotdot_ino;
        e.d_type = DT_DIR;
        name = s->next == 0 ? "." : "..";
      } else {
        const vol_listing_entry& le = entries_of(h)[s->next - 2];
        e.d_ino = le.ino;
        e.d_type = DT_REG;
        name = names_of(h) + le.name;
      }
      size_t len = strnlen(name, sizeof e.d_name - 1);
      memcpy(e.d_name, name, len);
      e.d_name[len] = '\0';
      s->next++;
      e.d_off = s->next;
      e.d_reclen = (unsigned short)sizeof e;
      out = &e;
    }
  }
  unlock(&g_streams_lock);
  return out;
}

bool listed_tell(DIR* d, long* pos) {
  if (!__atomic_load_n(&g_streams_used, __ATOMIC_RELAXED)) return false;
  lock(&g_streams_lock);
  Stream* s = find_stream(d);
  if (s) *pos = s->next;
  unlock(&g_streams_lock);
  return s != nullptr;
}

bool listed_seek(DIR* d, long pos) {
  if (!__atomic_load_n(&g_streams_used, __ATOMIC_RELAXED)) return false;
  lock(&g_streams_lock);
  Stream* s = find_stream(d);
  if (s) s->next = pos < 0 ? 0 : pos;
  unlock(&g_streams_lock);
  return s != nullptr;
}

void listed_rewind(DIR* d) {
  if (!__atomic_load_n(&g_streams_used, __ATOMIC_RELAXED)) return;
  bool dropped = false;
  lock(&g_streams_lock);
  if (Stream* s = find_stream(d)) {
    // Read again from the start, as the directory is now: from the listing
    // while it still describes it, else from the directory itself.
    const vol_presence_file* slot = unpopulated_slot(s->dev, s->ino);
    if (slot && current(s->h, slot)) {
      s->next = 0;
    } else {
      s->d = nullptr;
      g_streams_used--;
      dropped = true;
    }
  }
  unlock(&g_streams_lock);
  // Populated, unless it is already: a reload may have retired the listing
  // of a directory nobody populated, which is empty on disk.
  if (dropped) populate_dir(dirfd(d));
}

void listed_atfork_child() {
  // Another thread of the parent may have held them: it does not exist here.
  g_streams_lock = 0;
  g_mapped_lock = 0;
}

void listed_close(DIR* d) {
  if (!__atomic_load_n(&g_streams_used, __ATOMIC_RELAXED)) return;
  lock(&g_streams_lock);
  if (Stream* s = find_stream(d)) {
    s->d = nullptr;
    g_streams_used--;
  }
  unlock(&g_streams_lock);
}

}  // namespace vol::shim
