// Reads a tree the way C and C++ programs do: fread, std::ifstream, dlopen of a
// library stored in the tree, and running a binary stored in the tree. Prints
// what it saw so that the test can compare a mount with the same local tree.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

static unsigned long sum(const std::string& s) {
  unsigned long h = 1469598103934665603UL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211UL;
  return h;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string root = argv[1];
  // fread
  FILE* f = fopen((root + "/big.bin").c_str(), "rb");
  if (!f) { perror("fopen"); return 1; }
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  fclose(f);
  printf("fread %zu %lx\n", data.size(), sum(data));
  // ifstream
  std::ifstream in(root + "/dir/nums", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  printf("ifstream %zu %lx good=%d\n", ss.str().size(), sum(ss.str()), (int)!in.bad());
  // dlopen of a library in the tree
  void* h = dlopen((root + "/lib/libplug.so").c_str(), RTLD_NOW);
  if (!h) { printf("dlopen failed: %s\n", dlerror()); return 1; }
  auto fn = (int (*)())dlsym(h, "plug_value");
  printf("dlopen plug_value=%d\n", fn ? fn() : -1);
  // run a binary stored in the tree
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    std::string bin = root + "/bin/hello";
    execl(bin.c_str(), "hello", root.c_str(), (char*)nullptr);
    perror("execl");
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("child exit %d\n", WEXITSTATUS(st));
  return 0;
}
