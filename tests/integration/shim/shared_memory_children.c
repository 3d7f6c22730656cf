/* Children that run on their parent's memory must not change what the shim
 * knows of the parent's fds, nor share its connections to the fetcher.
 *
 *   shared_memory_children FILE OUT
 *
 * FILE: a cold file on a lazy mount, several blocks long. With FILE open:
 *   - a vfork child closes the parent's fd number, opens and closes FILE
 *     itself, and exits;
 *   - a vfork child closes the fd and execs /bin/true;
 *   - a child made by syscall(SYS_fork) (no atfork handlers run) reads the
 *     second half of FILE into OUT while the parent reads the first half to
 *     stdout.
 * Then the parent writes the whole of FILE to stdout. A guard lost to a child
 * shows as zeros where the file was not fetched yet, a shared connection as
 * zeros or a hang: compare with the same run on a local copy.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void wait_child(pid_t pid, const char* what) {
  int st;
  if (pid < 0) die(what);
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "%s failed\n", what);
    exit(1);
  }
}

/* Copies [off, end) of fd to out in 4 KiB reads (one fetch request each, cold). */
static void copy_range(int fd, off_t off, off_t end, int out) {
  static char buf[4096];
  while (off < end) {
    size_t want = end - off < (off_t)sizeof buf ? (size_t)(end - off) : sizeof buf;
    ssize_t n = pread(fd, buf, want, off);
    if (n <= 0) die("pread");
    if (write(out, buf, (size_t)n) != n) die("write");
    off += n;
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: shared_memory_children FILE OUT\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) die("open");
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  char c;
  if (pread(fd, &c, 1, 0) != 1) die("first pread");  /* connects to the fetcher */

  pid_t pid = vfork();
  if (pid == 0) {
    close(fd);
    int other = open(argv[1], O_RDONLY);
    if (other >= 0) close(other);
    _exit(0);
  }
  wait_child(pid, "vfork child that closes the fd");

  pid = vfork();
  if (pid == 0) {
    close(fd);
    execl("/bin/true", "true", (char*)NULL);
    _exit(127);
  }
  wait_child(pid, "vfork+exec child");

  off_t half = st.st_size / 2;
  pid = (pid_t)syscall(SYS_fork);
  if (pid == 0) {
    int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) die("open OUT");
    copy_range(fd, half, st.st_size, out);
    _exit(close(out) == 0 ? 0 : 1);
  }
  copy_range(fd, 0, half, 1);
  wait_child(pid, "child of syscall(SYS_fork)");

  copy_range(fd, 0, st.st_size, 1);
  return 0;
}
