// The per-process fd table and the lazy-content guard.
//
// Invariants: g_fds is indexed by fd and holds no pointers, so it needs no
// allocation and survives fork as it is. An entry is written only by the owning
// process (a vfork child shares this memory but has its own fd numbers), whole,
// with one atomic store; settling a kFdUnchecked entry is a compare-and-swap,
// so one that races with a close or reopen of its number leaves the newer. The
// presence table is the fetcher's; the shim only reads it (acquire loads of
// `ino`, `complete` and the bitmap words, which the fetcher publishes with
// release stores after the bytes are in the view file).
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "shim.h"

namespace vol::shim {

namespace {

struct LinuxDirent64 {  // what getdents64 returns
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

const vol_presence_header* header() {
  return reinterpret_cast<const vol_presence_header*>(g.presence);
}

const vol_presence_file* slot_at(uint32_t idx) {
  const vol_presence_header* h = header();
  if (!h || idx >= h->table_slots) return nullptr;
  uint64_t off = h->table_offset + (uint64_t)idx * sizeof(vol_presence_file);
  if (off + sizeof(vol_presence_file) > g.presence_len) return nullptr;
  return reinterpret_cast<const vol_presence_file*>(g.presence + off);
}

// The slot index of (dev, ino), or -1 (no slot: the file is complete).
long find_slot(uint64_t dev, uint64_t ino);
// The content-file slot of (dev, ino), or -1: directories' slots say
// populated, not present, and are never guarded.
long find_file_slot(uint64_t dev, uint64_t ino);

long find_slot(uint64_t dev, uint64_t ino) {
  const vol_presence_header* h = header();
  if (!h || h->table_slots == 0 || ino == 0) return -1;
  uint64_t mask = h->table_slots - 1;
  uint64_t i = vol_presence_hash(ino) & mask;
  for (uint64_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
    const vol_presence_file* s = slot_at((uint32_t)i);
    if (!s) return -1;
    uint64_t sino = __atomic_load_n(&s->ino, __ATOMIC_ACQUIRE);
    if (sino == 0) return -1;
    if (sino == ino && s->dev == dev) return (long)i;
  }
  return -1;
}

bool complete(const vol_presence_file* s) {
  return __atomic_load_n(&s->complete, __ATOMIC_ACQUIRE) != 0;
}

long find_file_slot(uint64_t dev, uint64_t ino) {
  long i = find_slot(dev, ino);
  if (i < 0) return -1;
  const vol_presence_file* s = slot_at((uint32_t)i);
  return s && s->kind == VOL_SLOT_FILE ? i : -1;
}

// The incomplete slot behind fd, or null.
const vol_presence_file* slot_of_fd(int fd) {
  uint32_t s1;
  if ((unsigned)fd < (unsigned)kMaxFds) {
    s1 = fd_settle(fd);
  } else {
    if (!g.presence) return nullptr;
    struct stat st;
    if (sys(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
    long i = find_file_slot(st.st_dev, st.st_ino);
    s1 = (uint32_t)(i + 1);
  }
  if (s1 == 0) return nullptr;
  const vol_presence_file* s = slot_at(s1 - 1);
  return s && !complete(s) ? s : nullptr;
}

bool bits_present(const vol_presence_file* s, uint64_t off, uint64_t end) {
  const vol_presence_header* h = header();
  uint64_t bs = s->block_size ? s->block_size : 1;
  uint64_t b0 = off / bs, b1 = (end - 1) / bs;
  uint64_t words_off = h->bitmap_offset + s->bitmap_word * 8;
  if (words_off + ((b1 / 64) + 1) * 8 > g.presence_len) return false;
  auto* words = reinterpret_cast<const uint64_t*>(g.presence + words_off);
  for (uint64_t b = b0; b <= b1;) {
    uint64_t w = __atomic_load_n(&words[b / 64], __ATOMIC_ACQUIRE);
    uint64_t first = b % 64;
    uint64_t last = (b1 / 64 == b / 64) ? b1 % 64 : 63;
    uint64_t mask = (last == 63 ? ~0ULL : ((1ULL << (last + 1)) - 1)) & ~((1ULL << first) - 1);
    if ((w & mask) != mask) return false;
    b += last - first + 1;
  }
  return true;
}

int fetch(uint32_t op, const vol_presence_file* s, uint64_t off, uint64_t len) {
  vol_request req;
  req.op = op;
  req.index = s->index;
  req.offset = off;
  req.length = len;
  req.path[0] = '\0';
  vol_response resp;
  int err = ipc_call(&req, 0, &resp);
  if (err) {
    errno = err;
    return -1;
  }
  return 0;
}

}  // namespace

void fd_note(int fd, int mount, int open_flags) {
  if (fd < 0 || fd >= kMaxFds || mount < 0 || !own_process()) return;
  FdEntry e{};
  e.mount1 = (uint8_t)(mount + 1);
  int acc = open_flags & O_ACCMODE;
  if (acc == O_WRONLY || acc == O_RDWR) e.flags |= kFdWrite;
  bool dir = open_flags & O_DIRECTORY;
  if (g.presence && !dir) e.flags |= kFdUnchecked;
  __atomic_store(&g_fds[fd], &e, __ATOMIC_RELAXED);
  if (fd > __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED))
    __atomic_store_n(&g_fd_max, fd, __ATOMIC_RELAXED);
  // A directory is listed through its fd (getdents, fdopendir, fts…): it
  // must hold its entries before the program reads it (lazy views).
  if (dir) populate_dir(fd);
}

namespace {
// fd_settle_as, and the fd's slot1 into *slot1.
bool settle(int fd, const struct stat* st, uint32_t* slot1) {
  FdEntry e;
  __atomic_load(&g_fds[fd], &e, __ATOMIC_RELAXED);
  *slot1 = e.slot1;
  if (!(e.flags & kFdUnchecked)) return false;
  FdEntry settled = e;
  settled.flags &= (uint8_t)~kFdUnchecked;
  struct stat own;
  if (!st && sys(SYS_fstat, fd, &own) == 0) st = &own;
  bool dir = st && S_ISDIR(st->st_mode);
  if (st && S_ISREG(st->st_mode)) {
    long i = find_file_slot(st->st_dev, st->st_ino);
    if (i >= 0 && !complete(slot_at((uint32_t)i))) settled.slot1 = (uint32_t)(i + 1);
  }
  *slot1 = settled.slot1;
  // Unless another thread closed or replaced the fd meanwhile (then its
  // entry is no longer e). A vfork child only uses what it found.
  if (own_process())
    __atomic_compare_exchange(&g_fds[fd], &e, &settled, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  if (dir) populate_dir(fd);
  return dir;
}
}  // namespace

bool fd_settle_as(int fd, const struct stat* st) {
  uint32_t slot1;
  return (unsigned)fd < (unsigned)kMaxFds && settle(fd, st, &slot1);
}

uint32_t fd_settle(int fd) {
  uint32_t slot1 = 0;
  if ((unsigned)fd < (unsigned)kMaxFds) settle(fd, nullptr, &slot1);  // else never noted
  return slot1;
}

void fd_note_ancestor(int fd, int anc) {
  if (fd < 0 || fd >= kMaxFds || anc < 0 || !own_process()) return;
  FdEntry e{};
  e.anc1 = (uint16_t)(anc + 1);
  g_fds[fd] = e;
  if (fd > __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED))
    __atomic_store_n(&g_fd_max, fd, __ATOMIC_RELAXED);
}

void fd_forget(int fd) {
  if ((unsigned)fd < (unsigned)kMaxFds && (g_fds[fd].mount1 || g_fds[fd].slot1 || g_fds[fd].anc1) &&
      own_process()) {
    FdEntry none{};
    __atomic_store(&g_fds[fd], &none, __ATOMIC_RELAXED);
  }
}

void fd_copy(int from, int to) {
  if ((unsigned)from >= (unsigned)kMaxFds || (unsigned)to >= (unsigned)kMaxFds) return;
  if (!(g_fds[from].mount1 || g_fds[to].mount1 || g_fds[from].anc1 || g_fds[to].anc1) ||
      !own_process())
    return;
  FdEntry e;
  __atomic_load(&g_fds[from], &e, __ATOMIC_RELAXED);
  __atomic_store(&g_fds[to], &e, __ATOMIC_RELAXED);
  if (to > __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED))
    __atomic_store_n(&g_fd_max, to, __ATOMIC_RELAXED);
}

void fd_scan_inherited() {
  long dir = sys(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  alignas(8) char buf[4096];
  long n;
  while ((n = sys(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<const LinuxDirent64*>(buf + off);
      off += d->reclen;
      if (d->name[0] < '0' || d->name[0] > '9') continue;
      int fd = 0;
      for (const char* c = d->name; *c; c++) fd = fd * 10 + (*c - '0');
      if (fd == dir) continue;
      char link[64] = "/proc/self/fd/";
      memcpy(link + 14, d->name, strnlen(d->name, 40) + 1);
      char real[kPathMax];
      long len = sys(SYS_readlinkat, AT_FDCWD, link, real, sizeof real - 1);
      if (len <= 0) continue;
      real[len] = '\0';
      int v = view_of(g.mounts, real);
      const char* rest;
      int k;
      if (v >= 0) {
        fd_note(fd, v, (int)sys(SYS_fcntl, fd, F_GETFL));
      } else if (is_lifeline(fd)) {
        lifeline_found(fd);
      } else if ((k = synth_of(g.mounts, real, &rest)) >= 0 && !*rest) {
        fd_note_ancestor(fd, k);
      } else if ((k = ancestor_of(g.mounts, real)) >= 0) {
        fd_note_ancestor(fd, k);
      }
    }
  }
  sys(SYS_close, dir);
}

int ensure_range(int fd, long off, size_t len) {
  const vol_presence_file* s = slot_of_fd(fd);
  if (!s || len == 0) return 0;
  if (off < 0) off = sys(SYS_lseek, fd, 0, SEEK_CUR);
  if (off < 0) return 0;
  uint64_t size = s->size;
  if ((uint64_t)off >= size) return 0;
  uint64_t end = (uint64_t)off + len;
  if (end > size || end < (uint64_t)off) end = size;
  if (bits_present(s, (uint64_t)off, end)) return 0;
  return fetch(VOL_OP_FETCH, s, (uint64_t)off, end - (uint64_t)off);
}

int ensure_all(int fd) {
  const vol_presence_file* s = slot_of_fd(fd);
  return s ? fetch(VOL_OP_FETCH_ALL, s, 0, s->size) : 0;
}

namespace {
const vol_presence_file* incomplete_slot_at(int dirfd, const char* path, bool follow) {
  if (!g.presence) return nullptr;
  struct stat st;
  if (sys(SYS_newfstatat, dirfd, path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode))
    return nullptr;
  long i = find_file_slot(st.st_dev, st.st_ino);
  if (i < 0) return nullptr;
  const vol_presence_file* s = slot_at((uint32_t)i);
  return s && !complete(s) ? s : nullptr;
}
}  // namespace

bool incomplete_at(int dirfd, const char* path, bool follow) {
  return incomplete_slot_at(dirfd, path, follow) != nullptr;
}

int ensure_path_at(int dirfd, const char* path) {
  const vol_presence_file* s = incomplete_slot_at(dirfd, path, true);
  return s ? fetch(VOL_OP_FETCH_ALL, s, 0, s->size) : 0;
}

int ensure_path(const char* real_path) { return ensure_path_at(AT_FDCWD, real_path); }

bool held_open(int dirfd, const char* path, bool follow) {
  long fd = sys(SYS_openat, dirfd, path,
                O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0) return true;  // cannot tell: keep the content
  // A write lease is granted only while no other fd (of any process) has the
  // file open. A break of it would be signalled: SIGURG, ignored by default,
  // rather than SIGIO, which would end the program.
  sys(SYS_fcntl, fd, F_SETSIG, SIGURG);
  long rc = sys(SYS_fcntl, fd, F_SETLEASE, F_WRLCK);
  bool held;
  if (rc == 0) {
    sys(SYS_fcntl, fd, F_SETLEASE, F_UNLCK);
    held = false;
  } else if (rc == -EAGAIN) {
    held = true;
  } else {
    // No leases here (another owner, leases disabled): this process's own fds.
    struct stat st;
    held = false;
    if (sys(SYS_fstat, fd, &st) == 0) {
      long slot = find_file_slot(st.st_dev, st.st_ino);
      int max = __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED);
      for (int i = 0; slot >= 0 && i <= max && i < kMaxFds && !held; i++)
        held = i != fd && fd_needs_check(i) && fd_settle(i) == (uint32_t)(slot + 1);
    }
  }
  sys(SYS_close, fd);
  return held;
}

long incomplete_size(int fd) {
  const vol_presence_file* s = slot_of_fd(fd);
  return s ? (long)s->size : -1;
}

bool incomplete_ino(uint64_t dev, uint64_t ino) {
  long i = find_file_slot(dev, ino);
  if (i < 0) return false;
  const vol_presence_file* s = slot_at((uint32_t)i);
  return s && !complete(s);
}

const vol_presence_file* presence_slot(uint64_t dev, uint64_t ino) {
  long i = find_slot(dev, ino);
  return i < 0 ? nullptr : slot_at((uint32_t)i);
}

int ensure_inherited() {
  int max = __atomic_load_n(&g_fd_max, __ATOMIC_RELAXED);
  for (int fd = 0; fd <= max && fd < kMaxFds; fd++) {
    if (!fd_needs_check(fd)) continue;
    long fl = sys(SYS_fcntl, fd, F_GETFD);
    // fd_settle also populates an inherited directory: the new program may
    // list it without the shim.
    if (fl >= 0 && !(fl & FD_CLOEXEC) && fd_settle(fd) && ensure_all(fd) < 0) return -1;
  }
  return 0;
}

}  // namespace vol::shim
