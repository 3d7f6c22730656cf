// New programs and ended ones: exec, posix_spawn and _exit. Each exec
// translates the binary's path, makes every view file the child can read
// without the shim complete, and puts the session's environment back if the
// program stripped it.
//
// Invariant: nothing here allocates or writes shared state, because exec is
// often called in a vfork child that shares the parent's memory. The child's
// environment is built on the stack.
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

using namespace vol::shim;

namespace {

constexpr int kEnvExtra = 3;

// A view file's inode is the shared cache's content file: while another
// session's fetcher writes a chunk into it, exec says ETXTBSY. That lasts a
// chunk's write; the program must not see it. Waits up to about a second,
// then lets the error through (something else holds the file for writing).
bool busy_retry(const Resolved& r, int err, int* tries) {
  if (err != ETXTBSY || r.mount < 0 || ++*tries > 100) return false;
  struct timespec ts = {0, 10 * 1000 * 1000};
  sys(SYS_nanosleep, &ts, nullptr);
  return true;
}

bool env_has(const char* entry, const char* name, size_t n) {
  return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

// Copies envp into out (capacity n + kEnvExtra + 1) with VOL_SESSION, VOL_SHIM
// and the shim in LD_PRELOAD put back where missing. bufs holds new strings.
struct EnvBufs {
  char session[kPathMax + 16];
  char shim[kPathMax + 16];
  char preload[2 * kPathMax + 16];
  char llp[2 * kPathMax + 32];  // LD_LIBRARY_PATH with mount entries as views
  const char* llp_value;        // what the child's loader will search, or ""
};

// "LD_LIBRARY_PATH=…" with entries under a mount rewritten to their views (the
// loader opens them itself, before any shim runs). Null if nothing changed.
const char* translate_llp(const char* entry, EnvBufs* b) {
  memcpy(b->llp, "LD_LIBRARY_PATH=", 16);
  long n = translate_path_list(entry + 16, b->llp + 16, sizeof b->llp - 16);
  return n > 0 ? b->llp : nullptr;
}
void fix_env(char* const* envp, char** out, EnvBufs* b) {
  int n = 0;
  bool has_session = false, has_shim = false, has_preload = false;
  size_t shim_len = strlen(g.shim_path);
  b->llp_value = "";
  for (char* const* e = envp; e && *e; e++) {
    char* v = *e;
    if (env_has(v, "LD_LIBRARY_PATH", 15)) {
      if (const char* t = translate_llp(v, b)) v = const_cast<char*>(t);
      b->llp_value = v + 16;
    }
    if (env_has(v, VOL_SESSION_ENV, sizeof VOL_SESSION_ENV - 1)) has_session = true;
    if (env_has(v, VOL_SHIM_ENV, sizeof VOL_SHIM_ENV - 1)) has_shim = true;
    if (env_has(v, "LD_PRELOAD", 10)) {
      has_preload = true;
      if (shim_len && !strstr(v + 11, g.shim_path) && !strstr(v + 11, "libvolshim")) {
        size_t old = strlen(v + 11);
        if (11 + shim_len + 1 + old + 1 <= sizeof b->preload) {
          memcpy(b->preload, "LD_PRELOAD=", 11);
          memcpy(b->preload + 11, g.shim_path, shim_len);
          b->preload[11 + shim_len] = ':';
          memcpy(b->preload + 12 + shim_len, v + 11, old + 1);
          v = b->preload;
        }
      }
    }
    out[n++] = v;
  }
  if (!has_session) {
    path_concat(b->session, sizeof b->session, "VOL_SESSION=", 12, g.session);
    out[n++] = b->session;
  }
  if (!has_shim && shim_len) {
    path_concat(b->shim, sizeof b->shim, "VOL_SHIM=", 9, g.shim_path);
    out[n++] = b->shim;
  }
  if (!has_preload && shim_len) {
    path_concat(b->preload, sizeof b->preload, "LD_PRELOAD=", 11, g.shim_path);
    out[n++] = b->preload;
  }
  out[n] = nullptr;
}

int env_count(char* const* envp) {
  int n = 0;
  while (envp && envp[n]) n++;
  return n;
}

// What every exec and spawn does before the real call: the binary and every
// inherited incomplete fd are made complete (the child reads them without us).
// True if the ':' list names a directory in a view.
bool has_view_dir(const char* list) {
  for (const char* p = list; p && *p;) {
    const char* end = strchrnul(p, ':');
    for (int i = 0; i < g.mounts.count; i++) {
      const Mount& m = g.mounts.m[i];
      if ((size_t)(end - p) >= m.view_len && !strncmp(p, m.view, m.view_len) &&
          (p[m.view_len] == '/' || p + m.view_len == end))
        return true;
    }
    if (!*end) break;
    p = end + 1;
  }
  return false;
}

bool before_exec(const Resolved& r, const char* llp) {
  if (r.mount >= 0) materialize_path(r.dirfd, r.path);  // lazy views: the kernel looks it up itself
  if (r.mount >= 0 && ensure_path_at(r.dirfd, r.path) < 0) return false;
  // The child's loader maps the binary's libraries itself: those it will find
  // in a view must be complete (a host binary too, if LD_LIBRARY_PATH names a view).
  if (r.mount >= 0 || has_view_dir(llp)) {
    const char* path = r.path;
    char abs[kPathMax];
    if (path[0] != '/' && r.dirfd != AT_FDCWD) {  // $ORIGIN needs where it is
      char link[32];
      proc_fd_path(link, r.dirfd);
      long n = sys(SYS_readlinkat, AT_FDCWD, link, abs, sizeof abs - 1);
      if (n <= 0) return ensure_inherited() == 0;
      abs[n] = '\0';
      if (path_join(abs, sizeof abs, abs, path) < 0) return ensure_inherited() == 0;
      path = abs;
    }
    if (ensure_elf_deps(path, llp) < 0) return false;
  }
  return ensure_inherited() == 0;
}

}  // namespace

long vol::shim::translate_path_list(const char* list, char* out, size_t cap) {
  bool any = false;
  size_t k = 0;
  for (const char* p = list;; p++) {
    const char* end = strchrnul(p, ':');
    size_t n = (size_t)(end - p);
    char dir[kPathMax], view[kPathMax];
    const char* use = p;
    size_t use_n = n;
    if (n && n < sizeof dir && p[0] == '/') {
      memcpy(dir, p, n);
      dir[n] = '\0';
      int mount = -1;
      if (translate_abs(g.mounts, dir, view, sizeof view, &mount) == Xlate::kMount) {
        use = view;
        use_n = strlen(view);
        any = true;
      }
    }
    if (k + use_n + 2 > cap) return -1;
    memcpy(out + k, use, use_n);
    k += use_n;
    if (!*end) break;
    out[k++] = ':';
    p = end;
  }
  out[k] = '\0';
  return any ? (long)k : 0;
}

bool script_argv(const Resolved& script, const char* path, char* const argv[], char* head,
                 size_t cap, char** out, Resolved* ri, const char* llp);
int argv_count(char* const argv[]);

VOL_WRAPPER(int, execve, (const char* path, char* const argv[], char* const envp[])) {
  if (!g.active) return VOL_REAL(execve)(path, argv, envp);
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return -1;
  char* env[env_count(envp) + kEnvExtra + 1];
  EnvBufs bufs;
  fix_env(envp, env, &bufs);
  if (!before_exec(r, bufs.llp_value)) return -1;
  notify_cloexec_writes();
  int tries = 0;
  do VOL_REAL(execve)(r.path, argv, env);
  while (busy_retry(r, errno, &tries));
  if (errno == ENOENT && sys(SYS_faccessat, AT_FDCWD, r.path, F_OK, 0) == 0) {
    char head[kPathMax];
    char* nargv[argv_count(argv) + 3];
    Resolved ri;
    if (script_argv(r, path, argv, head, sizeof head, nargv, &ri, bufs.llp_value))
      VOL_REAL(execve)(ri.path, nargv, env);
    errno = ENOENT;
  }
  return -1;
}

// A script whose "#!" interpreter is on a mount (a venv created on a volume:
// #!/mnt/x/venv/bin/python): the kernel cannot find the interpreter and says
// ENOENT. Then the shim runs the interpreter itself, as the kernel would:
// INTERP [ARG] SCRIPT ARGS…. script_argv fills `out` (room for argc + 3) and
// `ri` (the interpreter, resolved and made ready); false if it does not apply.
bool script_argv(const Resolved& script, const char* path, char* const argv[], char* head,
                 size_t cap, char** out, Resolved* ri, const char* llp) {
  long n = read_small_file(script.path, head, cap);
  if (n < 3 || head[0] != '#' || head[1] != '!') return false;
  char* line_end = strchr(head, '\n');
  if (!line_end) return false;
  *line_end = '\0';
  char* interp = head + 2;
  while (*interp == ' ' || *interp == '\t') interp++;
  char* arg = interp + strcspn(interp, " \t");
  if (*arg) {
    *arg++ = '\0';
    while (*arg == ' ' || *arg == '\t') arg++;
    for (char* e = arg + strlen(arg); e > arg && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r');)
      *--e = '\0';
  }
  if (!resolve(AT_FDCWD, interp, ri) || ri->mount < 0 || !before_exec(*ri, llp)) return false;
  int k = 0;
  out[k++] = interp;
  if (*arg) out[k++] = arg;
  out[k++] = const_cast<char*>(path);
  for (int i = 1; argv[i - 1] && argv[i]; i++) out[k++] = argv[i];
  out[k] = nullptr;
  return true;
}

int argv_count(char* const argv[]) {
  int n = 0;
  while (argv && argv[n]) n++;
  return n;
}

VOL_WRAPPER(int, execveat, (int dirfd, const char* path, char* const argv[], char* const envp[], int flags)) {
  if (!g.active) return VOL_REAL(execveat)(dirfd, path, argv, envp, flags);
  Resolved r;
  if (!resolve(dirfd, path, &r)) return -1;
  if ((flags & AT_EMPTY_PATH) && path && !path[0] && fd_needs_check(dirfd) &&
      ensure_all(dirfd) < 0)
    return -1;
  char* env[env_count(envp) + kEnvExtra + 1];
  EnvBufs bufs;
  fix_env(envp, env, &bufs);
  if (!before_exec(r, bufs.llp_value)) return -1;
  notify_cloexec_writes();
  int tries = 0;
  do VOL_REAL(execveat)(dirfd, r.path, argv, env, flags);
  while (busy_retry(r, errno, &tries));
  return -1;
}

VOL_WRAPPER(int, fexecve, (int fd, char* const argv[], char* const envp[])) {
  if (!g.active) return VOL_REAL(fexecve)(fd, argv, envp);
  if (fd_needs_check(fd) && ensure_all(fd) < 0) return -1;
  if (ensure_inherited() < 0) return -1;
  char* env[env_count(envp) + kEnvExtra + 1];
  EnvBufs bufs;
  fix_env(envp, env, &bufs);
  notify_cloexec_writes();
  return VOL_REAL(fexecve)(fd, argv, env);
}

VOL_WRAPPER(int, execv, (const char* path, char* const argv[])) {
  return vol_w_execve(path, argv, environ);
}

// A process that ends with _exit (a fork child, Python's os._exit) runs no
// destructor: it says it exits normally here (init.cc's fini for exit).
VOL_WRAPPER(void, _exit, (int status)) {
  notify_exit();
  VOL_REAL(_exit)(status);
  __builtin_unreachable();
}
VOL_WRAPPER(void, _Exit, (int status)) {
  notify_exit();
  VOL_REAL(_Exit)(status);
  __builtin_unreachable();
}

// PATH search, as glibc's execvpe does it, but through the shim's execve so that
// PATH entries under a mount work.
VOL_WRAPPER(int, execvpe, (const char* file, char* const argv[], char* const envp[])) {
  if (!g.active) return VOL_REAL(execvpe)(file, argv, envp);
  if (!file || !*file || strchr(file, '/')) return vol_w_execve(file, argv, envp);
  const char* path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  bool eacces = false;
  size_t flen = strlen(file);
  for (const char* p = path;; p++) {
    const char* end = strchrnul(p, ':');
    char full[kPathMax];
    size_t dlen = (size_t)(end - p);
    if (dlen + flen + 2 <= sizeof full) {
      memcpy(full, p, dlen);
      size_t k = dlen;
      if (k) full[k++] = '/';
      memcpy(full + k, file, flen + 1);
      vol_w_execve(full, argv, envp);
      if (errno == ENOEXEC) {
        // A script without #!: glibc runs it with /bin/sh.
        int argc = 0;
        while (argv[argc]) argc++;
        char* sh_argv[argc + 2];
        sh_argv[0] = const_cast<char*>("/bin/sh");
        sh_argv[1] = full;
        for (int i = 1; i <= argc; i++) sh_argv[i + 1] = argv[i];
        vol_w_execve("/bin/sh", sh_argv, envp);
        return -1;
      }
      if (errno == EACCES) eacces = true;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
               errno != ETIMEDOUT)
        return -1;
    }
    if (!*end) break;
    p = end;
  }
  errno = eacces ? EACCES : ENOENT;
  return -1;
}
VOL_WRAPPER(int, execvp, (const char* file, char* const argv[])) {
  return vol_w_execvpe(file, argv, environ);
}

// execl*: gather the variadic argv on the stack.
#define VOL_GATHER_ARGV(LAST)                          \
  va_list ap;                                          \
  va_start(ap, arg);                                   \
  int argc = 1;                                        \
  {                                                    \
    va_list c;                                         \
    va_copy(c, ap);                                    \
    while (va_arg(c, char*)) argc++;                   \
    va_end(c);                                         \
  }                                                    \
  char* argv[argc + 1];                                \
  argv[0] = const_cast<char*>(arg);                    \
  for (int i = 1; i <= argc; i++) argv[i] = va_arg(ap, char*); \
  LAST;                                                \
  va_end(ap)

using execl_fn = int (*)(const char*, const char*, ...);
VOL_WRAPPER_T(int, execl, (const char* path, const char* arg, ...), execl_fn) {
  VOL_GATHER_ARGV((void)0);
  return vol_w_execve(path, argv, environ);
}
VOL_WRAPPER_T(int, execlp, (const char* file, const char* arg, ...), execl_fn) {
  VOL_GATHER_ARGV((void)0);
  return vol_w_execvpe(file, argv, environ);
}
VOL_WRAPPER_T(int, execle, (const char* path, const char* arg, ...), execl_fn) {
  char* const* envp;
  VOL_GATHER_ARGV(envp = va_arg(ap, char* const*));
  return vol_w_execve(path, argv, envp);
}

// posix_spawn: the same as exec, done before the real spawn.
VOL_WRAPPER(int, posix_spawn,
            (pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
             const posix_spawnattr_t* at, char* const argv[], char* const envp[])) {
  if (!g.active) return VOL_REAL(posix_spawn)(pid, path, fa, at, argv, envp);
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return errno;
  char* env[env_count(envp) + kEnvExtra + 1];
  EnvBufs bufs;
  fix_env(envp, env, &bufs);
  if (!before_exec(r, bufs.llp_value)) return errno;
  int ret, tries = 0;
  do ret = VOL_REAL(posix_spawn)(pid, r.path, fa, at, argv, env);
  while (busy_retry(r, ret, &tries));
  if (ret == ENOENT && sys(SYS_faccessat, AT_FDCWD, r.path, F_OK, 0) == 0) {
    char head[kPathMax];
    char* nargv[argv_count(argv) + 3];
    Resolved ri;
    if (script_argv(r, path, argv, head, sizeof head, nargv, &ri, bufs.llp_value))
      ret = VOL_REAL(posix_spawn)(pid, ri.path, fa, at, nargv, env);
  }
  return ret;
}
VOL_WRAPPER(int, posix_spawnp,
            (pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
             const posix_spawnattr_t* at, char* const argv[], char* const envp[])) {
  if (!g.active) return VOL_REAL(posix_spawnp)(pid, file, fa, at, argv, envp);
  if (strchr(file, '/')) return vol_w_posix_spawn(pid, file, fa, at, argv, envp);
  // A PATH entry under a mount needs translating; glibc's own search does the rest.
  const char* path = getenv("PATH");
  for (const char* p = path; p && *p;) {
    const char* end = strchrnul(p, ':');
    char full[kPathMax];
    size_t dlen = (size_t)(end - p);
    if (dlen && p[0] == '/' && dlen + strlen(file) + 2 <= sizeof full) {
      memcpy(full, p, dlen);
      full[dlen] = '/';
      strcpy(full + dlen + 1, file);
      Resolved r;
      if (resolve(AT_FDCWD, full, &r) && r.mount >= 0 && sys(SYS_access, r.path, X_OK) == 0)
        return vol_w_posix_spawn(pid, full, fa, at, argv, envp);
      if (mount_of(g.mounts, full) < 0 && sys(SYS_access, full, X_OK) == 0) break;
    }
    if (!*end) break;
    p = end + 1;
  }
  char* env[env_count(envp) + kEnvExtra + 1];
  EnvBufs bufs;
  fix_env(envp, env, &bufs);
  if (ensure_inherited() < 0) return errno;
  return VOL_REAL(posix_spawnp)(pid, file, fa, at, argv, env);
}
// File actions run inside glibc's spawn, out of the shim's sight: translate now.
VOL_WRAPPER(int, posix_spawn_file_actions_addopen,
            (posix_spawn_file_actions_t* fa, int fd, const char* path, int flags, mode_t mode)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return errno;
  if (r.mount >= 0 && ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC))) &&
      !may_write(r))
    return errno;
  return VOL_REAL(posix_spawn_file_actions_addopen)(fa, fd, r.path, flags, mode);
}
VOL_WRAPPER(int, posix_spawn_file_actions_addchdir_np,
            (posix_spawn_file_actions_t* fa, const char* path)) {
  Resolved r;
  if (!resolve(AT_FDCWD, path, &r)) return errno;
  return VOL_REAL(posix_spawn_file_actions_addchdir_np)(fa, r.path);
}

