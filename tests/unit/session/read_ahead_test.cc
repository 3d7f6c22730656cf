#include "fetcher/session/read_ahead.h"

#include <gtest/gtest.h>

namespace vol {
namespace {

TEST(ReadAhead, SequentialDoublesUpToTheCap) {
  ReadAhead ra(ReadAheadParams{});  // 1 chunk, doubling to 16
  const uint64_t n = 256;           // a 1 GiB file
  auto r = ra.OnRequest(0, 0, n);   // head -c 4096
  EXPECT_EQ(r.first, 1u);
  EXPECT_EQ(r.count, 1u) << "a cold first read fetches one chunk ahead";
  // A sequential reader asks again at the first chunk not yet present.
  uint64_t next = r.first + r.count;
  std::vector<uint64_t> windows;
  for (int i = 0; i < 8; ++i) {
    r = ra.OnRequest(next, next, n);
    windows.push_back(r.count);
    next = r.first + r.count;
  }
  EXPECT_EQ(windows, (std::vector<uint64_t>{2, 4, 8, 16, 16, 16, 16, 16}));
}

TEST(ReadAhead, RandomAccessRestartsAtOneChunk) {
  ReadAhead ra(ReadAheadParams{});
  ra.OnRequest(0, 0, 256);
  ra.OnRequest(2, 2, 256);
  EXPECT_EQ(ra.window(), 2u);
  auto r = ra.OnRequest(100, 100, 256);
  EXPECT_EQ(r.count, 1u);
  EXPECT_EQ(r.first, 101u);
  r = ra.OnRequest(50, 50, 256);
  EXPECT_EQ(r.count, 1u) << "backwards is not sequential";
}

TEST(ReadAhead, ClippedAtTheEnd) {
  ReadAhead ra(ReadAheadParams{});
  auto r = ra.OnRequest(3, 3, 4);
  EXPECT_EQ(r.count, 0u);
  r = ra.OnRequest(0, 2, 4);
  EXPECT_EQ(r.first, 3u);
  EXPECT_EQ(r.count, 1u);
}

TEST(ReadAhead, ZeroMaxTurnsItOff) {
  ReadAheadParams p;
  p.initial_chunks = 0;
  p.max_chunks = 0;
  ReadAhead ra(p);
  for (uint64_t c = 0; c < 5; ++c) EXPECT_EQ(ra.OnRequest(c, c, 10).count, 0u);
}

}  // namespace
}  // namespace vol
