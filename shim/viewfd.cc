// The view fds: one O_PATH fd on each mount's view root, so that the hot calls
// (stat, access, open and their *at forms) look up only the part of a path
// below the mount, from that fd, instead of every component of the view path
// from "/". A view lies several directories deep in the cache
// ($VOL_CACHE_DIR/sessions/ID/views/N-NAME), and the kernel's walk of those
// components was most of what a stat through a mount cost above a native one.
// The lookup below the root is the kernel's either way: symlinks, "..", mounts
// and permissions resolve as they do from the full path, and an fd opened
// through the view fd is the same open file (/proc/self/fd/N shows its path).
//
// Invariants: g_view_fd[i] is -1 or an O_PATH|O_DIRECTORY|O_CLOEXEC fd at
// kHighFd or above on mount i's view root, whose (dev, ino) g_view_id holds.
// Only the owning process writes it: at start-up, when the program's dup2 or
// dup3 lands on its number (it moves first), and when a call through it finds
// that it no longer names the view root (closed or replaced behind the shim's
// back: it is dropped, and the mount's calls use full paths). close,
// close_range and closefrom leave it open. A fork child inherits it as it is;
// exec closes it, and the new program's shim opens its own.
#include <errno.h>
#include <sys/stat.h>

#include "shim.h"

namespace vol::shim {

int g_view_fd[kMaxMounts] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
static_assert(kMaxMounts == 16, "g_view_fd's initialiser lists kMaxMounts entries");

namespace {

struct ViewId {
  uint64_t dev, ino;
};
ViewId g_view_id[kMaxMounts];

bool names_view_root(long fd, int m) {
  struct stat st;
  return sys(SYS_fstat, fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == g_view_id[m].dev &&
         st.st_ino == g_view_id[m].ino;
}

}  // namespace

void view_fds_open() {
  for (int m = 0; m < g.mounts.count; m++) {
    long fd = sys(SYS_openat, AT_FDCWD, g.mounts.m[m].view, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) continue;  // no view yet: full paths, as before it existed
    struct stat st;
    long high = sys(SYS_fstat, fd, &st) == 0 ? sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, kHighFd) : -1;
    sys(SYS_close, fd);
    if (high < 0) continue;  // RLIMIT_NOFILE below kHighFd: not among the program's fds
    g_view_id[m] = ViewId{st.st_dev, st.st_ino};
    __atomic_store_n(&g_view_fd[m], (int)high, __ATOMIC_RELAXED);
  }
}

bool is_view_fd(int fd) {
  if (fd < kHighFd) return false;
  for (int m = 0; m < g.mounts.count; m++)
    if (fd == __atomic_load_n(&g_view_fd[m], __ATOMIC_RELAXED)) return true;
  return false;
}

int view_fds(int* out) {
  int n = 0;
  for (int m = 0; m < g.mounts.count; m++) {
    int fd = __atomic_load_n(&g_view_fd[m], __ATOMIC_RELAXED);
    if (fd >= 0) out[n++] = fd;
  }
  return n;
}

void view_fd_move_from(int fd) {
  if (!is_view_fd(fd) || !own_process()) return;
  for (int m = 0; m < g.mounts.count; m++) {
    if (__atomic_load_n(&g_view_fd[m], __ATOMIC_RELAXED) != fd) continue;
    long moved = sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, kHighFd);
    __atomic_store_n(&g_view_fd[m], moved >= 0 ? (int)moved : -1, __ATOMIC_RELAXED);
  }
}

bool view_fd_stale(int m, int fd) {
  if (names_view_root(fd, m)) return false;
  if (own_process()) __atomic_compare_exchange_n(&g_view_fd[m], &fd, -1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return true;
}

}  // namespace vol::shim
