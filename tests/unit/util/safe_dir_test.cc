#include "fetcher/util/safe_dir.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>

#include "absl/strings/str_format.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

void Write(const std::string& path, const std::string& data, mode_t mode = 0644) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
}

absl::StatusOr<UniqueFd> OpenDir(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok()) return ErrnoError(path, errno);
  return fd;
}

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFile(path);
  return s.ok() ? *s : "<" + std::string(s.status().message()) + ">";
}

TEST(SafeDir, CreatesMissingDirectoriesPrivate) {
  TempDir t;
  absl::StatusOr<SafeDir> d = SafeDir::Open(t / "a/b/cache", IfMissing::kCreate, "cache directory");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(ModeOf(t / "a"), 0700u);
  EXPECT_EQ(ModeOf(t / "a/b/cache"), 0700u);
  EXPECT_EQ(d->path(), t / "a/b/cache");
  absl::StatusOr<SafeDir> sub = d->Sub("sessions", IfMissing::kCreate);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(ModeOf(t / "a/b/cache/sessions"), 0700u);
}

TEST(SafeDir, ADirectoryItCreatesIsExactly0700WhateverTheUmask) {
  TempDir t;
  mode_t old = umask(0277);  // mkdir alone would give 0500
  absl::StatusOr<SafeDir> d = SafeDir::Open(t / "cache", IfMissing::kCreate, "cache directory");
  umask(old);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(ModeOf(t / "cache"), 0700u);
}

TEST(SafeDir, AcceptsAnExistingPrivateDirectoryAsItIs) {
  TempDir t;
  ASSERT_EQ(mkdir((t / "c").c_str(), 0700), 0);
  ASSERT_TRUE(SafeDir::Open(t / "c/", IfMissing::kFail, "cache directory").ok());
  ASSERT_EQ(chmod((t / "c").c_str(), 0500), 0);  // no bits for others: nothing to fix
  ASSERT_TRUE(SafeDir::Open(t / "c", IfMissing::kCreate, "cache directory").ok());
  EXPECT_EQ(ModeOf(t / "c"), 0500u);
}

TEST(SafeDir, RefusesAnExistingDirectoryOpenToOthersWithTheFix) {
  TempDir t;
  for (mode_t mode : {0777, 0755, 0710, 0701}) {
    std::string path = t / ("c" + std::to_string(mode));
    ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    absl::StatusOr<SafeDir> d = SafeDir::Open(path, IfMissing::kCreate, "cache directory");
    ASSERT_FALSE(d.ok()) << std::oct << mode;
    EXPECT_EQ(d.status().message(),
              absl::StrFormat("cache directory %s is open to other users (mode %04o): make it private with "
                              "`chmod 700 %s`, or choose another location",
                              path, mode, path));
    EXPECT_EQ(ModeOf(path), mode) << "an existing directory is never changed";
  }
}

TEST(SafeDir, RefusesASymlinkEvenToAPrivateDirectory) {
  TempDir t;
  ASSERT_EQ(mkdir((t / "real").c_str(), 0700), 0);
  ASSERT_EQ(symlink((t / "real").c_str(), (t / "link").c_str()), 0);
  for (IfMissing m : {IfMissing::kFail, IfMissing::kCreate}) {
    absl::StatusOr<SafeDir> d = SafeDir::Open(t / "link", m, "socket directory");
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.status().message().find("socket directory " + (t / "link") + " is a symbolic link"),
              std::string::npos)
        << d.status();
  }
  Write(t / "file", "x");
  EXPECT_FALSE(SafeDir::Open(t / "file", IfMissing::kCreate, "cache directory").ok());
}

TEST(SafeDir, RefusesAnotherUsersDirectory) {
  if (geteuid() != 0) GTEST_SKIP() << "giving a directory to another uid needs root";
  TempDir t;
  ASSERT_EQ(mkdir((t / "theirs").c_str(), 0700), 0);
  ASSERT_EQ(chown((t / "theirs").c_str(), 54321, 54321), 0);
  absl::StatusOr<SafeDir> d = SafeDir::Open(t / "theirs", IfMissing::kCreate, "socket directory");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("belongs to uid 54321, not to you (uid 0)"), std::string::npos) << d.status();
}

TEST(SafeDir, MissingWithoutCreateIsNotFound) {
  TempDir t;
  absl::StatusOr<SafeDir> d = SafeDir::Open(t / "nope", IfMissing::kFail, "session directory");
  EXPECT_TRUE(absl::IsNotFound(d.status())) << d.status();
}

// A tree with every obstacle rm -rf meets in a view, and links out of it.
class RemoveTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir((t_ / "outside").c_str(), 0755), 0);
    Write(t_ / "outside/keep", "victim's bytes");
    ASSERT_EQ(mkdir((t_ / "tree").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((t_ / "tree/ro").c_str(), 0755), 0);
    Write(t_ / "tree/ro/f", "x", 0444);
    ASSERT_EQ(mkdir((t_ / "tree/ro/none").c_str(), 0755), 0);
    Write(t_ / "tree/ro/none/g", "y");
    ASSERT_EQ(chmod((t_ / "tree/ro/none").c_str(), 0), 0);
    ASSERT_EQ(chmod((t_ / "tree/ro").c_str(), 0555), 0);
    ASSERT_EQ(symlink((t_ / "outside").c_str(), (t_ / "tree/to-dir").c_str()), 0);
    ASSERT_EQ(symlink((t_ / "outside/keep").c_str(), (t_ / "tree/to-file").c_str()), 0);
  }
  void TearDown() override { chmod((t_ / "outside").c_str(), 0755); }
  TempDir t_;
};

TEST_F(RemoveTreeTest, RemovesEverythingAndNothingOutside) {
  absl::StatusOr<UniqueFd> dir = OpenDir(t_.path());
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(RemoveTreeAt(dir->get(), "tree").ok());
  EXPECT_FALSE(ExistsAt(dir->get(), "tree"));
  EXPECT_EQ(Read(t_ / "outside/keep"), "victim's bytes");
  EXPECT_EQ(ModeOf(t_ / "outside"), 0755u) << "the link's target was re-permissioned";
  EXPECT_EQ(ModeOf(t_ / "outside/keep"), 0644u);
  EXPECT_TRUE(RemoveTreeAt(dir->get(), "tree").ok()) << "absent is success";
}

TEST_F(RemoveTreeTest, ASymlinkToRemoveIsRemovedNotFollowed) {
  absl::StatusOr<UniqueFd> tree = OpenDir(t_ / "tree");
  ASSERT_TRUE(tree.ok());
  ASSERT_TRUE(RemoveTreeAt(tree->get(), "to-dir").ok());
  EXPECT_FALSE(ExistsAt(tree->get(), "to-dir"));
  EXPECT_EQ(Read(t_ / "outside/keep"), "victim's bytes");
  ASSERT_TRUE(RemoveContentsAt(tree->get()).ok());
  EXPECT_TRUE(ListDirAt(tree->get())->empty());
  EXPECT_EQ(ModeOf(t_ / "tree"), 0755u);
}

TEST(SafeDir, OpenDirBeneathNeverFollowsASymlink) {
  TempDir t;
  ASSERT_EQ(mkdir((t / "a").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((t / "elsewhere").c_str(), 0700), 0);
  ASSERT_EQ(symlink((t / "elsewhere").c_str(), (t / "a/b").c_str()), 0);
  absl::StatusOr<UniqueFd> base = OpenDir(t.path());
  ASSERT_TRUE(base.ok());
  EXPECT_TRUE(OpenDirBeneath(base->get(), "a").ok());
  EXPECT_TRUE(OpenDirBeneath(base->get(), "").ok());
  EXPECT_FALSE(OpenDirBeneath(base->get(), "a/b").ok());
  EXPECT_FALSE(OpenDirBeneath(base->get(), "a/../elsewhere").ok());
  EXPECT_FALSE(OpenDirBeneath(base->get(), t / "elsewhere").ok()) << "an absolute path is not beneath";
}

TEST(SafeDir, TemporaryFilesArePrivateUnpredictableAndNew) {
  TempDir t;
  absl::StatusOr<UniqueFd> dir = OpenDir(t.path());
  ASSERT_TRUE(dir.ok());
  std::set<std::string> names;
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<TempFile> f = CreateTempAt(dir->get(), ".x.vol-tmp.");
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->name.size(), std::string(".x.vol-tmp.").size() + 12);
    EXPECT_EQ(ModeOf(t / f->name), 0600u);
    names.insert(f->name);
  }
  EXPECT_EQ(names.size(), 50u);
}

TEST(SafeDir, WriteFileAtReplacesAPlantedSymlinkNotItsTarget) {
  TempDir t;
  Write(t / "victim", "victim's bytes", 0600);
  ASSERT_EQ(symlink((t / "victim").c_str(), (t / "stats").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(t / "stats", "new", 0644).ok());
  EXPECT_EQ(Read(t / "victim"), "victim's bytes");
  EXPECT_EQ(ModeOf(t / "victim"), 0600u);
  EXPECT_EQ(Read(t / "stats"), "new");
  EXPECT_EQ(ModeOf(t / "stats"), 0644u) << "the mode is set with fchmod, not left to the umask";
  EXPECT_EQ(ListDirAt(OpenDir(t.path())->get())->size(), 2u) << "a temporary file was left";
}

TEST(SafeDir, ReadFileAtReadsOnlyRegularFilesNotLinksOrFifos) {
  TempDir t;
  Write(t / "f", "text");
  ASSERT_EQ(symlink((t / "f").c_str(), (t / "link").c_str()), 0);
  ASSERT_EQ(mkfifo((t / "fifo").c_str(), 0600), 0);
  absl::StatusOr<UniqueFd> dir = OpenDir(t.path());
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(*ReadFileAt(dir->get(), "f"), "text");
  EXPECT_FALSE(ReadFileAt(dir->get(), "link").ok());
  EXPECT_FALSE(ReadFileAt(dir->get(), "fifo").ok()) << "and it did not block";
  EXPECT_TRUE(absl::IsNotFound(ReadFileAt(dir->get(), "none").status()));
  EXPECT_FALSE(ReadFileAt(dir->get(), "f", 2).ok()) << "over the limit";
}

}  // namespace
}  // namespace vol
