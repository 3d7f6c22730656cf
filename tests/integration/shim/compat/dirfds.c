/* Directories opened without O_DIRECTORY, then used as directories, each way
 * on a directory of its own (in a lazy view each starts unlisted):
 *
 *   dirfds ROOT      (ROOT: the tree of shim_compat_test.sh)
 *
 * Prints the names each way finds, sorted, and what fstat says before and
 * after the listing; run on local disk and on a mount, the output must match.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char g_names[64][256];
static int g_count;

static int by_name(const void* a, const void* b) { return strcmp(a, b); }

static void add(const char* name) {
  if (strcmp(name, ".") && strcmp(name, "..") && g_count < 64) snprintf(g_names[g_count++], 256, "%s", name);
}

static void show(const char* how) {
  qsort(g_names, (size_t)g_count, sizeof g_names[0], by_name);
  printf("%s:", how);
  for (int i = 0; i < g_count; i++) printf(" %s", g_names[i]);
  printf("\n");
  g_count = 0;
}

static int open_plain(const char* root, const char* rel) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) perror(path);
  return fd;
}

static void list_stream(DIR* d) {
  struct dirent* e;
  while (d && (e = readdir(d))) add(e->d_name);
  if (d) closedir(d);
}

static void list_raw(int fd, int use_syscall) {
  char buf[8192];
  long n;
  while ((n = use_syscall ? syscall(SYS_getdents64, fd, buf, sizeof buf) : getdents64(fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dirent64* e = (struct dirent64*)(buf + off);
      add(e->d_name);
      off += e->d_reclen;
    }
  }
  close(fd);
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const char* root = argv[1];
  int fd;

  if ((fd = open_plain(root, "walk/a")) >= 0) list_stream(fdopendir(fd));
  show("fdopendir");
  if ((fd = open_plain(root, "walk/c")) >= 0) list_raw(fd, 0);
  show("getdents64");
  if ((fd = open_plain(root, "small")) >= 0) list_raw(fd, 1);
  show("syscall(SYS_getdents64)");
  if ((fd = open_plain(root, "walk/a/b")) >= 0) {
    int x = openat(fd, "x", O_RDONLY);
    char buf[64] = "";
    ssize_t n = x >= 0 ? read(x, buf, sizeof buf - 1) : -1;
    printf("openat below it: %s", n > 0 ? buf : "failed\n");
    close(fd);
  }
  if ((fd = open_plain(root, "lib")) >= 0 && fchdir(fd) == 0) list_stream(opendir("."));
  show("fchdir then opendir(\".\")");
  if ((fd = open_plain(root, "bin")) >= 0) {
    struct stat before, after;
    fstat(fd, &before);
    int copy = dup(fd);
    list_stream(fdopendir(copy));
    fstat(fd, &after);
    printf("fstat before and after the listing: %s, nlink %ld\n",
           before.st_size == after.st_size && before.st_ctime == after.st_ctime ? "same" : "changed",
           (long)after.st_nlink);
    close(fd);
  }
  show("fstat, dup, fdopendir");
  return 0;
}
