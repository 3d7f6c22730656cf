#include "fetcher/session/chunk_cache.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace vol {
namespace {

class ChunkCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vol-cache-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static ChunkRef Ref(const std::string& data) { return {ObjectId::Of(data), data.size()}; }
  std::string dir_;
};

TEST_F(ChunkCacheTest, PutThenGet) {
  ChunkCache c(dir_, 1 << 30);
  std::string data(100000, 'x');
  data[5] = 'y';
  EXPECT_FALSE(c.Get(Ref(data)).has_value());
  ASSERT_TRUE(c.Put(Ref(data), data).ok());
  auto got = c.Get(Ref(data));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, data);
  EXPECT_EQ(c.Usage(), data.size());
  // Another instance (another session) sees it.
  ChunkCache other(dir_, 1 << 30);
  EXPECT_TRUE(other.Get(Ref(data)).has_value());
}

TEST_F(ChunkCacheTest, CorruptEntryIsAMissAndRemoved) {
  ChunkCache c(dir_, 1 << 30);
  std::string data(5000, 'a');
  ASSERT_TRUE(c.Put(Ref(data), data).ok());
  std::string path = c.PathOf(Ref(data).id);
  { std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary); f.seekp(10); f.put('b'); }
  EXPECT_FALSE(c.Get(Ref(data)).has_value());
  EXPECT_FALSE(std::filesystem::exists(path));
  ASSERT_TRUE(c.Put(Ref(data), data).ok());
  { std::ofstream f(path, std::ios::binary | std::ios::trunc); f << "short"; }
  EXPECT_FALSE(c.Get(Ref(data)).has_value()) << "wrong size";
}

TEST_F(ChunkCacheTest, EvictsLeastRecentlyUsedFirst) {
  ChunkCache c(dir_, uint64_t{1} << 40);  // no automatic eviction
  std::vector<std::string> chunks;
  for (int i = 0; i < 6; ++i) {
    chunks.push_back(std::string(1000, static_cast<char>('a' + i)));
    ASSERT_TRUE(c.Put(Ref(chunks.back()), chunks.back()).ok());
    // Distinct, increasing recency.
    struct timespec t[2] = {{1000 + i, 0}, {1000 + i, 0}};
    utimensat(AT_FDCWD, c.PathOf(Ref(chunks.back()).id).c_str(), t, 0);
  }
  // Using chunk 0 makes it the most recent.
  ASSERT_TRUE(c.Get(Ref(chunks[0])).has_value());
  auto left = c.Evict(3000);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, 3000u);
  EXPECT_TRUE(std::filesystem::exists(c.PathOf(Ref(chunks[0]).id))) << "recently used";
  EXPECT_FALSE(std::filesystem::exists(c.PathOf(Ref(chunks[1]).id)));
  EXPECT_FALSE(std::filesystem::exists(c.PathOf(Ref(chunks[2]).id)));
  EXPECT_FALSE(std::filesystem::exists(c.PathOf(Ref(chunks[3]).id)));
  EXPECT_TRUE(std::filesystem::exists(c.PathOf(Ref(chunks[4]).id)));
  EXPECT_TRUE(std::filesystem::exists(c.PathOf(Ref(chunks[5]).id)));
}

TEST_F(ChunkCacheTest, PutEvictsOnceTheLimitIsPassed) {
  ChunkCache c(dir_, 8000);
  for (int i = 0; i < 20; ++i) {
    std::string d(1000, static_cast<char>(i));
    ASSERT_TRUE(c.Put(Ref(d), d).ok());
  }
  EXPECT_LE(c.Usage(), 8000u + 8000u / 8);
}

TEST(ByteSize, Parses) {
  EXPECT_EQ(*ParseByteSize("10G"), uint64_t{10} << 30);
  EXPECT_EQ(*ParseByteSize("512M"), uint64_t{512} << 20);
  EXPECT_EQ(*ParseByteSize("1.5GiB"), uint64_t{3} << 29);
  EXPECT_EQ(*ParseByteSize("64k"), uint64_t{64} << 10);
  EXPECT_EQ(*ParseByteSize("12345"), 12345u);
  EXPECT_FALSE(ParseByteSize("ten").ok());
  EXPECT_FALSE(ParseByteSize("10X").ok());
  EXPECT_FALSE(ParseByteSize("").ok());
}

}  // namespace
}  // namespace vol
