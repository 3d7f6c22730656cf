// TreeEditor: edits land where asked, and a flush writes only the spine of
// the change (the directories from the root down to it), whatever the size
// of the rest of the tree.
#include "fetcher/volume/tree_editor.h"

#include <gtest/gtest.h>

#include "tests/unit/testing/temp_dir.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::TempDir;

VolumePath P(absl::string_view s) { return *ParseVolumePath(s); }

Entry File(uint64_t size, int64_t mtime = 1) {
  Entry e;
  e.type = EntryType::kFile;
  e.size = size;
  e.mtime_ns = mtime;
  if (size > 0) e.chunks = {{ObjectId::Of(std::to_string(size)), size}};
  return e;
}

size_t TreeObjects(ObjectStore& store) { return store.List("trees/")->size(); }

// A volume with 20 directories of 5 files each, plus /a/b/c/leaf.
ObjectId BuildWide(ObjectStore& store) {
  TreeEditor ed(store, EmptyTreeId());
  for (int d = 0; d < 20; ++d) {
    for (int f = 0; f < 5; ++f) {
      EXPECT_TRUE(ed.Put(P("/s" + std::to_string(d) + "/f" + std::to_string(f)), File(10 + f)).ok());
    }
  }
  EXPECT_TRUE(ed.Put(P("/a/b/c/leaf"), File(7)).ok());
  absl::StatusOr<ObjectId> root = ed.Flush();
  EXPECT_TRUE(root.ok()) << root.status();
  return *root;
}

TEST(TreeEditor, FlushWritesOnlyTheSpine) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  ObjectId root = BuildWide(*store);
  size_t before = TreeObjects(*store);

  TreeEditor ed(*store, root);
  ASSERT_TRUE(ed.Put(P("/a/b/c/new"), File(3)).ok());
  absl::StatusOr<ObjectId> next = ed.Flush();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NE(*next, root);
  EXPECT_EQ(ed.trees_written(), 4u) << "/, /a, /a/b, /a/b/c";
  EXPECT_EQ(TreeObjects(*store), before + 4) << "exactly the spine is new in the store";

  // The untouched subtrees are the same objects as before.
  TreeEditor old_view(*store, root), new_view(*store, *next);
  for (int d = 0; d < 20; ++d) {
    VolumePath p = P("/s" + std::to_string(d));
    EXPECT_EQ((*old_view.Lookup(p))->tree, (*new_view.Lookup(p))->tree) << p.ToString();
  }
  // Totals were carried up the spine.
  EXPECT_EQ(ed.total_files(), 20u * 5 + 2);
  EXPECT_EQ(ed.total_bytes(), 20u * (10 + 11 + 12 + 13 + 14) + 7 + 3);
  std::optional<Entry> a = *new_view.Lookup(P("/a"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->files, 2u);
  EXPECT_EQ(a->size, 10u);
}

TEST(TreeEditor, ReadOnlyUseWritesNothing) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  ObjectId root = BuildWide(*store);
  size_t before = TreeObjects(*store);
  TreeEditor ed(*store, root);
  EXPECT_TRUE(ed.List(P("/s3")).ok());
  EXPECT_TRUE((*ed.Lookup(P("/a/b/c/leaf"))).has_value());
  EXPECT_FALSE(ed.changed());
  EXPECT_EQ(*ed.Flush(), root);
  EXPECT_EQ(ed.trees_written(), 0u);
  EXPECT_EQ(TreeObjects(*store), before);
}

TEST(TreeEditor, EditingTheSameContentBackGivesTheSameRoot) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  ObjectId root = BuildWide(*store);
  TreeEditor ed(*store, root);
  ASSERT_TRUE(ed.Put(P("/a/b/c/tmp"), File(1)).ok());
  ASSERT_TRUE(ed.Remove(P("/a/b/c/tmp")).ok());
  EXPECT_EQ(*ed.Flush(), root) << "canonical trees: same content, same id";
}

TEST(TreeEditor, LookupListPutRemove) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  TreeEditor ed(*store, EmptyTreeId());
  ASSERT_TRUE(ed.Put(P("/x/y/file"), File(5, 42)).ok());
  std::optional<Entry> e = *ed.Lookup(P("/x/y/file"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->name, "file");
  EXPECT_EQ(e->mtime_ns, 42);
  EXPECT_TRUE((*ed.Lookup(P("/x")))->is_dir()) << "missing parents are created";
  EXPECT_FALSE((*ed.Lookup(P("/nope"))).has_value());
  EXPECT_FALSE((*ed.Lookup(P("/x/y/file/under"))).has_value()) << "a path through a file is absent";

  // A parent that is a file is refused.
  absl::Status s = ed.Put(P("/x/y/file/under"), File(1));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(absl::IsFailedPrecondition(ed.List(P("/x/y/file")).status()));
  EXPECT_TRUE(absl::IsNotFound(ed.List(P("/nope")).status()));
  EXPECT_TRUE(absl::IsNotFound(ed.Remove(P("/nope"))));
  EXPECT_FALSE(ed.Remove(P("/")).ok());

  ASSERT_TRUE(ed.PutDir(P("/x/y"), 0700, 99).ok());
  ObjectId root = *ed.Flush();
  TreeEditor back(*store, root);
  std::optional<Entry> y = *back.Lookup(P("/x/y"));
  EXPECT_EQ(y->mode, 0700u);
  EXPECT_EQ(y->mtime_ns, 99);
  EXPECT_EQ(y->files, 1u);
  ASSERT_TRUE(back.Remove(P("/x")).ok());
  EXPECT_TRUE(back.List(P("/"))->empty());
  EXPECT_EQ(*back.Flush(), EmptyTreeId());
}

TEST(TreeEditor, ReplacingADirectoryDropsItsLoadedContents) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  TreeEditor ed(*store, EmptyTreeId());
  ASSERT_TRUE(ed.Put(P("/d/old"), File(1)).ok());
  ASSERT_TRUE(ed.Put(P("/src/new"), File(2)).ok());
  ObjectId root = *ed.Flush();
  TreeEditor ed2(*store, root);
  std::optional<Entry> src = *ed2.Lookup(P("/src"));
  ASSERT_TRUE(ed2.List(P("/d")).ok());  // loads /d
  ASSERT_TRUE(ed2.Put(P("/d"), *src).ok());
  TreeEditor after(*store, *ed2.Flush());
  std::vector<std::string> names;
  absl::StatusOr<std::vector<Entry>> listed = after.List(P("/d"));
  ASSERT_TRUE(listed.ok()) << listed.status();
  for (const Entry& e : *listed) names.push_back(e.name);
  EXPECT_EQ(names, std::vector<std::string>{"new"});
}

}  // namespace
}  // namespace vol
