/* A binary stored on the volume: prints its argument and a file it reads. */
#include <stdio.h>
int main(int argc, char** argv) {
  char path[4096], line[256];
  snprintf(path, sizeof path, "%s/a.txt", argc > 1 ? argv[1] : ".");
  FILE* f = fopen(path, "r");
  printf("hello from the volume: %s\n", f && fgets(line, sizeof line, f) ? line : "(nothing)\n");
  return 3;
}
