/* glob(3) and nftw(3) over a tree: prints what they find (paths, types, the
 * basename nftw reports, the depth), for comparing a mount with a local tree. */
#define _GNU_SOURCE
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

static int visit(const char* path, const struct stat* sb, int type, struct FTW* f) {
  printf("nftw %s type=%d base=%s level=%d size=%ld\n", path, type, path + f->base, f->level,
         type == FTW_F ? (long)sb->st_size : 0L);
  return 0;
}

int main(int argc, char** argv) {
  char pattern[4096];
  glob_t g;
  snprintf(pattern, sizeof pattern, "%s/*/*.txt", argv[1]);
  int rc = glob(pattern, 0, NULL, &g);
  printf("glob rc=%d n=%zu\n", rc, rc ? 0 : g.gl_pathc);
  for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) printf("glob %s\n", g.gl_pathv[i]);
  if (rc == 0) globfree(&g);
  snprintf(pattern, sizeof pattern, "%s/d*", argv[1]);
  rc = glob(pattern, GLOB_MARK, NULL, &g);
  for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) printf("glob mark %s\n", g.gl_pathv[i]);
  if (rc == 0) globfree(&g);
  return nftw(argv[1], visit, 8, FTW_PHYS) != 0;
}
