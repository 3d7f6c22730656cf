/* Reads FILE1, closes every fd from 3 up (as daemons and ssh do, which also
 * closes the shim's connection to the fetcher), then reads FILE2: the shim must
 * keep working. Prints each file's size and a checksum. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static int readall(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) { perror(path); return 1; }
  static char buf[1 << 16];
  unsigned long total = 0, sum = 0;
  long n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (long i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
    total += n;
  }
  if (n < 0) { perror("read"); return 1; }
  close(fd);
  printf("%lu bytes, sum %lx\n", total, sum);
  return 0;
}
int main(int argc, char** argv) {
  if (argc < 3) return 2;
  if (readall(argv[1])) return 1;
  if (close_range(3, ~0U, 0) != 0) { perror("close_range"); return 1; }
  printf("closed all fds from 3\n");
  return readall(argv[2]);
}
