// Internal interface of libvolshim.so, shared by its translation units.
//
// Invariants:
// - g (the session state) is written only by init() and, for fork children,
//   by the atfork handler; after that it is read-only except the cwd state
//   (seqlock) and the IPC socket (mutex).
// - g.pid is the process that owns this memory. A process whose getpid() differs
//   is a vfork (or raw clone) child sharing the parent's memory: it must not
//   write shared state (fd table, cwd state, socket); it uses a one-shot IPC
//   connection instead. own_process() asks getpid() only while such a child
//   may exist (wrap_fork.cc).
// - g_fds[fd] is non-zero only for fds that refer to an object inside a view
//   (mount1) or to an ancestor of a mount (anc1, a directory from which
//   relative paths may enter a mount); slot1 is non-zero only for a regular
//   file with a presence slot, and is valid only once kFdUnchecked is clear
//   (fd_settle).
#ifndef VOL_SHIM_SHIM_H_
#define VOL_SHIM_SHIM_H_

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include "path.h"
#include "sys.h"
#include "vol/session.h"

#define VOL_API __attribute__((visibility("default")))

namespace vol::shim {

constexpr int kMaxFds = 65536;
constexpr int kHighFd = 800;  // the shim's own fds live at or above this
constexpr int kConns = 8;     // connections to the fetcher: concurrent waits

struct State {
  MountTable mounts;
  char session[kPathMax];
  char shim_path[kPathMax];   // for putting LD_PRELOAD back in children
  char ld_preload[kPathMax];  // LD_PRELOAD as this process started
  bool active;                // a session with at least one mount
  bool writes;                // rw mounts accept writes (the write path, issue 4)
  int pid;
  const unsigned char* presence;  // the fetcher's presence table, or null
  size_t presence_len;
  int lifeline;                   // the session's lifeline fd in this process, or -1
  uint64_t lifeline_dev, lifeline_ino;
};
extern State g;

struct FdEntry {
  uint32_t slot1;  // presence slot + 1, or 0 (complete, or not a regular file)
  uint8_t mount1;  // mount index + 1, or 0 (not in a view)
  uint8_t flags;   // kFdWrite…
  uint16_t anc1;   // ancestor index + 1 (MountTable::anc), or 0
};
// kFdMapped: mapped shared and writable; the mapping outlives the fd, so its
// close does not make the file final (the process's exit does).
// kFdUnchecked: opened without O_DIRECTORY, not yet looked at: its presence
// slot (or, for a directory, its population) is settled by the first call that
// reads or lists through it (fd_settle), so an open+close costs no fstat.
enum : uint8_t { kFdWrite = 1, kFdMapped = 2, kFdUnchecked = 4 };
static_assert(sizeof(FdEntry) == 8, "an fd entry is replaced with one atomic store");
extern FdEntry g_fds[kMaxFds];
extern int g_fd_max;  // highest fd ever noted (bounds scans)

inline bool own_process();  // false in a vfork child

// Real libc functions, resolved lazily with dlsym(RTLD_NEXT).
void* resolve_real(void** slot, const char* name);
// Reentrancy guard: non-zero while this thread is inside dlsym on the shim's
// behalf; wrappers entered then pass their arguments through untouched.
extern __thread int t_resolving __attribute__((tls_model("initial-exec")));
#define VOL_REAL_DECL_T(name, type) [[maybe_unused]] static __typeof__(type) real_##name##_ptr
#define VOL_REAL_DECL(name) VOL_REAL_DECL_T(name, decltype(&::name))
#define VOL_REAL(name)                                                               \
  (__atomic_load_n(&real_##name##_ptr, __ATOMIC_RELAXED)                             \
       ? real_##name##_ptr                                                           \
       : reinterpret_cast<decltype(real_##name##_ptr)>(                              \
             ::vol::shim::resolve_real(reinterpret_cast<void**>(&real_##name##_ptr), #name)))

// Defines the exported symbol NAME as the C++ function vol_w_NAME (so that the
// definition does not clash with glibc's declaration and its exception spec),
// with a lazily resolved pointer to the real one.
#define VOL_WRAPPER_T(RET, NAME, PARAMS, REALTYPE) \
  VOL_REAL_DECL_T(NAME, REALTYPE);                 \
  extern "C" VOL_API RET vol_w_##NAME PARAMS __asm__(#NAME); \
  extern "C" RET vol_w_##NAME PARAMS
#define VOL_WRAPPER(RET, NAME, PARAMS) VOL_WRAPPER_T(RET, NAME, PARAMS, decltype(&::NAME))
// Declares the shim's own wrapper of NAME (defined in another file), to call
// it from elsewhere in the shim.
#define VOL_OWN(RET, NAME, PARAMS) extern "C" RET vol_w_##NAME PARAMS __asm__(#NAME);

// --- path resolution (resolve.cc) -------------------------------------------
// A path argument after translation. `path` is what to hand to libc: the
// caller's own pointer when nothing changed, else `buf` or `shortp`. `mount`
// is the index of the mount it lies in, or -1.
struct Resolved {
  const char* path;
  int mount;
  int dirfd;     // what a relative `path` is relative to
  int anc;       // the ancestor of a mount that `path` names, or -1
  int tmpfd;     // an O_PATH fd that `path` goes through (closed with this), or -1
  int vfd;       // the mount's view fd (viewfd.cc) when `rel` names the same object, or -1
  const char* rel;  // with vfd: `path` below the view root, relative, not "" (in buf)
  bool magic;    // `path` is a /proc or /dev/fd spelling of a view object
  const char* arg;  // the caller's path and dirfd, for retry_resolve
  int argfd;
  char buf[kPathMax];  // the translated path (with tmpfd: the mount path)
  char shortp[320];    // "/proc/self/fd/N/NAME" when the view path is too long

  Resolved() : tmpfd(-1), vfd(-1) {}
  Resolved(const Resolved&) = delete;
  Resolved& operator=(const Resolved&) = delete;
  ~Resolved() {
    if (tmpfd >= 0) sys(SYS_close, tmpfd);
  }
};
// Translates `path` relative to `dirfd` (AT_FDCWD or a directory fd): a path
// under a mount becomes its view path; an ancestor of a mount that does not
// exist on the host becomes its synthetic parent; a /proc or /dev/fd spelling
// of a view object keeps its spelling but gets its mount. A view path longer
// than PATH_MAX is reached through an O_PATH fd on its parent. Returns false
// with errno set (ENAMETOOLONG, or why the long path's parent cannot be
// opened) when it cannot.
bool resolve(int dirfd, const char* path, Resolved* r);
// Makes a call on r by (view fd, rel) when r has that form — at(fd, rel) —
// else by its path — by_path(). A view fd that the program closed or replaced
// behind the shim's back fails the call with EBADF or ENOTDIR: it is dropped
// and the call made again by path.
bool view_fd_stale(int mount, int fd);
template <typename At, typename ByPath>
inline auto view_call(Resolved& r, At at, ByPath by_path) -> decltype(by_path()) {
  if (r.vfd >= 0) {
    auto ret = at(r.vfd, r.rel);
    if (ret >= 0 || (errno != EBADF && errno != ENOTDIR) || !view_fd_stale(r.mount, r.vfd)) return ret;
    r.vfd = -1;
  }
  return by_path();
}
// After a call on r failed (errno ENOENT or ENOTDIR): true if the caller's
// path reaches a mount through host symlinks (ln -s /mnt/v/d /tmp/l; cat
// /tmp/l/f), with r translated again, or if directories of a view on its way
// were populated (lazy views); the caller then retries once. False (errno
// kept) when the failure stands.
bool retry_resolve(Resolved* r);
// True if ancestor k does not exist on the host (it is shown synthetic).
bool ancestor_synthetic(int k);
// The mount path of the process's cwd when the kernel's getcwd cannot return
// the real one (a view path longer than PATH_MAX). Returns the length or -1.
long deep_view_cwd(char* out, size_t cap, int* mount);
// For calls that modify the file system: false with errno = EROFS unless the
// path's mount accepts writes.
bool may_write(const Resolved& r);
// Tells the fetcher that the path behind r changed (VOL_CHANGED_*). Returns 0,
// or -1 with errno EIO when the fetcher cannot be told.
int changed(const Resolved& r, uint32_t kind = VOL_CHANGED_PATH);
// The mount path (as the program sees it) of a resolved path under a mount.
bool mount_path_of(const Resolved& r, char* out, size_t cap);
// Rewrites a view path in place (buf of size cap) to its mount path. Returns
// the new length, or -1 (ERANGE) if it does not fit; unchanged paths keep theirs.
long untranslate_in_place(char* buf, size_t cap);
void update_cwd();

// --- view fds (viewfd.cc) ---------------------------------------------------
// g_view_fd[i]: an O_PATH fd on mount i's view root (at kHighFd or above), or -1.
extern int g_view_fd[kMaxMounts];
void view_fds_open();          // at start-up, after the inherited fds are noted
bool is_view_fd(int fd);
int view_fds(int* out);        // the view fds (at most kMaxMounts), how many
void view_fd_move_from(int fd);  // fd is about to be replaced (dup2 onto it)

// --- fds and presence (fds.cc) ----------------------------------------------
void fd_note(int fd, int mount, int open_flags);  // fd was opened inside a view
void fd_note_ancestor(int fd, int anc);          // fd is a directory above a mount
// Notes the fd an open of r returned (view or ancestor), if any.
inline void fd_note_resolved(int fd, const Resolved& r, int open_flags);
void fd_forget(int fd);
// stdio is about to close f's fd inside glibc (fclose, freopen): flushes a
// view file's buffer, then announces the close (wrap_fd.cc).
void stream_closing(FILE* f);
void fd_copy(int from, int to);
void fd_scan_inherited();
// Makes [off, off+len) of fd present (off < 0: the fd's current offset).
// Returns 0, or -1 with errno set (EIO when the fetcher is gone).
int ensure_range(int fd, long off, size_t len);
int ensure_all(int fd);
int ensure_path(const char* real_path);  // a view file by its real path
int ensure_path_at(int dirfd, const char* path);
// True if path (relative to dirfd; symlinks followed if follow) is a view file
// whose presence slot is not complete.
bool incomplete_at(int dirfd, const char* path, bool follow);
// True if some process holds the file at path open (besides the check's own
// fd): an unlinked or replaced file must keep its content for its readers.
bool held_open(int dirfd, const char* path, bool follow);
int ensure_inherited();                  // every incomplete fd without FD_CLOEXEC
long incomplete_size(int fd);            // the file's size if fd is incomplete, else -1
bool incomplete_ino(uint64_t dev, uint64_t ino);
// view_file_ctime: the fetcher's writes into a view file move its ctime (no
// one can set ctime), which tools like tar take for "file changed as we read
// it". A regular file in a view reports st_ctime = st_mtime instead.
//
// An incomplete view file is sparse on disk, but its content is not: tools
// that infer holes from st_blocks (cp, tar --sparse) must see it dense.
template <typename B>
inline void dense_blocks(uint64_t dev, uint64_t ino, uint64_t size, B* blocks) {
  uint64_t want = (size + 511) / 512;
  if ((uint64_t)*blocks < want && g.presence && incomplete_ino(dev, ino)) *blocks = (B)want;
}
// stat of a view object: a shared content file shows its slot's mode and one
// link, an unpopulated directory one link (lazy.cc).
void content_fixups(uint64_t dev, uint64_t ino, uint32_t* mode, uint64_t* nlink);
// What a stat of a view file reports differently from the view file itself:
// the one place for these fix-ups (a content file's mode and links, dense
// blocks while incomplete, ctime = mtime). Symlinks get theirs in
// wrap_path.cc (link_size), from their path.
template <typename St>
inline void stat_fixups(St* b) {
  uint32_t mode = (uint32_t)b->st_mode;
  uint64_t nlink = (uint64_t)b->st_nlink;
  content_fixups(b->st_dev, b->st_ino, &mode, &nlink);
  b->st_mode = mode;
  b->st_nlink = nlink;
  if (!S_ISREG(b->st_mode)) return;
  dense_blocks(b->st_dev, b->st_ino, b->st_size, &b->st_blocks);
  b->st_ctim = b->st_mtim;  // view_file_ctime
}
inline void stat_fixups(struct statx* b) {
  {
    uint32_t mode = b->stx_mode;
    uint64_t nlink = b->stx_nlink;
    content_fixups(makedev(b->stx_dev_major, b->stx_dev_minor), b->stx_ino, &mode, &nlink);
    if (b->stx_mask & STATX_MODE) b->stx_mode = (uint16_t)mode;
    if (b->stx_mask & STATX_NLINK) b->stx_nlink = (uint32_t)nlink;
  }
  if (!S_ISREG(b->stx_mode)) return;
  if (b->stx_mask & STATX_BLOCKS)
    dense_blocks(makedev(b->stx_dev_major, b->stx_dev_minor), b->stx_ino, b->stx_size,
                 &b->stx_blocks);
  if ((b->stx_mask & STATX_CTIME) && (b->stx_mask & STATX_MTIME)) b->stx_ctime = b->stx_mtime;
}
// --- listed directories (listing.cc) ------------------------------------------
// The content file behind a name of a listed directory (session.h, listings).
struct ListedTarget {
  char path[kPathMax];  // its path: KEY, or KEY.part when `part`
  size_t part_at;       // where ".part" starts in path
  bool part;
  uint32_t mode;        // the permission bits a program sees
};
// Whether r (under a mount) names something in an unpopulated directory that
// has a listing (asked for now if this process has none): kFile, an entry,
// whose content file t gets; kAbsent, a name the directory does not hold
// (ENOENT, no need to populate); kNo, no listing answers. For kFile the
// caller makes its call on t->path; when that fails with ENOENT, on the
// other name (listed_other_name: completed or not meanwhile); when that fails
// too, the file was evicted: the directory is populated as usual.
enum class Listed { kNo, kFile, kAbsent };
Listed listed_target(const Resolved& r, ListedTarget* t);
void listed_other_name(ListedTarget* t);
// True if the last name a listing answered on this thread had r's directory:
// worth trying listed_target before the call on the view.
bool listed_hint(const Resolved& r);
// A stat of a listed entry, shown as populating would show it: its mode, one
// link, dense blocks while it is being filled, ctime = mtime (view_file_ctime).
template <typename St>
inline void listed_fixups(const ListedTarget& t, St* b) {
  b->st_mode = (b->st_mode & ~07777u) | t.mode;
  b->st_nlink = 1;
  if (t.part && (uint64_t)b->st_blocks < ((uint64_t)b->st_size + 511) / 512) b->st_blocks = (b->st_size + 511) / 512;
  b->st_ctim = b->st_mtim;
}
inline void listed_fixups(const ListedTarget& t, struct statx* b) {
  if (b->stx_mask & STATX_MODE) b->stx_mode = (uint16_t)((b->stx_mode & ~07777u) | t.mode);
  if (b->stx_mask & STATX_NLINK) b->stx_nlink = 1;
  if (t.part && (b->stx_mask & STATX_BLOCKS) && b->stx_blocks < (b->stx_size + 511) / 512)
    b->stx_blocks = (b->stx_size + 511) / 512;
  if ((b->stx_mask & STATX_CTIME) && (b->stx_mask & STATX_MTIME)) b->stx_ctime = b->stx_mtime;
}
// A DIR stream over an unpopulated directory with a listing: served from it
// (wrap_dir.cc). listed_open registers d (fd = dirfd(d)); false: populate it.
// listed_read sets *served when d is such a stream (null then ends it).
bool listed_open(DIR* d, int fd);
struct dirent64* listed_read(DIR* d, bool* served);
bool listed_tell(DIR* d, long* pos);
bool listed_seek(DIR* d, long pos);
void listed_rewind(DIR* d);
void listed_close(DIR* d);
void listed_atfork_child();  // the tables' locks, which another thread may have held

// The view libraries an ELF file in a view needs through its RUNPATH/RPATH or
// ld_library_path (view paths; may be null) (elf.cc): made complete before the
// loader maps them.
int ensure_elf_deps(const char* real_path, const char* ld_library_path);
inline int fd_needs_check(int fd) {
  return (unsigned)fd < (unsigned)kMaxFds ? (int)(g_fds[fd].slot1 | (g_fds[fd].flags & kFdUnchecked))
                                          : (g.presence != nullptr);
}
// Settles an fd noted kFdUnchecked (a directory is populated) and returns its
// slot1 (fds.cc).
uint32_t fd_settle(int fd);
// fd is about to be used as a directory (listed, a dirfd, fchdir): one opened
// without O_DIRECTORY is settled, and so populated, first.
inline void fd_settle_dir(int fd) {
  if ((unsigned)fd < (unsigned)kMaxFds && (g_fds[fd].flags & kFdUnchecked)) fd_settle(fd);
}
// The same with the fd's stat at hand (null: fstat it). True if it is a
// directory, which may have been populated just now: its stat may have changed.
bool fd_settle_as(int fd, const struct stat* st);

// A ':' list of directories (LD_LIBRARY_PATH) with the entries under a mount
// rewritten to their views, into out. Returns its length, 0 if no entry
// changed (out is then a copy), -1 if it does not fit (wrap_exec.cc).
long translate_path_list(const char* list, char* out, size_t cap);

// --- lazy views and shared content files (lazy.cc) ----------------------------
// The presence slot of (dev, ino), any kind, or null.
const vol_presence_file* presence_slot(uint64_t dev, uint64_t ino);
// Has the fetcher populate the view directory open at fd if it is not yet.
// Returns 0 or an errno value.
int populate_dir(int fd);
// Sends the fetcher `op` (VOL_OP_POPULATE, VOL_OP_LIST) about the view
// directory open at fd. Returns 0 or an errno value.
int dir_request(int fd, uint32_t op, vol_response* resp);
// After a call on `path` (relative to dirfd, under a mount) failed with err:
// true if unpopulated directories on its way (symlinks followed) were
// populated, so the call may succeed when tried again.
bool populate_for_retry(int dirfd, const char* path, int err);
// Before creating `path`: its directory is populated. 0, or -1 with errno.
int populate_parent(int dirfd, const char* path);
// Before removing or replacing the directory `path` itself: populated, so
// that it is not taken for empty. 0, or -1 with errno.
int populate_self(int dirfd, const char* path);
// Every directory below `path` populated (for glibc walks that read them out
// of the shim's sight: nftw, ftw, fts), the path to it included. `follow` is
// what the walk does with symlinks: kRoot follows a symlink `path` itself,
// kAll also symlinks to directories below it (each directory entered once, at
// most 64 of them a walk: a symlink past those is not followed).
enum class TreeFollow { kNone, kRoot, kAll };
void populate_tree(int dirfd, const char* path, TreeFollow follow);
// A view file that is the shared cache's content file.
bool is_content_file(const struct stat& st);
// Before changing the file `path` (not following a final symlink): if it is
// a content file, the fetcher replaces it by a private copy (empty: a copy
// without content, for a truncation). 0, or -1 with errno.
int make_private(int dirfd, const char* path, bool empty);
// The same for the file behind fd: returns 1 when fd is a content file that
// now has a private copy at path_out (the change must go there), 0 when fd
// may be changed as it is, -1 with errno on failure.
int make_private_fd(int fd, char* path_out, size_t cap);
// Makes every directory on the way to `path` populated (for callers that
// hand the path to code that opens it out of the shim's sight: exec, dlopen).
void materialize_path(int dirfd, const char* path);
// The lifeline (session.h): set up from $VOL_LIFELINE (a hint; a child that
// lost it finds it again among its fds), recognised, and moved out of the way
// of a dup2 onto its number.
void lifeline_init(const char* env);
bool is_lifeline(long fd);
void lifeline_found(int fd);
int lifeline_move_from(int fd);

// --- IPC with the fetcher (ipc.cc) --------------------------------------------
// Sends one request and waits for its response. Returns 0 or an errno value.
int ipc_call(vol_request* req, size_t path_len, vol_response* resp, int pass = -1);
// VOL_OP_CHANGED of `kind` (enum vol_changed) for a mount path (and the new
// path of a rename). Returns 0 or an errno value.
int notify_changed(const char* mount_path, uint32_t kind = VOL_CHANGED_PATH,
                   const char* new_path = nullptr);
// This process exits normally (VOL_OP_EXIT): what it wrote is as it left it.
void notify_exit();
// Before an exec: the write fds it will close (FD_CLOEXEC) are reported closed.
void notify_cloexec_writes();
// A new process holding inherited write fds reports itself as their writer.
void notify_inherited_writes();
bool is_shim_fd(int fd);   // the IPC socket
int shim_fds(int* out);    // the IPC sockets' fds (at most kConns), how many
void shim_fd_lost(int fd); // fd is about to be replaced (dup2 onto it)
void ipc_atfork_prepare();
void ipc_atfork_parent();
void ipc_atfork_child();

// --- small helpers --------------------------------------------------------------
// Reads at most cap-1 bytes of a small file into buf, NUL-terminated, with raw
// syscalls (safe before libc's wrappers are resolved). Returns the byte count,
// or -1 when the file cannot be opened.
long read_small_file(const char* path, char* buf, size_t cap);
// The same for the file `name` in the session directory.
long read_session_file(const char* name, char* buf, size_t cap);
void say(const char* a, const char* b = nullptr, const char* c = nullptr,
         const char* d = nullptr);  // one line on stderr, "vol: a b c d"

// Processes that may run on this memory under another pid (wrap_fork.cc):
// vfork children now running, and, for good, any child cloned without the
// shim's vfork or fork (clone(2), syscall(SYS_fork…)), which it cannot follow.
extern int g_vforks_running __asm__("vol_shim_vforks_running");  // named for the vfork wrapper
extern int g_foreign_clones;
void note_foreign_clone();  // a child the shim cannot follow was made
// Without such a process, this memory is this process's own: no getpid() on
// the path of every open and close.
inline bool own_process() {
  if ((__atomic_load_n(&g_vforks_running, __ATOMIC_ACQUIRE) |
       __atomic_load_n(&g_foreign_clones, __ATOMIC_ACQUIRE)) == 0)
    return true;
  return (int)raw_getpid() == g.pid;
}

inline void fd_note_resolved(int fd, const Resolved& r, int open_flags) {
  if (fd < 0) return;
  if (r.mount >= 0) fd_note(fd, r.mount, open_flags);
  else if (r.anc >= 0) fd_note_ancestor(fd, r.anc);
  else fd_forget(fd);  // a number once a view fd, closed out of the shim's sight
}

// "/proc/self/fd/N" into out (at least 32 bytes); returns its length.
inline int proc_fd_path(char* out, long fd) {
  memcpy(out, "/proc/self/fd/", 14);
  char num[20];
  int k = 0;
  for (long v = fd; k == 0 || v; v /= 10) num[k++] = (char)('0' + v % 10);
  for (int i = 0; i < k; i++) out[14 + i] = num[k - 1 - i];
  out[14 + k] = '\0';
  return 14 + k;
}

}  // namespace vol::shim

#endif  // VOL_SHIM_SHIM_H_
