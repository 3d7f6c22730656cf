/* Closes every fd from 3 up (as daemons and ssh do), then reads a file: the
 * shim must keep working. Prints the file's size and first line. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (close_range(3, ~0U, 0) != 0) { perror("close_range"); return 1; }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { perror(argv[1]); return 1; }
  char buf[1 << 16];
  long total = 0, n;
  while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
  if (n < 0) { perror("read"); return 1; }
  close(fd);
  printf("read %ld bytes after close_range\n", total);
  return 0;
}
