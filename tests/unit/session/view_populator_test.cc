#include "fetcher/session/view_populator.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetcher/format/chunk.h"
#include "fetcher/session/view_index.h"
#include "fetcher/volume/tree_editor.h"
#include "tests/unit/testing/temp_dir.h"
#include "tests/unit/testing/test_view.h"

namespace vol {
namespace {

class ViewPopulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::FileStoreIn(tmp_);
    auto presence = PresenceTable::Create(tmp_ / "presence", 16384, 32768);
    ASSERT_TRUE(presence.ok());
    presence_ = *std::move(presence);
    cache_ = std::make_unique<ContentCache>(tmp_ / "cache", uint64_t{1} << 30);
    engine_ = std::make_unique<FetchEngine>(*store_, *cache_, *presence_, 4, ReadAheadParams{});
    populator_ = std::make_unique<ViewPopulator>(*store_, *engine_, *presence_, 2);
    umask(0);
  }
  void TearDown() override {
    populator_.reset();
    engine_.reset();
    cache_.reset();
  }
  Entry File(const std::string& content, uint32_t mode = 0644) {
    Entry e;
    e.type = EntryType::kFile;
    e.mode = mode;
    e.mtime_ns = 1600000000000000000;
    e.size = content.size();
    for (size_t at = 0; at < content.size(); at += kChunkSize) {
      e.chunks.push_back(StoreChunk(*store_, content.substr(at, kChunkSize))->ref);
    }
    return e;
  }
  Entry Link(const std::string& target) {
    Entry e;
    e.type = EntryType::kSymlink;
    e.mode = 0777;
    e.target = target;
    e.size = target.size();
    return e;
  }
  void Put(TreeEditor& t, const std::string& path, Entry e) {
    ASSERT_TRUE(t.Put(*ParseVolumePath(path), std::move(e)).ok()) << path;
  }
  struct stat Stat(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
    return st;
  }
  UniqueFd OpenDir(const std::string& p) { return UniqueFd(open(p.c_str(), O_RDONLY | O_DIRECTORY)); }
  // Populates each of `dirs` in turn (a directory's parent first), as a
  // program's first look at them does; the first failure.
  absl::Status Populate(std::initializer_list<std::string> dirs) {
    for (const std::string& dir : dirs) {
      UniqueFd fd = OpenDir(dir);
      if (!fd.ok()) return absl::NotFoundError(dir);
      if (absl::Status s = populator_->PopulateNow(fd.get()); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status FetchAll(uint32_t slot) { return testing::FetchWhole(*engine_, slot); }
  // Fetches the view file at `path` whole and says whether it reads `want`.
  bool FetchesAs(const std::string& path, const std::string& want) {
    struct stat st = Stat(path);
    std::optional<uint32_t> slot = presence_->Find(st.st_dev, st.st_ino);
    absl::Status fetched = slot ? FetchAll(*slot) : absl::NotFoundError(path);
    absl::StatusOr<std::string> got = ReadFile(path);
    return fetched.ok() && got.ok() && *got == want;
  }

  testing::TempDir tmp_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<PresenceTable> presence_;
  std::unique_ptr<ContentCache> cache_;
  std::unique_ptr<FetchEngine> engine_;
  std::unique_ptr<ViewPopulator> populator_;
};

TEST_F(ViewPopulatorTest, DirectoriesAreMadeOnFirstUseAndFilesLinkTheSharedCopy) {
  std::string big = testing::RandomBytes(9 << 20);
  TreeEditor t(*store_, EmptyTreeId());
  Put(t, "/a/b/deep.txt", File("deep"));
  Put(t, "/top.bin", File(big, 0755));
  Put(t, "/empty", File(""));
  Put(t, "/rel", Link("a/b"));
  Put(t, "/abs", Link("/mnt/x/top.bin"));
  Put(t, "/s", File("x", 06755));
  ObjectId root = *t.Flush();
  std::string view = tmp_ / "view";
  ASSERT_TRUE(populator_->AddRoot(0, view, "/mnt/x", root, 1700000000000000000).ok());

  // Nothing but the root at first, and the root is not populated.
  struct stat st = Stat(view);
  EXPECT_TRUE(populator_->Unpopulated(st.st_dev, st.st_ino));
  EXPECT_NE(access((view + "/top.bin").c_str(), F_OK), 0);
  ASSERT_TRUE(Populate({view}).ok());
  EXPECT_FALSE(populator_->Unpopulated(st.st_dev, st.st_ino));
  EXPECT_EQ(Stat(view).st_mtim.tv_sec, 1700000000) << "populating leaves the directory's mtime";

  // a: there, empty on disk, unpopulated; its origin is its tree.
  struct stat a = Stat(view + "/a");
  EXPECT_TRUE(S_ISDIR(a.st_mode));
  EXPECT_TRUE(populator_->Unpopulated(a.st_dev, a.st_ino));
  EXPECT_NE(access((view + "/a/b").c_str(), F_OK), 0);
  std::optional<Entry> origin = populator_->DirEntry(a.st_dev, a.st_ino);
  ASSERT_TRUE(origin.has_value());
  std::unique_ptr<ViewIndex> index = NewSessionViewIndex(*engine_, *populator_);
  ASSERT_TRUE(index->Origin(a.st_dev, a.st_ino).ok());
  ASSERT_TRUE(index->Origin(a.st_dev, a.st_ino)->has_value()) << "an unpopulated directory mirrors its tree";
  EXPECT_EQ((*index->Origin(a.st_dev, a.st_ino))->tree, origin->tree);

  // top.bin: the shared cache's file, linked (two links), with a slot.
  struct stat top = Stat(view + "/top.bin");
  EXPECT_EQ(top.st_nlink, 2u);
  EXPECT_EQ(top.st_size, static_cast<off_t>(big.size()));
  EXPECT_EQ(top.st_mode & 0022, 0u) << "the shared copy is not writable but by its user, while it is filled";
  std::optional<uint32_t> slot = presence_->Find(top.st_dev, top.st_ino);
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ(presence_->file(*slot).kind, static_cast<uint32_t>(VOL_SLOT_FILE));
  EXPECT_EQ(presence_->file(*slot).mode, 0755u) << "the mode a program sees";
  ASSERT_TRUE(FetchAll(*slot).ok());
  cache_->Flush();
  EXPECT_EQ(Stat(view + "/top.bin").st_mode & 0222, 0u) << "complete, the shared copy is not writable";
  absl::StatusOr<std::string> got = ReadFile(view + "/top.bin");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == big);
  ASSERT_TRUE(index->Origin(top.st_dev, top.st_ino).ok());
  ASSERT_TRUE(index->Origin(top.st_dev, top.st_ino)->has_value());
  EXPECT_EQ((*index->Origin(top.st_dev, top.st_ino))->chunks.size(), 3u);

  EXPECT_EQ(Stat(view + "/empty").st_nlink, 1u) << "an empty file is private";
  char target[256];
  ssize_t n = readlink((view + "/abs").c_str(), target, sizeof target);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(target, n), view + "/top.bin") << "absolute links into the mount point into the view";
  n = readlink((view + "/rel").c_str(), target, sizeof target);
  EXPECT_EQ(std::string(target, n), "a/b");
  EXPECT_EQ(presence_->file(*presence_->Find(Stat(view + "/s").st_dev, Stat(view + "/s").st_ino)).mode, 0755u)
      << "no setuid or setgid from the store";

  ASSERT_TRUE(Populate({view + "/a"}).ok());
  EXPECT_TRUE(S_ISDIR(Stat(view + "/a/b").st_mode));

  // A second view of the same snapshot links the same inode.
  std::string view2 = tmp_ / "view2";
  ASSERT_TRUE(populator_->AddRoot(1, view2, "/mnt/y", root, 1).ok());
  ASSERT_TRUE(Populate({view2}).ok());
  EXPECT_EQ(Stat(view2 + "/top.bin").st_ino, top.st_ino);
}

int OpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (d != nullptr && readdir(d) != nullptr) ++n;
  if (d != nullptr) closedir(d);
  return n;
}

// A directory of more files than the fetcher may hold descriptors is
// populated whole, and every file in it can be fetched: a content file's
// descriptor is open only while its chunks are written (and published).
TEST_F(ViewPopulatorTest, MoreFilesThanDescriptorsArePopulatedAndFetched) {
  const int kFiles = 600;
  TreeEditor t(*store_, EmptyTreeId());
  for (int i = 0; i < kFiles; ++i) Put(t, "/d/f" + std::to_string(i), File("content of file " + std::to_string(i)));
  ObjectId root = *t.Flush();
  std::string view = tmp_ / "view";
  ASSERT_TRUE(populator_->AddRoot(0, view, "/mnt/x", root, 1).ok());
  struct rlimit was;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &was), 0);
  struct rlimit low = was;
  low.rlim_cur = static_cast<rlim_t>(OpenFds() + 200);
  ASSERT_LT(low.rlim_cur, static_cast<rlim_t>(kFiles));
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  absl::Status populated = Populate({view, view + "/d"});
  std::vector<std::string> wrong;
  for (int i = 0; i < kFiles && populated.ok(); ++i) {
    std::string path = view + "/d/f" + std::to_string(i);
    if (!FetchesAs(path, "content of file " + std::to_string(i))) wrong.push_back(path);
  }
  cache_->Flush();
  int open_after = OpenFds();
  setrlimit(RLIMIT_NOFILE, &was);
  ASSERT_TRUE(populated.ok()) << populated;
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " files not fetched right, the first " << wrong.front();
  EXPECT_LT(open_after, static_cast<int>(low.rlim_cur)) << "descriptors are not held per file";
}

// A directory large enough to be filled by several threads gets every entry,
// each file linked to its own content and each subdirectory registered.
TEST_F(ViewPopulatorTest, ALargeDirectoryIsFilledWholeByThreads) {
  const int kFiles = 5000, kDirs = 20;
  TreeEditor t(*store_, EmptyTreeId());
  for (int i = 0; i < kFiles; ++i) Put(t, "/d/f" + std::to_string(i), File("file " + std::to_string(i)));
  for (int i = 0; i < kDirs; ++i) Put(t, "/d/sub" + std::to_string(i) + "/x", File("x" + std::to_string(i)));
  ObjectId root = *t.Flush();
  std::string view = tmp_ / "view";
  ASSERT_TRUE(populator_->AddRoot(0, view, "/mnt/x", root, 1).ok());
  absl::Status s = Populate({view, view + "/d"});
  ASSERT_TRUE(s.ok()) << s;
  int entries = 0;
  if (DIR* dir = opendir((view + "/d").c_str())) {
    while (dirent* e = readdir(dir)) entries += e->d_name[0] != '.';
    closedir(dir);
  }
  EXPECT_EQ(entries, kFiles + kDirs) << "no temporary names left, nothing missing";
  std::vector<std::string> wrong;
  for (int i = 0; i < kFiles; i += 97) {  // a sample across every thread's share
    std::string path = view + "/d/f" + std::to_string(i);
    if (!FetchesAs(path, "file " + std::to_string(i))) wrong.push_back(path);
  }
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " files wrong, the first " << wrong.front();
  for (int i = 0; i < kDirs; ++i) {
    struct stat st = Stat(view + "/d/sub" + std::to_string(i));
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_TRUE(populator_->Unpopulated(st.st_dev, st.st_ino)) << "sub" << i << " is known and not yet filled";
  }
}

TEST_F(ViewPopulatorTest, ReloadEditsPopulatedDirectoriesAndRetargetsTheRest) {
  TreeEditor t(*store_, EmptyTreeId());
  Put(t, "/d/f", File("old"));
  Put(t, "/d/gone", File("g"));
  Put(t, "/d/sub/x", File("x1"));
  Put(t, "/lazy/y", File("y1"));
  Put(t, "/keep", File("k"));
  ObjectId from = *t.Flush();
  std::string view = tmp_ / "view";
  ASSERT_TRUE(populator_->AddRoot(0, view, "/mnt/x", from, 1).ok());
  UniqueFd root = OpenDir(view);
  ASSERT_TRUE(Populate({view, view + "/d"}).ok());
  // A reader holds the old d/f open across the reload.
  UniqueFd held(open((view + "/d/f").c_str(), O_RDONLY));
  ASSERT_TRUE(held.ok());

  TreeEditor e(*store_, from);
  Put(e, "/d/f", File("new!"));
  ASSERT_TRUE(e.Remove(*ParseVolumePath("/d/gone")).ok());
  Put(e, "/d/sub/x", File("x2"));
  Put(e, "/lazy/y", File("y2"));
  Put(e, "/keep", File("changed elsewhere"));
  Put(e, "/added", File("a"));
  ObjectId to = *e.Flush();
  auto keep = [](const std::string& p) { return p == "keep"; };
  ASSERT_TRUE(populator_->Reload(0, root.get(), from, to, keep).ok());

  EXPECT_EQ(Stat(view + "/d/f").st_size, 4);
  EXPECT_NE(access((view + "/d/gone").c_str(), F_OK), 0);
  EXPECT_EQ(access((view + "/added").c_str(), F_OK), 0);
  EXPECT_EQ(Stat(view + "/keep").st_size, 1) << "a path the session changed is left alone";
  struct stat held_st;
  ASSERT_EQ(fstat(held.get(), &held_st), 0);
  EXPECT_EQ(held_st.st_size, 3) << "an open file keeps the content it opened";
  // Never populated: they now mirror the new trees.
  struct stat lazy = Stat(view + "/lazy");
  EXPECT_TRUE(populator_->Unpopulated(lazy.st_dev, lazy.st_ino));
  ASSERT_TRUE(Populate({view + "/lazy", view + "/d/sub"}).ok());
  EXPECT_EQ(Stat(view + "/lazy/y").st_size, 2);
  std::optional<uint32_t> slot = presence_->Find(Stat(view + "/lazy/y").st_dev, Stat(view + "/lazy/y").st_ino);
  ASSERT_TRUE(slot.has_value());
  ASSERT_TRUE(FetchAll(*slot).ok());
  EXPECT_EQ(*ReadFile(view + "/lazy/y"), "y2");
  EXPECT_EQ(Stat(view + "/d/sub/x").st_size, 2);
}

}  // namespace
}  // namespace vol
