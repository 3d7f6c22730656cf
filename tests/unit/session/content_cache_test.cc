#include "fetcher/session/content_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetcher/format/chunk.h"
#include "fetcher/util/fs.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

Entry FileEntry(uint64_t size, int chunks, uint32_t mode = 0644, int64_t mtime = 1700000000123456789) {
  Entry e;
  e.type = EntryType::kFile;
  e.size = size;
  e.mode = mode;
  e.mtime_ns = mtime;
  for (int i = 0; i < chunks; ++i) e.chunks.push_back({ObjectId::Of(std::to_string(i)), size / chunks});
  return e;
}

struct stat Stat(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
  return st;
}

TEST(ContentCacheTest, AFileIsMadeSizedDatedAndSharedUntilComplete) {
  testing::TempDir tmp;
  ContentCache cache(tmp.path(), uint64_t{1} << 30);
  Entry e = FileEntry(8 << 20, 2, 0755);
  auto a = cache.Open(e);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->complete);
  EXPECT_TRUE(a->path.ends_with(".part"));
  struct stat st = Stat(a->path);
  EXPECT_EQ(st.st_size, 8 << 20);
  EXPECT_EQ(st.st_blocks, 0) << "sparse until fetched";
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "the owner's r and x; u+w only while it is being filled";

  // A second session finds the same file, and what the first fetched.
  ASSERT_TRUE(PwriteFull(a->fd.get(), std::string(4 << 20, 'x').data(), 4 << 20, 0).ok());
  a->present[0] = 1;
  cache.MarkPresent(*a, 0, 2);
  auto b = cache.Open(e);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->ino, a->ino);
  EXPECT_EQ(b->present, (std::vector<uint8_t>{1, 0}));

  // Complete: durable, renamed to KEY, write bits gone, map gone.
  std::string part = a->path;
  std::string final_path = part.substr(0, part.size() - 5);
  cache.Complete(*std::move(a), e.mtime_ns);
  cache.Flush();
  EXPECT_NE(access(part.c_str(), F_OK), 0);
  EXPECT_NE(access((final_path + ".map").c_str(), F_OK), 0);
  st = Stat(final_path);
  EXPECT_EQ(st.st_mode & 07777, 0500u);
  EXPECT_EQ(st.st_ino, b->ino);
  auto c = cache.Open(e);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->complete);
  EXPECT_EQ(c->ino, b->ino);
}

// A file a session wrote is kept as the content file of the entry its bytes
// and metadata give: the next Open finds it whole (nothing to fetch) with its
// inode, and a second offer, or an entry of another size, is refused.
TEST(ContentCacheTest, AWrittenFileIsAdoptedWhole) {
  testing::TempDir tmp;
  ContentCache cache(tmp.path(), uint64_t{1} << 30);
  std::string data(kChunkSize + 1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  std::string path = tmp / "written";
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  Entry e;
  e.type = EntryType::kFile;
  e.size = data.size();
  e.mode = 0644;
  e.mtime_ns = 1700000000123456789;
  e.chunks = {{ObjectId::Of(absl::string_view(data.data(), kChunkSize)), kChunkSize},
              {ObjectId::Of(absl::string_view(data.data() + kChunkSize, 1000)), 1000}};
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.ok());
  Entry wrong_size = e;
  wrong_size.size += 1;
  EXPECT_FALSE(*cache.Adopt(fd.get(), wrong_size));
  absl::StatusOr<bool> adopted = cache.Adopt(fd.get(), e);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_TRUE(*adopted);
  struct stat st = Stat(path);
  EXPECT_EQ(st.st_nlink, 2u) << "linked into the cache";
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "a .part's mode: the owner's r and w";
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_FALSE(*cache.Adopt(fd.get(), e)) << "the cache has it";

  auto f = cache.Open(e);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->ino, st.st_ino);
  EXPECT_EQ(f->present, (std::vector<uint8_t>{1, 1})) << "every chunk present: nothing to fetch";
  absl::StatusOr<std::string> back = ReadFile(f->path);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == data);
}

TEST(ContentCacheTest, MetadataIsPartOfTheIdentity) {
  testing::TempDir tmp;
  ContentCache cache(tmp.path(), uint64_t{1} << 30);
  Entry e = FileEntry(100, 1);
  Entry other_mode = e, other_time = e;
  other_mode.mode = 0600;
  other_time.mtime_ns += 1;
  EXPECT_NE(ContentKey(e), ContentKey(other_mode));
  EXPECT_NE(ContentKey(e), ContentKey(other_time));
  Entry renamed = e;
  renamed.name = "elsewhere";
  EXPECT_EQ(ContentKey(e), ContentKey(renamed)) << "the name is not part of it";
}

TEST(ContentCacheTest, AMapOfAnotherFileOrBootIsNotTrusted) {
  testing::TempDir tmp;
  ContentCache cache(tmp.path(), uint64_t{1} << 30);
  Entry e = FileEntry(8 << 20, 2);
  auto a = cache.Open(e);
  ASSERT_TRUE(a.ok());
  a->present[1] = 1;
  cache.MarkPresent(*a, 1, 2);
  std::string map = a->path.substr(0, a->path.size() - 5) + ".map";
  // The .part goes (evicted) and is made again: same key, new inode.
  ASSERT_EQ(unlink(a->path.c_str()), 0);
  auto again = cache.Open(e);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->present, (std::vector<uint8_t>{0, 0})) << "the old map describes another inode";
  // A map written in another boot says nothing.
  again->present[0] = 1;
  cache.MarkPresent(*again, 0, 2);
  {
    UniqueFd m(open(map.c_str(), O_WRONLY));
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(pwrite(m.get(), "other-boot", 10, 8), 10);
  }
  auto third = cache.Open(e);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->present, (std::vector<uint8_t>{0, 0}));
}

TEST(ContentCacheTest, ADamagedFileIsMadeAgain) {
  testing::TempDir tmp;
  ContentCache cache(tmp.path(), uint64_t{1} << 30);
  Entry e = FileEntry(1000, 1);
  auto a = cache.Open(e);
  ASSERT_TRUE(a.ok());
  uint64_t ino = a->ino;
  std::string part = a->path;
  cache.Complete(*std::move(a), e.mtime_ns);
  cache.Flush();
  std::string final_path = part.substr(0, part.size() - 5);
  ASSERT_EQ(truncate(final_path.c_str(), 10), 0);
  auto b = cache.Open(e);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->complete) << "a KEY of the wrong size is not that content";
  EXPECT_NE(b->ino, ino);
}

TEST(ContentCacheTest, EvictionSparesLinkedFilesAndGoesOldestFirst) {
  testing::TempDir tmp;
  ContentCache cache(tmp.path(), uint64_t{1} << 30);
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    Entry e = FileEntry(1 << 20, 1, 0644, 1000 + i);
    auto f = cache.Open(e);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(PwriteFull(f->fd.get(), std::string(1 << 20, 'a' + i).data(), 1 << 20, 0).ok());
    paths.push_back(f->path.substr(0, f->path.size() - 5));
    cache.Complete(*std::move(f), e.mtime_ns);
    cache.Flush();
    usleep(20000);  // distinct recency (ctime)
  }
  // The oldest is linked from a view: it stays; the next oldest goes.
  std::string view = tmp.path() + "/view-link";
  ASSERT_EQ(link(paths[0].c_str(), view.c_str()), 0);
  auto left = cache.Evict(uint64_t{2} << 20);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(access(paths[0].c_str(), F_OK), 0) << "linked from a view";
  EXPECT_NE(access(paths[1].c_str(), F_OK), 0) << "least recently used";
  EXPECT_EQ(access(paths[2].c_str(), F_OK), 0);
  EXPECT_EQ(*left, uint64_t{2} << 20);
}

TEST(ContentCacheTest, CacheFilesAndDirectoriesAreTheUsersAlone) {
  testing::TempDir tmp;
  ContentCache cache(tmp.path(), uint64_t{1} << 30);
  auto f = cache.Open(FileEntry(10, 1, 0777));
  ASSERT_TRUE(f.ok());
  struct stat st = Stat(f->path);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "nothing for group or others";
  std::string sub = f->path.substr(0, f->path.rfind('/'));
  EXPECT_EQ(Stat(sub).st_mode & 07777, 0700u);
  EXPECT_EQ(Stat(tmp.path() + "/files").st_mode & 07777, 0700u);
}

}  // namespace
}  // namespace vol
