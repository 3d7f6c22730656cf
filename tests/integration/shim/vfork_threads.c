/* vfork children come and go while other threads open, read and close a cold
 * file: every byte read must match the local copy.
 *
 *   vfork_threads FILE LOCAL ROUNDS
 *
 * Three reader threads each open FILE, pread random ranges and compare them
 * with LOCAL, then close it, in a loop; the main thread meanwhile makes ROUNDS
 * vfork children that close every reader's fd number and exec /bin/true (a
 * child that wrote the shim's fd table would drop a reader's guard, and the
 * reader would see zeros). Prints "ok" or the first mismatch.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* g_file;
static int g_local;
static off_t g_size;
static volatile int g_stop;
static volatile int g_bad;
static int g_fds[3] = {-1, -1, -1};

static void* reader(void* arg) {
  int me = (int)(long)arg;
  unsigned seed = 7u + (unsigned)me;
  static __thread char got[70000], want[70000];
  while (!g_stop && !g_bad) {
    int fd = open(g_file, O_RDONLY);
    if (fd < 0) {
      perror("open");
      g_bad = 1;
      break;
    }
    __atomic_store_n(&g_fds[me], fd, __ATOMIC_RELAXED);
    for (int i = 0; i < 8 && !g_bad; i++) {
      off_t off = (off_t)(rand_r(&seed) % (unsigned)g_size);
      size_t len = 1 + (size_t)(rand_r(&seed) % (sizeof got - 1));
      ssize_t n = pread(fd, got, len, off);
      ssize_t m = pread(g_local, want, len, off);
      if (n != m || (n > 0 && memcmp(got, want, (size_t)n) != 0)) {
        printf("mismatch: thread %d, %zu bytes at %lld (read %zd, want %zd)\n", me, len, (long long)off, n, m);
        g_bad = 1;
      }
    }
    __atomic_store_n(&g_fds[me], -1, __ATOMIC_RELAXED);
    close(fd);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  g_file = argv[1];
  g_local = open(argv[2], O_RDONLY);
  struct stat st;
  if (g_local < 0 || fstat(g_local, &st) != 0) return 2;
  g_size = st.st_size;
  int rounds = atoi(argv[3]);
  pthread_t t[3];
  for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, reader, (void*)i);
  for (int r = 0; r < rounds && !g_bad; r++) {
    int close_them[3];
    for (int i = 0; i < 3; i++) close_them[i] = __atomic_load_n(&g_fds[i], __ATOMIC_RELAXED);
    pid_t pid = vfork();
    if (pid == 0) {
      for (int i = 0; i < 3; i++)
        if (close_them[i] >= 0) close(close_them[i]);
      execl("/bin/true", "true", (char*)NULL);
      _exit(127);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
  }
  g_stop = 1;
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  if (!g_bad) printf("ok\n");
  return g_bad;
}
