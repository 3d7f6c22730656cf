#include "fetcher/transfer/download.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetcher/format/material_mode.h"
#include "tests/unit/testing/crafted_tree.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::CraftedModes;
using testing::TempDir;

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::FileStoreIn(t_);
    ASSERT_NE(store_, nullptr);
    root_.type = EntryType::kDir;
    root_.mode = 0755;
    root_.tree = testing::WriteCraftedModesTree(*store_);
  }
  absl::StatusOr<uint64_t> Get(const std::string& local, DownloadOptions options) {
    std::vector<RemoteItem> items;
    if (absl::Status s = PlanDownload(*store_, root_, local, items); !s.ok()) return s;
    return DownloadItems(*store_, items, options, nullptr);
  }
  void TearDown() override { chmod((t_ / "shared").c_str(), 0755); }

  TempDir t_;
  std::unique_ptr<ObjectStore> store_;
  Entry root_;
};

uint32_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST_F(DownloadTest, SpecialModesFromTheStoreAreDroppedUnlessPreserved) {
  mode_t old = umask(0);
  ASSERT_TRUE(Get(t_ / "plain", {}).ok());
  ASSERT_TRUE(Get(t_ / "kept", {.preserve_special_modes = true}).ok());
  umask(old);
  for (const auto& [path, type_mode] : CraftedModes()) {
    auto [type, stored] = type_mode;
    EXPECT_EQ(ModeOf(t_ / "plain/" + path), MaterialMode(stored, type, false)) << path << " stored " << std::oct << stored;
    EXPECT_EQ(ModeOf(t_ / "kept/" + path), stored) << path;
  }
  EXPECT_EQ(ModeOf(t_ / "plain/both"), 0755u);
  EXPECT_EQ(ModeOf(t_ / "plain/open"), 01775u);
}

TEST_F(DownloadTest, IntoDotAndDotDot) {
  ASSERT_TRUE(MakeDirs(t_ / "dest/sub", 0755).ok());
  ASSERT_TRUE(Get(t_ / "dest/.", {}).ok());
  EXPECT_EQ(*ReadFile(t_ / "dest/plain"), "#!/bin/sh\n");
  ASSERT_TRUE(Get(t_ / "dest/sub/..", {.force = true}).ok());
  EXPECT_EQ(ModeOf(t_ / "dest/open/inner"), 0711u);
}

TEST_F(DownloadTest, APlantedSymlinkInAMergedDirectoryIsNeverFollowed) {
  // A shared directory someone else can write, with their link where a
  // subdirectory of the download goes.
  ASSERT_EQ(mkdir((t_ / "victim").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((t_ / "shared").c_str(), 0777), 0);
  ASSERT_EQ(chmod((t_ / "shared").c_str(), 0777), 0);
  ASSERT_EQ(symlink((t_ / "victim").c_str(), (t_ / "shared/open").c_str()), 0);
  absl::StatusOr<uint64_t> r = Get(t_ / "shared", {.force = true});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot create directory " + (t_ / "shared/open") + ": a file is in the way");
  EXPECT_TRUE(ListDir(t_ / "victim")->empty());
  EXPECT_EQ(ModeOf(t_ / "victim"), 0700u);
  EXPECT_EQ(*ListDir(t_ / "shared"), std::vector<std::string>{"open"}) << "nothing was written";
}

TEST_F(DownloadTest, TemporaryFilesHaveUnpredictableNames) {
  // The names the old scheme used (LOCAL.vol-tmp.PID), planted as links to a victim file.
  ASSERT_TRUE(WriteFileAtomic(t_ / "victim", "victim's bytes", 0600).ok());
  for (std::string name : {"out.vol-tmp.", ".out.vol-tmp."}) {
    ASSERT_EQ(symlink((t_ / "victim").c_str(), (t_ / (name + std::to_string(getpid()))).c_str()), 0);
  }
  Entry file = *ReadTree(*store_, root_.tree)->Find("both");
  std::vector<RemoteItem> items;
  ASSERT_TRUE(PlanDownload(*store_, file, t_ / "out", items).ok());
  ASSERT_TRUE(DownloadItems(*store_, items, {}, nullptr).ok());
  EXPECT_EQ(*ReadFile(t_ / "victim"), "victim's bytes");
  EXPECT_EQ(ModeOf(t_ / "victim"), 0600u);
  EXPECT_EQ(*ReadFile(t_ / "out"), "#!/bin/sh\n");
  EXPECT_EQ(ModeOf(t_ / "out"), 0755u);
}

}  // namespace
}  // namespace vol
