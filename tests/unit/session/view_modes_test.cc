// The view applies MaterialMode to what a crafted snapshot stores.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fetcher/format/material_mode.h"
#include "fetcher/session/view_builder.h"
#include "tests/unit/testing/crafted_tree.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::CraftedModes;

uint32_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(ViewModes, SpecialModesFromTheStoreAreDroppedUnlessPreserved) {
  testing::TempDir t;
  std::unique_ptr<ObjectStore> store = testing::FileStoreIn(t);
  ObjectId root = testing::WriteCraftedModesTree(*store);
  for (bool preserve : {false, true}) {
    std::string view = t / (preserve ? "kept" : "plain");
    std::vector<ViewFile> files;
    ViewStats stats;
    ASSERT_TRUE(BuildView(*store, root, 1, view, "/mnt/t", files, stats, preserve).ok());
    for (const auto& [path, type_mode] : CraftedModes()) {
      EXPECT_EQ(ModeOf(view + "/" + path), MaterialMode(type_mode.second, type_mode.first, preserve))
          << path << (preserve ? " preserved" : "");
    }
  }
  EXPECT_EQ(ModeOf(t / "plain/suid"), 0755u);
  EXPECT_EQ(ModeOf(t / "kept/suid"), 04755u);
}

}  // namespace
}  // namespace vol
