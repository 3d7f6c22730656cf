// Micro-benchmarks of directory trees (fetcher/format/tree.h): encoding and
// parsing one directory of N files, each with one chunk, as a session does
// for every directory it loads.
#include <benchmark/benchmark.h>

#include <string>

#include "absl/strings/str_format.h"
#include "fetcher/format/tree.h"

namespace vol {
namespace {

Tree MakeTree(int64_t files) {
  Tree t;
  for (int64_t i = 0; i < files; ++i) {
    Entry e;
    e.name = absl::StrFormat("file-%07d.bin", i);
    e.mode = 0644;
    e.mtime_ns = 1700000000000000000 + i * 1000;
    e.size = 1000 + static_cast<uint64_t>(i);
    e.chunks = {{ObjectId::Of(e.name), e.size}};
    e.files = 1;
    t.entries.push_back(std::move(e));
  }
  return t;
}

void BM_EncodeTree(benchmark::State& state) {
  Tree t = MakeTree(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(EncodeTree(t));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeTree)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);

void BM_ParseTree(benchmark::State& state) {
  std::string raw = EncodeTree(MakeTree(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<Tree> t = DecodeTree(raw, "bench");
    if (!t.ok() || t->entries.size() != static_cast<size_t>(state.range(0))) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(t->entries.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
}
BENCHMARK(BM_ParseTree)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vol

BENCHMARK_MAIN();
