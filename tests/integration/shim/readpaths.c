/* Reads FILE to stdout through one named path: read, pread, readv, preadv,
 * mmap, sendfile, fread, splice, copy_file_range. Used to check that every way
 * of reading a view file sees fetched bytes, never holes. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static void out(const char* b, long n) {
  while (n > 0) {
    long w = write(1, b, n);
    if (w <= 0) exit(1);
    b += w;
    n -= w;
  }
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const char* how = argv[1];
  int fd = open(argv[2], O_RDONLY);
  if (fd < 0) { perror(argv[2]); return 1; }
  struct stat st;
  fstat(fd, &st);
  static char buf[100000];  /* not a multiple of the block size */
  long n;
  off_t off = 0;
  if (!strcmp(how, "read")) {
    while ((n = read(fd, buf, sizeof buf)) > 0) out(buf, n);
  } else if (!strcmp(how, "pread")) {
    while ((n = pread(fd, buf, sizeof buf, off)) > 0) { out(buf, n); off += n; }
  } else if (!strcmp(how, "readv") || !strcmp(how, "preadv")) {
    static char a[777], b[50000];
    struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
    for (;;) {
      n = how[1] == 'r' ? preadv(fd, iov, 2, off) : readv(fd, iov, 2);
      if (n <= 0) break;
      off += n;
      long first = n < (long)sizeof a ? n : (long)sizeof a;
      out(a, first);
      out(b, n - first);
    }
  } else if (!strcmp(how, "mmap")) {
    char* p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    out(p, st.st_size);
    n = 0;
  } else if (!strcmp(how, "sendfile")) {
    while ((n = sendfile(1, fd, NULL, 1 << 20)) > 0) {}
  } else if (!strcmp(how, "fread")) {
    FILE* f = fdopen(fd, "rb");
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out(buf, n);
  } else if (!strcmp(how, "splice")) {
    int p[2];
    if (pipe(p)) return 1;
    while ((n = splice(fd, NULL, p[1], NULL, 65536, 0)) > 0) {
      long m = read(p[0], buf, n);
      out(buf, m);
    }
  } else if (!strcmp(how, "copy_file_range")) {
    char tmpl[] = "/tmp/vol-readpaths-XXXXXX";
    int t = mkstemp(tmpl);
    unlink(tmpl);
    while ((n = copy_file_range(fd, NULL, t, NULL, 1 << 20, 0)) > 0) {}
    lseek(t, 0, SEEK_SET);
    while ((n = read(t, buf, sizeof buf)) > 0) out(buf, n);
  } else {
    fprintf(stderr, "unknown read path %s\n", how);
    return 2;
  }
  if (n < 0) { perror(how); return 1; }
  return 0;
}
