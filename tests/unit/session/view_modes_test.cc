// The view applies MaterialMode to what a crafted snapshot stores.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetcher/format/material_mode.h"
#include "fetcher/session/view_populator.h"
#include "tests/unit/testing/crafted_tree.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::CraftedModes;

// The mode a program sees: the view's, or for a content file its slot's.
uint32_t ModeOf(const std::string& path, PresenceTable& presence) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  if (S_ISREG(st.st_mode)) {
    if (std::optional<uint32_t> slot = presence.Find(st.st_dev, st.st_ino)) return presence.file(*slot).mode;
  }
  return st.st_mode & 07777;
}

// Populates every directory below `dir`.
void PopulateAll(ViewPopulator& p, const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(fd.ok()) << dir;
  ASSERT_TRUE(p.PopulateNow(fd.get()).ok());
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  ASSERT_TRUE(names.ok());
  for (const std::string& n : *names) {
    struct stat st;
    if (lstat((dir + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) PopulateAll(p, dir + "/" + n);
  }
}

TEST(ViewModes, SpecialModesFromTheStoreAreDroppedUnlessPreserved) {
  testing::TempDir t;
  std::unique_ptr<ObjectStore> store = testing::FileStoreIn(t);
  ObjectId root = testing::WriteCraftedModesTree(*store);
  auto presence = PresenceTable::Create(t / "presence", 1024, 4096);
  ASSERT_TRUE(presence.ok());
  ContentCache cache(t / "cache", uint64_t{1} << 30);
  FetchEngine engine(*store, cache, **presence, 2, ReadAheadParams{});
  ViewPopulator populator(*store, engine, **presence, 2);
  umask(0);
  size_t mount = 0;
  for (bool preserve : {false, true}) {
    std::string view = t / (preserve ? "kept" : "plain");
    ASSERT_TRUE(populator.AddRoot(mount++, view, "/mnt/t", root, 1, preserve).ok());
    PopulateAll(populator, view);
    for (const auto& [path, type_mode] : CraftedModes()) {
      EXPECT_EQ(ModeOf(view + "/" + path, **presence), MaterialMode(type_mode.second, type_mode.first, preserve))
          << path << (preserve ? " preserved" : "");
    }
  }
  EXPECT_EQ(ModeOf(t / "plain/suid", **presence), 0755u);
  EXPECT_EQ(ModeOf(t / "kept/suid", **presence), 04755u);
}

}  // namespace
}  // namespace vol
