// Reads a directory through every stream call and prints what it saw, so the
// same run on a mount (a listed directory) and on a local copy can be
// compared: the sorted names, "." and ".." included, then checks of telldir,
// seekdir, rewinddir and readdir_r against the first pass.
// With a second argument NAME: counts the entries, creates NAME in the
// directory, rewinds, and counts them again ("BEFORE AFTER").
// With "reload CMD": counts the entries, runs CMD (which changes the volume
// from outside), reloads the session (vol_reload), rewinds, counts again.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static long count(DIR* d) {
  long n = 0;
  while (readdir(d)) n++;
  return n;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) return 2;
  DIR* d = opendir(argv[1]);
  if (!d) {
    perror("opendir");
    return 1;
  }
  if (argc == 4 && strcmp(argv[2], "reload") == 0) {
    long before = count(d);
    int (*reload)(const char*) = (int (*)(const char*))dlsym(RTLD_DEFAULT, "vol_reload");
    if (!reload || system(argv[3]) != 0 || reload(NULL) != 0) {
      printf("the change or the reload failed\n");
      return 1;
    }
    rewinddir(d);
    printf("%ld %ld\n", before, count(d));
    closedir(d);
    return 0;
  }
  if (argc == 3) {
    long before = count(d);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], argv[2]);
    FILE* f = fopen(path, "w");
    if (!f || fclose(f) != 0) {
      perror(path);
      return 1;
    }
    rewinddir(d);
    printf("%ld %ld\n", before, count(d));
    closedir(d);
    return 0;
  }
  char** names = NULL;
  long* pos = NULL;
  size_t n = 0;
  for (;;) {
    long here = telldir(d);
    struct dirent* e = readdir(d);
    if (!e) break;
    names = realloc(names, (n + 1) * sizeof *names);
    pos = realloc(pos, (n + 1) * sizeof *pos);
    names[n] = strdup(e->d_name);
    pos[n] = here;
    if (e->d_ino == 0) printf("entry %s has d_ino 0\n", e->d_name);
    n++;
  }
  // seekdir to a position telldir gave: the same entry comes next.
  int bad = 0;
  for (size_t i = 0; i < n; i += n / 7 + 1) {
    seekdir(d, pos[i]);
    struct dirent* e = readdir(d);
    if (!e || strcmp(e->d_name, names[i]) != 0) {
      printf("seekdir to entry %zu gave %s, want %s\n", i, e ? e->d_name : "(end)", names[i]);
      bad = 1;
    }
  }
  // rewinddir, then readdir_r: the same count.
  rewinddir(d);
  size_t again = 0;
  struct dirent buf, *res;
  while (readdir_r(d, &buf, &res) == 0 && res) again++;
  if (again != n) {
    printf("after rewinddir, readdir_r read %zu entries, want %zu\n", again, n);
    bad = 1;
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) printf("%s\n", names[i]);
  printf("entries %zu\n", n);
  return bad;
}
