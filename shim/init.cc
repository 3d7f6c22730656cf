// Start-up of libvolshim.so: reads the session ($VOL_SESSION/mounts and the
// presence table) with raw system calls into static buffers, derives the cwd
// state, and notes fds inherited across exec. Outside a session it does
// nothing and every wrapper passes straight through.
//
// Invariant: init() runs once, before main, in the process that loaded the
// shim; it allocates nothing, and costs a few system calls per mount and per
// inherited fd (well under a millisecond).
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "shim.h"

namespace vol::shim {

State g;
FdEntry g_fds[kMaxFds];
int g_fd_max;

__thread int t_resolving __attribute__((tls_model("initial-exec")));

namespace {

void copy_env(char* out, const char* name) {
  const char* v = getenv(name);
  if (v && strlen(v) < kPathMax) memcpy(out, v, strlen(v) + 1);
}

// Parses "MOUNT\tVIEW\tFLAGS\n" lines. Malformed lines are reported and skipped.
void parse_mounts(char* text) {
  for (char* line = text; *line;) {
    char* end = strchr(line, '\n');
    if (end) *end = '\0';
    char* tab1 = strchr(line, '\t');
    char* tab2 = tab1 ? strchr(tab1 + 1, '\t') : nullptr;
    if (*line && (!tab1 || !tab2 || line[0] != '/' || tab1[1] != '/')) {
      say("bad line in", g.session, "/mounts (want MOUNT<tab>VIEW<tab>ro|rw):", line);
    } else if (*line && g.mounts.count < kMaxMounts) {
      *tab1 = *tab2 = '\0';
      Mount& m = g.mounts.m[g.mounts.count];
      size_t ml = strlen(line), vl = strlen(tab1 + 1);
      while (ml > 1 && line[ml - 1] == '/') line[--ml] = '\0';
      while (vl > 1 && tab1[vl] == '/') tab1[vl--] = '\0';
      if (ml > 1 && ml < kPathMax && vl < kPathMax) {
        memcpy(m.mount, line, ml + 1);
        memcpy(m.view, tab1 + 1, vl + 1);
        m.mount_len = ml;
        m.view_len = vl;
        m.rw = strncmp(tab2 + 1, "rw", 2) == 0;
        g.mounts.count++;
      }
    }
    if (!end) break;
    line = end + 1;
  }
}

void map_presence() {
  char path[kPathMax];
  if (path_join(path, sizeof path, g.session, VOL_SESSION_PRESENCE) < 0) return;
  long fd = sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // no presence table: every view file is complete
  struct stat st;
  if (sys(SYS_fstat, fd, &st) == 0 && st.st_size >= (long)sizeof(vol_presence_header)) {
    long p = sys(SYS_mmap, 0, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p > 0 || p < -4095) {
      auto* h = reinterpret_cast<const vol_presence_header*>(p);
      if (h->magic == VOL_PRESENCE_MAGIC && h->version == VOL_PRESENCE_VERSION) {
        g.presence = reinterpret_cast<const unsigned char*>(p);
        g.presence_len = (size_t)st.st_size;
      } else {
        say("presence table of session", g.session, "has an unknown format; is vol older than its shim?");
        sys(SYS_munmap, p, st.st_size);
      }
    }
  }
  sys(SYS_close, fd);
}

// True if the session's `features` file lists `word` on a line of its own.
bool has_feature(const char* word) {
  char text[1024];
  if (read_session_file(VOL_SESSION_FEATURES, text, sizeof text) <= 0) return false;
  size_t wl = strlen(word);
  for (char* line = text; line && *line;) {
    char* end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len == wl && memcmp(line, word, wl) == 0) return true;
    line = end ? end + 1 : nullptr;
  }
  return false;
}

void atfork_prepare() { ipc_atfork_prepare(); }
void atfork_parent() { ipc_atfork_parent(); }
void atfork_child() {
  g.pid = raw_getpid();
  g_vforks_running = 0;  // the parent's; this process has only the forking thread
  listed_atfork_child();
  ipc_atfork_child();
  notify_inherited_writes();
}

// A process that exits normally leaves what it wrote as it meant to: it
// tells the fetcher, which otherwise takes its open files as cut short.
__attribute__((destructor)) void fini() { notify_exit(); }

__attribute__((constructor)) void init() {
  const char* session = getenv(VOL_SESSION_ENV);
  if (!session || session[0] != '/' || strlen(session) >= kPathMax - 16) return;
  memcpy(g.session, session, strlen(session) + 1);
  g.pid = raw_getpid();

  static char text[64 * 1024];
  if (read_session_file(VOL_SESSION_MOUNTS, text, sizeof text) < 0) {
    say("session", g.session, "has no mounts file; running without mounts");
    return;
  }
  parse_mounts(text);
  if (g.mounts.count == 0) return;
  build_ancestors(g.mounts);
  long n = path_join(g.mounts.synth, sizeof g.mounts.synth, g.session, VOL_SESSION_PARENTS);
  g.mounts.synth_len = n > 0 ? (size_t)n : 0;

  copy_env(g.shim_path, VOL_SHIM_ENV);
  copy_env(g.ld_preload, "LD_PRELOAD");
  if (!g.shim_path[0]) {
    // No $VOL_SHIM: take our own entry from LD_PRELOAD.
    for (char* s = g.ld_preload; *s;) {
      size_t len = strcspn(s, ": ");
      if (len && memmem(s, len, "libvolshim", 10) && len < kPathMax) {
        memcpy(g.shim_path, s, len);
        g.shim_path[len] = '\0';
        break;
      }
      s += len + (s[len] != '\0');
    }
  }
  const char* w = getenv("VOL_SHIM_WRITES");
  g.writes = (w && w[0] == '1') || has_feature(VOL_FEATURE_WRITES);
  map_presence();
  g.active = true;
  lifeline_init(getenv(VOL_LIFELINE_ENV));
  update_cwd();
  fd_scan_inherited();
  view_fds_open();
  notify_inherited_writes();
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

}  // namespace

void* resolve_real(void** slot, const char* name) {
  t_resolving++;
  void* p = dlsym(RTLD_NEXT, name);
  t_resolving--;
  if (!p) {
    say("cannot find the real", name, "in libc; aborting");
    abort();
  }
  __atomic_store_n(slot, p, __ATOMIC_RELAXED);
  return p;
}

void say(const char* a, const char* b, const char* c, const char* d) {
  char line[1024];
  size_t n = 0;
  const char* parts[] = {"vol: ", a, b ? " " : nullptr, b, c ? " " : nullptr, c,
                         d ? " " : nullptr, d};
  for (const char* p : parts) {
    if (!p) continue;
    size_t l = strlen(p);
    if (n + l > sizeof line - 2) l = sizeof line - 2 - n;
    memcpy(line + n, p, l);
    n += l;
  }
  line[n++] = '\n';
  sys(SYS_write, 2, line, n);
}

long read_small_file(const char* path, char* buf, size_t cap) {
  long fd = sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long n = 0, r;
  while (n < (long)cap - 1 && (r = sys(SYS_read, fd, buf + n, cap - 1 - n)) > 0) n += r;
  sys(SYS_close, fd);
  buf[n] = '\0';
  return n;
}

long read_session_file(const char* name, char* buf, size_t cap) {
  char path[kPathMax];
  if (path_join(path, sizeof path, g.session, name) < 0) return -1;
  return read_small_file(path, buf, cap);
}

}  // namespace vol::shim
