#include "fetcher/session/view_builder.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "fetcher/format/chunk.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/transfer/upload.h"
#include "fetcher/volume/tree_editor.h"

namespace vol {
namespace {

namespace fs = std::filesystem;

struct Meta {
  char type;
  uint32_t mode;
  int64_t mtime_ns;
  uint64_t size;
  std::string target;
  bool operator==(const Meta&) const = default;
};

std::map<std::string, Meta> Describe(const std::string& root) {
  std::map<std::string, Meta> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string p = it->path().string();
    struct stat st;
    lstat(p.c_str(), &st);
    Meta m{S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f', st.st_mode & 07777u,
           static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
           S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0, ""};
    if (S_ISLNK(st.st_mode)) m.target = fs::read_symlink(p).string();
    out[p.substr(root.size())] = m;
  }
  return out;
}

class ViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vol-view-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = OpenStore("file://" + dir_ + "/store");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    src_ = dir_ + "/src";
    fs::create_directories(src_ + "/d/e");
    fs::create_directories(src_ + "/ro");
    std::ofstream(src_ + "/a.txt") << "hello\n";
    big_.resize(kChunkSize * 2 + 12345);
    std::mt19937_64 rng(42);  // distinct chunks: no dedup inside the file
    for (size_t i = 0; i < big_.size(); ++i) big_[i] = static_cast<char>(rng());
    std::ofstream(src_ + "/d/big", std::ios::binary) << big_;
    std::ofstream(src_ + "/empty");
    fs::create_symlink("a.txt", src_ + "/rel");
    fs::create_symlink("/mnt/t/d/big", src_ + "/abs");
    fs::create_symlink("/etc/hostname", src_ + "/outside");
    chmod((src_ + "/a.txt").c_str(), 0640);
    std::ofstream(src_ + "/ro/x") << "x";
    chmod((src_ + "/ro/x").c_str(), 0444);
    chmod((src_ + "/ro").c_str(), 0555);
    struct timespec t[2] = {{0, UTIME_OMIT}, {981173106, 789000000}};
    utimensat(AT_FDCWD, (src_ + "/d/e").c_str(), t, 0);
    utimensat(AT_FDCWD, (src_ + "/rel").c_str(), t, AT_SYMLINK_NOFOLLOW);
    utimensat(AT_FDCWD, (src_ + "/d").c_str(), t, 0);

    std::vector<LocalItem> items;
    ASSERT_TRUE(ScanLocal(src_, VolumePath{}, items).ok());
    UploadStats stats;
    auto entries = UploadItems(*store_, items, stats, nullptr);
    ASSERT_TRUE(entries.ok()) << entries.status();
    TreeEditor editor(*store_, EmptyTreeId());
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].dest.is_root()) continue;
      if ((*entries)[i].is_dir()) {
        ASSERT_TRUE(editor.PutDir(items[i].dest, (*entries)[i].mode, (*entries)[i].mtime_ns).ok());
      } else {
        ASSERT_TRUE(editor.Put(items[i].dest, (*entries)[i]).ok());
      }
    }
    auto root = editor.Flush();
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = *root;
  }
  void TearDown() override {
    chmod((src_ + "/ro").c_str(), 0755);
    chmod((dir_ + "/view/ro").c_str(), 0755);
    fs::remove_all(dir_);
  }
  std::string dir_, src_, big_;
  std::unique_ptr<ObjectStore> store_;
  ObjectId root_;
};

TEST_F(ViewTest, ViewMirrorsTheSnapshot) {
  std::vector<ViewFile> files;
  ViewStats stats;
  std::string view = dir_ + "/view";
  ASSERT_TRUE(BuildView(*store_, root_, 123, view, "/mnt/t", files, stats).ok());
  auto want = Describe(src_);
  auto got = Describe(view);
  // The absolute symlink into the mount points into the view instead.
  ASSERT_EQ(got["/abs"].target, view + "/d/big");
  got["/abs"].target = "/mnt/t/d/big";
  EXPECT_EQ(want, got);
  EXPECT_EQ(stats.files, 4u);
  EXPECT_EQ(stats.symlinks, 3u);
  EXPECT_EQ(stats.dirs, 3u);
  // Non-empty files only, each with its inode; content is sparse (zeros).
  ASSERT_EQ(files.size(), 3u);
  for (const ViewFile& f : files) {
    struct stat st;
    ASSERT_EQ(stat(f.path.c_str(), &st), 0);
    EXPECT_EQ(f.ino, st.st_ino);
    EXPECT_EQ(f.entry.size, static_cast<uint64_t>(st.st_size));
  }
  std::ifstream in(view + "/a.txt", std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, std::string(6, '\0')) << "content arrives only through the fetcher";
}

TEST(SymlinkTarget, RewritesOnlyInsideTheMount) {
  EXPECT_EQ(RewriteSymlinkTarget("/mnt/t/x", "/mnt/t", "/v"), "/v/x");
  EXPECT_EQ(RewriteSymlinkTarget("/mnt/t", "/mnt/t", "/v"), "/v");
  EXPECT_EQ(RewriteSymlinkTarget("/mnt/tt/x", "/mnt/t", "/v"), "/mnt/tt/x");
  EXPECT_EQ(RewriteSymlinkTarget("x/y", "/mnt/t", "/v"), "x/y");
  EXPECT_EQ(RewriteSymlinkTarget("/etc", "/mnt/t", "/v"), "/etc");
}

// The engine fills a view file on request, answers only when the range is
// present, reads ahead, and a second engine sharing the cache fetches nothing.
TEST_F(ViewTest, FetchEngineFillsRangesAndUsesTheCache) {
  std::vector<ViewFile> files;
  ViewStats stats;
  std::string view = dir_ + "/view";
  ASSERT_TRUE(BuildView(*store_, root_, 123, view, "/mnt/t", files, stats).ok());
  const ViewFile* big = nullptr;
  for (const ViewFile& f : files) {
    if (f.path == view + "/d/big") big = &f;
  }
  ASSERT_NE(big, nullptr);
  auto run = [&](FetchEngine& e, uint32_t slot, uint64_t off, uint64_t len, bool all) {
    bool done = false;
    absl::Status result;
    e.Fetch(slot, off, len, all, [&](absl::Status s) {
      done = true;
      result = s;
    });
    while (!done) {
      struct pollfd p = {e.event_fd(), POLLIN, 0};
      ASSERT_EQ(poll(&p, 1, 10000), 1) << "no completion within 10 s";
      uint64_t n;
      ASSERT_EQ(read(e.event_fd(), &n, sizeof n), 8);
      e.OnCompletions();
    }
    EXPECT_TRUE(result.ok()) << result;
  };
  ChunkCache cache(dir_ + "/cache", uint64_t{1} << 30);
  {
    auto presence = PresenceTable::Create(dir_ + "/presence", 16, 64);
    ASSERT_TRUE(presence.ok());
    ReadAheadParams ra;
    ra.initial_chunks = 0;  // no read-ahead: exact accounting
    ra.max_chunks = 0;
    FetchEngine e(*store_, &cache, **presence, 4, ra);
    for (const ViewFile& f : files) ASSERT_TRUE(e.AddFile(f).ok());
    uint32_t slot = *(*presence)->Find(big->dev, big->ino);
    run(e, slot, 100, 10, false);
    EXPECT_TRUE((*presence)->IsPresent(slot, 0));
    EXPECT_FALSE((*presence)->IsPresent(slot, 1));
    EXPECT_EQ(e.stats().store_chunks, 1u);
    run(e, slot, kChunkSize - 1, 2, false);  // spans chunks 0 and 1; 0 is present
    EXPECT_EQ(e.stats().store_chunks, 2u);
    run(e, slot, 0, 0, true);
    EXPECT_EQ(e.stats().store_chunks, 3u);
    EXPECT_TRUE((*presence)->IsComplete(slot));
    std::ifstream in(big->path, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(got, big_);
    struct stat st;
    stat(big->path.c_str(), &st);
    EXPECT_EQ(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
              big->entry.mtime_ns) << "writing content keeps the snapshot's mtime";
    for (const ViewFile& f : files) run(e, *(*presence)->Find(f.dev, f.ino), 0, 0, true);
    EXPECT_EQ(e.stats().store_chunks, 5u);
  }
  // A new view of the same snapshot, a new engine, the same cache.
  std::vector<ViewFile> files2;
  ASSERT_TRUE(BuildView(*store_, root_, 123, dir_ + "/view2", "/mnt/t", files2, stats).ok());
  auto presence = PresenceTable::Create(dir_ + "/presence2", 16, 64);
  FetchEngine e(*store_, &cache, **presence, 4, ReadAheadParams{});
  for (const ViewFile& f : files2) ASSERT_TRUE(e.AddFile(f).ok());
  for (const ViewFile& f : files2) run(e, *(*presence)->Find(f.dev, f.ino), 0, 0, true);
  EXPECT_EQ(e.stats().store_bytes, 0u);
  EXPECT_EQ(e.stats().cache_chunks, 5u);  // big: 3, a.txt: 1, ro/x: 1
  chmod((dir_ + "/view2/ro").c_str(), 0755);
}

}  // namespace
}  // namespace vol
