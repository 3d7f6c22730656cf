// libc entry points the compatibility test compares between a local directory
// and a mount: `compat CASE ARGS…` prints what the call returned. Paths in the
// output are as the program sees them.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int by_name(const struct dirent** a, const struct dirent** b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}
static int not_dot(const struct dirent* d) { return d->d_name[0] != '.'; }

// FNV-1a of a file read by name (relative to the cwd when not absolute).
static unsigned long long sum(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  unsigned long long h = 1469598103934665603ULL;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
  close(fd);
  return h;
}

static int print_walk(const char* path, const struct stat* sb, int type, struct FTW* f) {
  printf("%d %d %s base=%s", f->level, type, path, path + f->base);
  if (type == FTW_F) printf(" sum=%llx", sum(path + f->base));  // FTW_CHDIR: relative
  printf("\n");
  return 0;
}
static int print_ftw(const char* path, const struct stat* sb, int type) {
  printf("%d %s %lld\n", type, path, type == FTW_F ? (long long)sb->st_size : 0LL);
  return 0;
}
static int by_fts_name(const FTSENT** a, const FTSENT** b) {
  return strcmp((*a)->fts_name, (*b)->fts_name);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* c = argv[1];
  if (!strcmp(c, "remove")) {  // remove PATH…
    for (int i = 2; i < argc; i++) {
      int rc = remove(argv[i]);
      printf("remove %s: %d %s\n", argv[i], rc, rc ? strerror(errno) : "");
    }
  } else if (!strcmp(c, "scandirat")) {  // scandirat DIR NAME
    int dir = open(argv[2], O_RDONLY | O_DIRECTORY);
    struct dirent** list;
    int n = scandirat(dir, argv[3], &list, not_dot, by_name);
    printf("scandirat: %d\n", n);
    for (int i = 0; i < n; i++) printf("  %s\n", list[i]->d_name);
    struct dirent64** list64;
    n = scandirat64(dir, argv[3], &list64, NULL, NULL);
    printf("scandirat64: %d\n", n);
  } else if (!strcmp(c, "lchmod")) {  // lchmod PATH MODE
    int rc = lchmod(argv[2], (mode_t)strtol(argv[3], NULL, 8));
    struct stat st;
    stat(argv[2], &st);
    printf("lchmod: %d %s mode %o\n", rc, rc ? strerror(errno) : "", st.st_mode & 07777);
  } else if (!strcmp(c, "getwd")) {  // getwd DIR
    if (chdir(argv[2]) != 0) perror("chdir");
    char buf[PATH_MAX];
    printf("getwd: %s\n", getwd(buf));
    char* cur = get_current_dir_name();
    printf("get_current_dir_name: %s\n", cur);
  } else if (!strcmp(c, "tempnam")) {  // tempnam DIR PFX
    char* t = tempnam(argv[2], argv[3]);
    if (!t) return printf("tempnam: NULL %s\n", strerror(errno)), 0;
    char* slash = strrchr(t, '/');
    *slash = '\0';
    printf("tempnam: dir %s, prefix %.*s, exists %d\n", t, (int)strlen(argv[3]), slash + 1,
           access(t, F_OK) == 0);
  } else if (!strcmp(c, "fts")) {  // fts ROOT [nochdir]
    char* roots[] = {argv[2], NULL};
    FTS* fts = fts_open(roots, FTS_PHYSICAL | (argc > 3 ? FTS_NOCHDIR : 0), by_fts_name);
    FTSENT* e;
    while ((e = fts_read(fts))) {
      if (e->fts_info == FTS_DP) continue;
      printf("%d %s%s name=%s", e->fts_level, e->fts_path,
             strlen(e->fts_path) == e->fts_pathlen ? "" : " (fts_pathlen wrong)",
             e->fts_level ? e->fts_name : "-");
      if (e->fts_info == FTS_F) printf(" sum=%llx", sum(e->fts_accpath));
      printf("\n");
    }
    fts_close(fts);
  } else if (!strcmp(c, "ftw")) {  // ftw ROOT
    return ftw(argv[2], print_ftw, 8);
  } else if (!strcmp(c, "nftw")) {  // nftw ROOT: FTW_CHDIR, files read by their base name
    return nftw(argv[2], print_walk, 8, FTW_PHYS | FTW_CHDIR);
  } else if (!strcmp(c, "handle")) {  // handle PATH
    struct file_handle* h = malloc(sizeof *h + MAX_HANDLE_SZ);
    h->handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    int rc = name_to_handle_at(AT_FDCWD, argv[2], h, &mount_id, 0);
    printf("name_to_handle_at: %d %s\n", rc, rc ? strerror(errno) : "");
  } else if (!strcmp(c, "openat2")) {  // openat2 PATH: its content through syscall()
    struct open_how how = {.flags = O_RDONLY};
    long fd = syscall(SYS_openat2, AT_FDCWD, argv[2], &how, sizeof how);
    if (fd < 0) return printf("openat2: %s\n", strerror(errno)), 0;
    printf("openat2: sum=%llx\n", sum(argv[2]));
    char buf[64] = "";
    ssize_t n = read((int)fd, buf, sizeof buf - 1);
    printf("openat2 read %zd: %s\n", n, buf);
  } else if (!strcmp(c, "execveat")) {  // execveat DIR NAME ARG: through syscall()
    int dir = open(argv[2], O_RDONLY | O_DIRECTORY);
    char* args[] = {argv[3], argv[4], NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      syscall(SYS_execveat, dir, argv[3], args, environ, 0);
      printf("execveat: %s\n", strerror(errno));
      _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("execveat exit %d\n", WEXITSTATUS(st));
  } else if (!strcmp(c, "tmpfile")) {  // tmpfile DIR NAME: O_TMPFILE, then linkat by /proc/self/fd
    int fd = open(argv[2], O_TMPFILE | O_WRONLY, 0644);
    if (fd < 0) return printf("O_TMPFILE: %s\n", strerror(errno)), 0;
    if (write(fd, "made anonymous\n", 15) != 15) return 1;
    char proc[64], to[PATH_MAX];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    snprintf(to, sizeof to, "%s/%s", argv[2], argv[3]);
    int rc = linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW);
    printf("linkat: %d %s sum=%llx\n", rc, rc ? strerror(errno) : "", sum(to));
  } else if (!strcmp(c, "dlopen")) {  // dlopen NAME [SYMBOL]
    void* h = dlopen(argv[2], RTLD_NOW);
    if (!h) return printf("dlopen: %s\n", dlerror()), 0;
    if (argc > 3) {
      int (*f)(void) = (int (*)(void))dlsym(h, argv[3]);
      printf("dlopen: %s() = %d\n", argv[3], f ? f() : -1);
      Dl_info info;
      if (f && dladdr((void*)f, &info)) printf("dladdr: %s\n", info.dli_fname);
    }
  } else {
    return 2;
  }
  return 0;
}
