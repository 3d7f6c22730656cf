// Lazy views and shared content files: the shim's side (include/vol/session.h).
//
// - A view directory may be unpopulated (empty on disk, its slot says so):
//   populate_dir() has the fetcher fill it. The wrappers call it after opening
//   a directory, before creating in one (populate_parent), and when a path
//   under a mount fails with ENOENT/ENOTDIR (populate_for_retry: the deepest
//   ancestor that exists is populated, and the call is tried again). Code that
//   looks paths up out of the shim's sight gets them ready first: the loader
//   and the kernel (materialize_path), glibc's walks (populate_tree: the
//   whole subtree, symlinks followed as the walk will follow them).
// - A view file may be a content file of the shared cache (a VOL_SLOT_FILE
//   slot and two links or more): before anything changes it, make_private()
//   has the fetcher replace it by a private copy. stat shows such a file with
//   its slot's mode and one link, an unpopulated directory with one link
//   ("count unknown"), as a local copy would show them.
// - The lifeline fd (session.h) is the shim's: close, dup2 onto it,
//   close_range and closefrom leave it alone; it is found again in a child
//   that exec'd with a cleaned environment.
//
// Invariant: a path outside every mount costs nothing here; a genuine ENOENT
// under a mount costs one fstatat of its parent and a slot lookup.
#include <errno.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "shim.h"

namespace vol::shim {

namespace {

bool is_unpopulated_dir(const struct stat& st) {
  if (!S_ISDIR(st.st_mode)) return false;
  const vol_presence_file* s = presence_slot(st.st_dev, st.st_ino);
  return s && s->kind == VOL_SLOT_DIR && __atomic_load_n(&s->complete, __ATOMIC_ACQUIRE) == 0;
}

int populate_open_dir(int dirfd, const char* path) {
  long fd = sys(SYS_openat, dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fd = sys(SYS_openat, dirfd, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return (int)-fd;
  int err = populate_dir((int)fd);
  sys(SYS_close, fd);
  return err;
}

// Splits `path` into the directory part (copied into dir, "." when there is
// none) and returns a pointer to the last component (in path).
const char* split_last(const char* path, char* dir, size_t cap) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  size_t slash = n;
  while (slash > 0 && path[slash - 1] != '/') slash--;
  if (slash == 0) {
    memcpy(dir, ".", 2);
  } else {
    size_t dl = slash > 1 ? slash - 1 : 1;  // "/x" → "/"
    if (dl >= cap) dl = cap - 1;
    memcpy(dir, path, dl);
    dir[dl] = '\0';
  }
  return path + slash;
}

}  // namespace

int dir_request(int fd, uint32_t op, vol_response* resp) {
  vol_request req;
  req.op = op;
  req.index = 0;
  req.offset = req.length = 0;
  req.path[0] = '\0';
  return ipc_call(&req, 0, resp, fd);
}

int populate_dir(int fd) {
  if (!g.presence) return 0;
  struct stat st;
  if (sys(SYS_fstat, fd, &st) != 0 || !is_unpopulated_dir(st)) return 0;
  vol_response resp;
  return dir_request(fd, VOL_OP_POPULATE, &resp);
}

namespace {
bool populate_on_the_way(int dirfd, const char* path, int hops) {
  char cur[kPathMax];
  size_t n = strnlen(path, sizeof cur - 1);
  memcpy(cur, path, n);
  cur[n] = '\0';
  // Up from `path`: the first thing on its way that exists decides.
  for (int depth = 0; depth < 4096; depth++) {
    struct stat st;
    if (sys(SYS_newfstatat, dirfd, cur, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISLNK(st.st_mode)) {
        // A symlink whose target is missing: the target may lie in an
        // unpopulated directory (absolute links into the mount point into the view).
        struct stat target;
        if (hops > 8 || sys(SYS_newfstatat, dirfd, cur, &target, 0) == 0) return false;
        char link[kPathMax], next[kPathMax], dir[kPathMax];
        long len = sys(SYS_readlinkat, dirfd, cur, link, sizeof link - 1);
        if (len <= 0) return false;
        link[len] = '\0';
        if (link[0] == '/') {
          memcpy(next, link, (size_t)len + 1);
        } else {
          split_last(cur, dir, sizeof dir);
          if (path_join(next, sizeof next, dir, link) < 0) return false;
        }
        return populate_on_the_way(dirfd, next, hops + 1);
      }
      if (!is_unpopulated_dir(st)) return false;  // there and complete: the ENOENT is genuine
      // The path itself is there now (its parent was populated): the call
      // can be retried; listing it is for whoever lists it (a large directory
      // may be listed without being populated: listing.cc).
      if (depth == 0) return false;
      return populate_open_dir(dirfd, cur) == 0;
    }
    char parent[kPathMax];
    split_last(cur, parent, sizeof parent);
    if (strcmp(parent, cur) == 0 || strcmp(cur, ".") == 0 || strcmp(cur, "/") == 0) return false;
    memcpy(cur, parent, strlen(parent) + 1);
  }
  return false;
}
}  // namespace

bool populate_for_retry(int dirfd, const char* path, int err) {
  if (!g.presence || (err != ENOENT && err != ENOTDIR) || !path || !*path) return false;
  // One directory a round, down the path, until nothing on its way is left
  // unpopulated: one retry of the caller's call then suffices.
  bool progress = false;
  for (int round = 0; round < 4096 && populate_on_the_way(dirfd, path, 0); round++) progress = true;
  // Or it is there by now (populated by a listing request, or by another
  // thread meanwhile): worth the retry too.
  struct stat st;
  if (!progress) progress = sys(SYS_newfstatat, dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
  errno = err;
  return progress;
}

int populate_parent(int dirfd, const char* path) {
  if (!g.presence || !path || !*path) return 0;
  char parent[kPathMax];
  split_last(path, parent, sizeof parent);
  struct stat st;
  // A missing parent may be inside unpopulated directories, one level each round.
  for (int tries = 0; sys(SYS_newfstatat, dirfd, parent, &st, 0) != 0; tries++) {
    if (tries >= 4096 || !populate_for_retry(dirfd, path, ENOENT)) return 0;
  }
  if (!is_unpopulated_dir(st)) return 0;
  int err = populate_open_dir(dirfd, parent);
  if (err) {
    errno = err;
    return -1;
  }
  return 0;
}

int populate_self(int dirfd, const char* path) {
  if (!g.presence) return 0;
  struct stat st;
  if (sys(SYS_newfstatat, dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !is_unpopulated_dir(st)) return 0;
  int err = populate_open_dir(dirfd, path);
  if (err) {
    errno = err;
    return -1;
  }
  return 0;
}

bool is_content_file(const struct stat& st) {
  if (!S_ISREG(st.st_mode) || st.st_nlink < 2 || !g.presence) return false;
  const vol_presence_file* s = presence_slot(st.st_dev, st.st_ino);
  return s && s->kind == VOL_SLOT_FILE && (s->flags & VOL_SLOT_SHARED);
}

int make_private(int dirfd, const char* path, bool empty) {
  if (!g.presence || !path || !*path) return 0;
  struct stat st;
  if (sys(SYS_newfstatat, dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !is_content_file(st)) return 0;
  char parent[kPathMax];
  const char* name = split_last(path, parent, sizeof parent);
  long pfd = sys(SYS_openat, dirfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) {
    errno = (int)-pfd;
    return -1;
  }
  vol_request req;
  size_t len = strnlen(name, sizeof req.path - 1);
  req.op = VOL_OP_PRIVATE;
  req.index = 0;
  req.offset = empty ? 1 : 0;
  req.length = 0;
  memcpy(req.path, name, len);
  req.path[len] = '\0';
  vol_response resp;
  int err = ipc_call(&req, len, &resp, (int)pfd);
  sys(SYS_close, pfd);
  if (err) {
    errno = err;
    return -1;
  }
  return 0;
}

int make_private_fd(int fd, char* path_out, size_t cap) {
  path_out[0] = '\0';
  if (!g.presence) return 0;
  struct stat st;
  if (sys(SYS_fstat, fd, &st) != 0 || !is_content_file(st)) return 0;
  char link[32] = "/proc/self/fd/";
  char num[12];
  int k = 0;
  for (int v = fd; k == 0 || v; v /= 10) num[k++] = (char)('0' + v % 10);
  for (int i = 0; i < k; i++) link[14 + i] = num[k - 1 - i];
  link[14 + k] = '\0';
  long n = sys(SYS_readlinkat, AT_FDCWD, link, path_out, cap - 1);
  if (n <= 0) return 0;
  path_out[n] = '\0';
  if (make_private(AT_FDCWD, path_out, false) < 0) return -1;
  return 1;  // the change must now be made to path_out, not to fd
}

void content_fixups(uint64_t dev, uint64_t ino, uint32_t* mode, uint64_t* nlink) {
  if (!g.presence) return;
  if (S_ISREG(*mode)) {
    if (*nlink < 2) return;
    const vol_presence_file* s = presence_slot(dev, ino);
    if (!s || s->kind != VOL_SLOT_FILE || !(s->flags & VOL_SLOT_SHARED)) return;
    *nlink = 1;
    *mode = (*mode & ~07777u) | (__atomic_load_n(&s->mode, __ATOMIC_ACQUIRE) & 07777u);
  } else if (S_ISDIR(*mode)) {
    const vol_presence_file* s = presence_slot(dev, ino);
    if (s && s->kind == VOL_SLOT_DIR && __atomic_load_n(&s->complete, __ATOMIC_ACQUIRE) == 0) *nlink = 1;
  }
}

void materialize_path(int dirfd, const char* path) {
  struct stat st;
  int saved = errno;
  if (sys(SYS_newfstatat, dirfd, path, &st, 0) != 0) populate_for_retry(dirfd, path, ENOENT);
  errno = saved;
}

namespace {
// populate_tree's walk. A level holds an fd and the getdents cookie of its
// next entry, not a buffer: the one buffer is re-filled after each descent, so
// 256 levels cost a few KiB of stack whatever thread the walk runs on.
struct TreeWalk {
  static constexpr int kMaxDepth = 256;
  static constexpr int kMaxFollowed = 64;
  TreeFollow follow;
  int followed = 0;  // symlinked directories walked (each once; a cycle stops)
  struct {
    uint64_t dev, ino;
  } seen[kMaxFollowed];
  alignas(8) char buf[4096];

  struct Dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[1];
  };

  // A symlink `name` in dirfd that a following walk enters: a directory not
  // entered yet. Its target may lie in an unpopulated directory.
  bool enter_link(int dirfd, const char* name) {
    struct stat st;
    long rc = sys(SYS_newfstatat, dirfd, name, &st, 0);
    if (rc != 0 && populate_for_retry(dirfd, name, (int)-rc)) rc = sys(SYS_newfstatat, dirfd, name, &st, 0);
    if (rc != 0 || !S_ISDIR(st.st_mode) || followed >= kMaxFollowed) return false;
    for (int i = 0; i < followed; i++)
      if (seen[i].dev == st.st_dev && seen[i].ino == st.st_ino) return false;
    seen[followed].dev = st.st_dev;
    seen[followed].ino = st.st_ino;
    followed++;
    return true;
  }

  // The directory `name` in `at` and everything below it; `link`: reached
  // through a symlink. `name` may point into buf: it is used before buf is
  // filled again.
  void dir(int at, const char* name, int depth, bool link) {
    long fd = sys(SYS_openat, at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (link ? 0 : O_NOFOLLOW));
    if (fd < 0) return;
    if (link && !in_view((int)fd)) {  // a symlink out of the views: not ours to fill
      sys(SYS_close, fd);
      return;
    }
    populate_dir((int)fd);
    for (bool more = depth < kMaxDepth; more;) {
      long n = sys(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<const Dirent64*>(buf + off);
        off += d->reclen;
        if (strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0) continue;
        unsigned char type = d->type;
        if (type == DT_UNKNOWN) {
          struct stat st;
          if (sys(SYS_newfstatat, fd, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
          type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
        }
        bool link = type == DT_LNK && follow == TreeFollow::kAll && enter_link((int)fd, d->name);
        if (type != DT_DIR && !link) continue;
        int64_t next = d->off;
        dir((int)fd, d->name, depth + 1, link);
        // buf now holds a deeper level's entries: read this one on from `next`.
        if (sys(SYS_lseek, fd, next, SEEK_SET) < 0) more = false;
        break;
      }
    }
    sys(SYS_close, fd);
  }

  // Not inlined: its buffer must not sit in every level's frame.
  __attribute__((noinline)) static bool in_view(int fd) {
    char link[32], real[kPathMax];
    proc_fd_path(link, fd);
    long n = sys(SYS_readlinkat, AT_FDCWD, link, real, sizeof real - 1);
    if (n <= 0) return false;
    real[n] = '\0';
    return view_of(g.mounts, real) >= 0;
  }
};
}  // namespace

void populate_tree(int at, const char* path, TreeFollow follow) {
  if (!g.presence || !path || !*path) return;
  int saved = errno;
  // The root itself may lie in directories not populated yet.
  int how = follow == TreeFollow::kNone ? AT_SYMLINK_NOFOLLOW : 0;
  struct stat st;
  long rc = sys(SYS_newfstatat, at, path, &st, how);
  if (rc != 0 && populate_for_retry(at, path, (int)-rc)) rc = sys(SYS_newfstatat, at, path, &st, how);
  if (rc == 0 && S_ISDIR(st.st_mode)) {
    TreeWalk walk;
    walk.follow = follow;
    walk.seen[0].dev = st.st_dev;  // the root is entered once, however a link names it
    walk.seen[0].ino = st.st_ino;
    walk.followed = 1;
    walk.dir(at, path, 0, follow != TreeFollow::kNone);
  }
  errno = saved;
}

void lifeline_init(const char* env) {
  g.lifeline = -1;
  char path[kPathMax];
  struct stat want;
  if (path_join(path, sizeof path, g.session, VOL_SESSION_LIFELINE) < 0 ||
      sys(SYS_newfstatat, AT_FDCWD, path, &want, 0) != 0 || !S_ISFIFO(want.st_mode))
    return;
  g.lifeline_dev = want.st_dev;
  g.lifeline_ino = want.st_ino;
  long fd = 0;
  for (const char* c = env; c && *c >= '0' && *c <= '9'; c++) fd = fd * 10 + (*c - '0');
  if (env && *env && is_lifeline(fd)) g.lifeline = (int)fd;
}

bool is_lifeline(long fd) {
  if (fd < 0 || g.lifeline_ino == 0) return false;
  if (fd == g.lifeline) return true;
  struct stat st;
  return sys(SYS_fstat, fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_ino == g.lifeline_ino &&
         st.st_dev == g.lifeline_dev;
}

void lifeline_found(int fd) {
  if (g.lifeline < 0 && own_process()) g.lifeline = fd;
}

int lifeline_move_from(int fd) {
  if (fd != g.lifeline || !own_process()) return 0;
  long moved = sys(SYS_fcntl, fd, F_DUPFD, kHighFd - 10);
  if (moved < 0) return (int)-moved;
  g.lifeline = (int)moved;
  return 0;
}

}  // namespace vol::shim
