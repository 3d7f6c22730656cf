// Micro-benchmarks of the calls a program makes on files that are already
// local: stat, open+close, pread of present data, and stat of random entries
// of a directory that has been listed. bench/run runs this binary twice: on
// local copies without the shim (native), and inside `vol run` on the same
// files through a mount (after reading them once, so every byte is present);
// the ratio of the two is the shim's overhead per call.
//
//   BENCH_FILE=PATH [BENCH_DIR=PATH] micro_shim [--benchmark_* flags]
//
// BENCH_FILE: a file of at least 1 MiB. BENCH_DIR: a directory of regular
// files (its stat benchmark is left out when unset).
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

const char* g_file = nullptr;
const char* g_dir = nullptr;

void BM_Stat(benchmark::State& state) {
  struct stat st;
  for (auto _ : state) {
    if (stat(g_file, &st) != 0) {
      state.SkipWithError("stat failed");
      break;
    }
  }
}

void BM_OpenClose(benchmark::State& state) {
  for (auto _ : state) {
    int fd = open(g_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError("open failed");
      break;
    }
    close(fd);
  }
}

// pread of `state.range(0)` bytes at offsets that walk the first MiB.
void BM_Pread(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  int fd = open(g_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError("open failed");
    return;
  }
  std::vector<char> buf(n);
  off_t at = 0;
  for (auto _ : state) {
    if (pread(fd, buf.data(), n, at) != static_cast<ssize_t>(n)) {
      state.SkipWithError("short pread (is BENCH_FILE at least 2 MiB?)");
      break;
    }
    at = (at + static_cast<off_t>(n)) % (1 << 20);
  }
  close(fd);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

// Lists the directory once (so a lazy view has it loaded), then stats its
// entries in a random order.
void BM_StatRandomInDir(benchmark::State& state) {
  std::vector<std::string> paths;
  if (DIR* d = opendir(g_dir)) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') paths.push_back(std::string(g_dir) + "/" + e->d_name);
    }
    closedir(d);
  }
  if (paths.empty()) {
    state.SkipWithError("BENCH_DIR is empty or unreadable");
    return;
  }
  std::mt19937 rng(3);
  std::vector<size_t> order(4096);
  for (size_t& i : order) i = rng() % paths.size();
  size_t k = 0;
  struct stat st;
  for (auto _ : state) {
    if (stat(paths[order[k]].c_str(), &st) != 0) {
      state.SkipWithError("stat failed");
      break;
    }
    k = (k + 1) % order.size();
  }
  state.SetLabel(std::to_string(paths.size()) + " entries");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  g_file = getenv("BENCH_FILE");
  g_dir = getenv("BENCH_DIR");
  if (g_file == nullptr || *g_file == '\0') {
    fprintf(stderr, "micro_shim: set BENCH_FILE to a file of at least 2 MiB\n");
    return 2;
  }
  benchmark::RegisterBenchmark("BM_Stat", BM_Stat);
  benchmark::RegisterBenchmark("BM_OpenClose", BM_OpenClose);
  benchmark::RegisterBenchmark("BM_Pread", BM_Pread)->Arg(4096)->Arg(1 << 20);
  if (g_dir != nullptr && *g_dir != '\0') {
    benchmark::RegisterBenchmark("BM_StatRandomInDir", BM_StatRandomInDir);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
