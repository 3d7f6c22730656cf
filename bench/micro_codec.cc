// Micro-benchmarks of the chunk envelope (fetcher/format/object_codec.h):
// encoding a 4 MiB chunk (hash, the compressibility probe, zstd when it
// pays) and decoding it back (header checks, zstd, the hash that verifies
// it), for incompressible bytes (model weights) and for text.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>

#include "fetcher/format/chunk.h"
#include "fetcher/format/object_codec.h"

namespace vol {
namespace {

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    memcpy(&s[i], &v, 8);
  }
  return s;
}

// Log-like text: compresses about 4x with zstd level 3.
std::string TextBytes(size_t n) {
  std::mt19937_64 rng(7);
  std::string s;
  s.reserve(n + 128);
  while (s.size() < n) {
    s += "2026-11-19T23:28:" + std::to_string(rng() % 60) + " worker=" + std::to_string(rng() % 64) +
         " op=read path=/data/shard-" + std::to_string(rng() % 1000) + " bytes=" +
         std::to_string(rng() % 4194304) + "\n";
  }
  s.resize(n);
  return s;
}

const std::string& Payload(bool text) {
  static const std::string random = RandomBytes(kChunkSize);
  static const std::string log = TextBytes(kChunkSize);
  return text ? log : random;
}

void BM_EncodeChunk(benchmark::State& state) {
  const std::string& raw = Payload(state.range(0) != 0);
  for (auto _ : state) {
    EncodedObject obj = EncodeObject(ObjectKind::kChunk, raw);
    benchmark::DoNotOptimize(obj.bytes.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
  state.SetLabel(state.range(0) != 0 ? "4 MiB text" : "4 MiB random");
}
BENCHMARK(BM_EncodeChunk)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_DecodeChunk(benchmark::State& state) {
  const std::string& raw = Payload(state.range(0) != 0);
  EncodedObject obj = EncodeObject(ObjectKind::kChunk, raw);
  for (auto _ : state) {
    absl::StatusOr<std::string> back = DecodeObjectWithId(ObjectKind::kChunk, obj.bytes, obj.id, "bench");
    if (!back.ok() || back->size() != raw.size()) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(back->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
  state.SetLabel(state.range(0) != 0 ? "4 MiB text (zstd)" : "4 MiB random (raw)");
}
BENCHMARK(BM_DecodeChunk)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_ObjectIdOf(benchmark::State& state) {
  const std::string& raw = Payload(false);
  for (auto _ : state) benchmark::DoNotOptimize(ObjectId::Of(raw));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
  state.SetLabel("XXH3-128 of 4 MiB");
}
BENCHMARK(BM_ObjectIdOf)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vol

BENCHMARK_MAIN();
