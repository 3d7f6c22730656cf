/* The calls that reach a mount through the shim's view fds (stat, lstat,
 * fstatat, statx, access, faccessat, open, openat) print the same as on local
 * disk, also after the program closes every fd (close loop, close_range,
 * closefrom), dup2s over every high fd, has its high fds closed or replaced
 * behind libc's back (raw system calls), in threads, and in children: fork,
 * fork+exec, vfork+exec, posix_spawn.
 *
 *   viewfd ROOT       ROOT holds small/f1, walk/c/link (-> ../a/nums), walk/a/b/x
 *                     and abs (an absolute symlink to ROOT/small/f1)
 *   viewfd ROOT check (what each child runs) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;
static const char* root;
static char self[4096];

static void path(char* out, const char* rel) { snprintf(out, 4096, "%s/%s", root, rel); }

/* Sizes of regular files only: a symlink's is its target's length, which
 * differs between the two roots, and a directory's is the file system's. */
static long long reg_size(unsigned mode, long long size) { return S_ISREG(mode) ? size : -1; }

static void say_stat(const char* what, const char* rel, int rc, const struct stat* st) {
  if (rc != 0) printf("%s %s: %s\n", what, rel, strerror(errno));
  else printf("%s %s: mode %o size %lld\n", what, rel, (unsigned)st->st_mode, reg_size(st->st_mode, st->st_size));
}

/* One round of every call on every path, into stdout (one line each). */
static void check(const char* tag) {
  static const char* rels[] = {"small/f1", "walk/c/link", "abs", "walk", "walk/a/b/x", "walk/a/../a/b/x",
                               "walk/a/b/../../../small/f1", "walk/a/b/x/y", "nope", "small/", "."};
  printf("-- %s\n", tag);
  int rootfd = open(root, O_RDONLY | O_DIRECTORY);
  for (size_t i = 0; i < sizeof rels / sizeof *rels; i++) {
    const char* rel = rels[i];
    char p[4096];
    path(p, rel);
    struct stat st;
    int rc = stat(p, &st);
    say_stat("stat", rel, rc, &st);
    rc = lstat(p, &st);
    say_stat("lstat", rel, rc, &st);
    rc = fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW);
    say_stat("fstatat nofollow", rel, rc, &st);
    rc = fstatat(rootfd, rel, &st, 0);
    say_stat("fstatat rootfd", rel, rc, &st);
    struct statx sx;
    rc = statx(AT_FDCWD, p, 0, STATX_BASIC_STATS, &sx);
    if (rc != 0) printf("statx %s: %s\n", rel, strerror(errno));
    else printf("statx %s: mode %o size %lld\n", rel, (unsigned)sx.stx_mode, reg_size(sx.stx_mode, (long long)sx.stx_size));
    rc = access(p, R_OK);
    printf("access %s: %s\n", rel, rc ? strerror(errno) : "ok");
    rc = faccessat(AT_FDCWD, p, R_OK, AT_SYMLINK_NOFOLLOW);
    printf("faccessat %s: %s\n", rel, rc ? strerror(errno) : "ok");
    static const int flags[] = {O_RDONLY, O_RDONLY | O_NOFOLLOW, O_RDONLY | O_DIRECTORY, O_PATH | O_NOFOLLOW};
    for (size_t f = 0; f < sizeof flags / sizeof *flags; f++) {
      int fd = open(p, flags[f] | O_CLOEXEC);
      if (fd < 0) {
        printf("open %s %#x: %s\n", rel, flags[f], strerror(errno));
        continue;
      }
      char link[64], target[4096];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(link, target, sizeof target - 1);
      target[n > 0 ? n : 0] = '\0';
      char buf[8] = "";
      ssize_t got = (flags[f] & O_PATH) ? 0 : read(fd, buf, sizeof buf - 1);
      printf("open %s %#x: %s, read %zd\n", rel, flags[f], target, got);
      close(fd);
    }
  }
  close(rootfd);
  fflush(stdout);
}

static void* thread_check(void* arg) {
  char p[4096];
  struct stat st;
  path(p, "small/f1");
  for (int i = 0; i < 2000; i++) {
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || stat(p, &st) != 0 || st.st_size != 4) {
      printf("thread %ld: round %d failed: %s\n", (long)arg, i, strerror(errno));
      return NULL;
    }
    close(fd);
  }
  return NULL;
}

static void wait_child(pid_t pid, const char* what) {
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
    printf("%s failed\n", what);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  root = argv[1];
  if (argc > 2) {
    check(argv[2]);
    return 0;
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 2;
  self[n] = '\0';
  check("start");

  for (int fd = 3; fd < 1024; fd++) close(fd);
  check("after closing fds 3-1023 one by one");
  close_range(3, ~0U, 0);
  check("after close_range(3, ~0U)");
  closefrom(3);
  check("after closefrom(3)");
  for (int fd = 700; fd < 1024; fd++) dup2(1, fd);
  check("after dup2(1, every fd 700-1023)");
  for (int fd = 700; fd < 1024; fd++) close(fd);
  check("after closing them");

  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread_check, (void*)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  printf("-- threads done\n");

  pid_t pid = fork();
  if (pid == 0) {
    check("fork child");
    _exit(0);
  }
  wait_child(pid, "fork child");
  char* args[] = {self, (char*)root, "fork+exec child", NULL};
  pid = fork();
  if (pid == 0) {
    execv(self, args);
    _exit(127);
  }
  wait_child(pid, "fork+exec child");
  args[2] = "vfork+exec child";
  pid = vfork();
  if (pid == 0) {
    execv(self, args);
    _exit(127);
  }
  wait_child(pid, "vfork+exec child");
  args[2] = "posix_spawn child";
  if (posix_spawn(&pid, self, NULL, NULL, args, environ) != 0) pid = -1;
  wait_child(pid, "posix_spawn child");

  /* Behind libc's back: every fd from 800 closed, then a file put there. */
  syscall(SYS_close_range, 800, ~0U, 0);
  check("after raw close_range(800, ~0U)");
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (int fd = 800; fd < 1024; fd++) syscall(SYS_dup3, devnull, fd, O_CLOEXEC);
  check("after raw dup3 of /dev/null onto every fd 800-1023");
  return 0;
}
