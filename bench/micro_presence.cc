// Micro-benchmarks of the presence table (fetcher/session/presence_table.h),
// which a shim consults before every read of a mounted file: finding a file's
// slot by (dev, ino) among N files, and checking that a range of its blocks
// is present.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fetcher/session/presence_table.h"

namespace vol {
namespace {

constexpr uint64_t kBlock = 4 << 20;

struct Table {
  std::string path;
  std::unique_ptr<PresenceTable> table;
  std::vector<uint64_t> inos;
  ~Table() {
    table.reset();
    unlink(path.c_str());
  }
};

// N files of 64 MiB (16 blocks each), every block present.
std::unique_ptr<Table> MakeTable(uint64_t files) {
  auto t = std::make_unique<Table>();
  const char* tmp = getenv("TMPDIR");
  t->path = std::string(tmp != nullptr ? tmp : "/tmp") + "/vol-bench-presence." + std::to_string(getpid());
  absl::StatusOr<std::unique_ptr<PresenceTable>> table = PresenceTable::Create(t->path, files, files + 64);
  if (!table.ok()) return nullptr;
  t->table = *std::move(table);
  std::mt19937_64 rng(1);
  for (uint64_t i = 0; i < files; ++i) {
    uint64_t ino = rng() | 1;
    absl::StatusOr<uint32_t> slot = t->table->Insert(2049, ino, 16 * kBlock, kBlock);
    if (!slot.ok()) return nullptr;
    for (uint64_t b = 0; b < 16; ++b) t->table->SetPresent(*slot, b);
    t->inos.push_back(ino);
  }
  return t;
}

void BM_PresenceFind(benchmark::State& state) {
  std::unique_ptr<Table> t = MakeTable(static_cast<uint64_t>(state.range(0)));
  if (t == nullptr) {
    state.SkipWithError("cannot build the table");
    return;
  }
  size_t i = 0;
  for (auto _ : state) {
    std::optional<uint32_t> slot = t->table->Find(2049, t->inos[i]);
    benchmark::DoNotOptimize(slot);
    i = (i + 7919) % t->inos.size();
  }
}
BENCHMARK(BM_PresenceFind)->Arg(1000)->Arg(1000000);

void BM_PresenceRangePresent(benchmark::State& state) {
  std::unique_ptr<Table> t = MakeTable(1000);
  if (t == nullptr) {
    state.SkipWithError("cannot build the table");
    return;
  }
  std::optional<uint32_t> slot = t->table->Find(2049, t->inos[0]);
  uint64_t b = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(t->table->RangePresent(*slot, b, b + 1));
    b = (b + 1) % 15;
  }
}
BENCHMARK(BM_PresenceRangePresent);

}  // namespace
}  // namespace vol

BENCHMARK_MAIN();
