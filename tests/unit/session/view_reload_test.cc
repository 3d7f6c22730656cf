#include "fetcher/session/view_reload.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fetcher/format/chunk.h"
#include "fetcher/volume/tree_editor.h"

namespace vol {
namespace {

class ReloadPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vol-reload-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store_ = *OpenStore("file://" + dir_ + "/store");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Entry File(const std::string& content) {
    Entry e;
    e.type = EntryType::kFile;
    e.size = content.size();
    e.chunks.push_back(StoreChunk(*store_, content)->ref);
    return e;
  }
  ObjectId Build(const std::vector<std::pair<std::string, std::string>>& files) {
    TreeEditor t(*store_, EmptyTreeId());
    for (const auto& [path, content] : files) EXPECT_TRUE(t.Put(*ParseVolumePath(path), File(content)).ok());
    return *t.Flush();
  }
  std::string dir_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(ReloadPlanTest, ListsOnlyTheDifference) {
  ObjectId a = Build({{"/same/x", "1"}, {"/same/y", "2"}, {"/d/changed", "old"}, {"/d/gone", "g"}, {"/top", "t"}});
  TreeEditor edit(*store_, a);  // another session's commit on top of a
  ASSERT_TRUE(edit.Put(*ParseVolumePath("/d/changed"), File("new")).ok());
  ASSERT_TRUE(edit.Put(*ParseVolumePath("/d/added"), File("a")).ok());
  ASSERT_TRUE(edit.Remove(*ParseVolumePath("/d/gone")).ok());
  ASSERT_TRUE(edit.Put(*ParseVolumePath("/newdir/f"), File("f")).ok());
  ObjectId b = *edit.Flush();
  auto plan = PlanReload(*store_, a, b);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::string> got;
  for (const ReloadEdit& e : *plan) got.push_back((e.kind == ReloadEdit::kRemove ? "-" : "+") + e.path);
  // "same" is skipped unread (equal subtree ids); directories come before their contents.
  std::vector<std::string> want = {"+d/added", "+d/changed", "-d/gone", "+newdir", "+newdir/f"};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(PlanReload(*store_, a, a)->empty());
}

}  // namespace
}  // namespace vol
