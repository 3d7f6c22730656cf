// ReplayChanges and MergeEntry on trees in an in-memory store: each change
// kind does what change_replay.h promises on a tree another writer changed.
#include "fetcher/volume/change_replay.h"

#include <map>

#include <gtest/gtest.h>

#include "tests/unit/testing/fake_store.h"

namespace vol {
namespace {

using testing::FakeStore;

VolumePath P(absl::string_view s) { return *ParseVolumePath(s); }

Entry File(const std::string& tag) {
  Entry e;
  e.type = EntryType::kFile;
  e.size = tag.size();
  e.mtime_ns = 1;
  if (!tag.empty()) e.chunks = {{ObjectId::Of(tag), tag.size()}};
  return e;
}

// path → "/" for a directory, the tag of a file (its size in chunks' names is enough here).
std::map<std::string, std::string> Listing(TreeEditor& t, const VolumePath& dir = {}) {
  std::map<std::string, std::string> out;
  std::vector<Entry> entries = *t.List(dir);
  for (const Entry& e : entries) {
    VolumePath p = dir.Child(e.name);
    if (e.is_dir()) {
      out[p.ToString()] = "/";
      auto below = Listing(t, p);
      out.insert(below.begin(), below.end());
    } else {
      out[p.ToString()] = std::to_string(e.size);
    }
  }
  return out;
}

class ReplayTest : public ::testing::Test {
 protected:
  ReplayTest() : tree_(store_, EmptyTreeId()) {}
  void Put(const std::string& p, const std::string& tag) { ASSERT_TRUE(tree_.Put(P(p), File(tag)).ok()); }
  absl::Status Replay(const std::vector<Change>& changes) {
    ChangeStats stats;
    return ReplayChanges(tree_, changes, stats);
  }
  static Change Make(Change::Kind kind, const std::string& path, std::optional<Entry> e = std::nullopt,
                     const std::string& from = "") {
    Change c;
    c.kind = kind;
    c.path = P(path);
    c.entry = std::move(e);
    if (!from.empty()) c.from = P(from);
    return c;
  }

  FakeStore store_;
  TreeEditor tree_;
};

TEST_F(ReplayTest, RemoveDirIfEmptyLeavesWhatOthersAdded) {
  Put("/d/mine", "m");
  Put("/d/theirs", "tt");
  ASSERT_TRUE(Replay({Make(Change::Kind::kRemove, "/d/mine"), Make(Change::Kind::kRemoveDirIfEmpty, "/d")}).ok());
  EXPECT_EQ(Listing(tree_), (std::map<std::string, std::string>{{"/d", "/"}, {"/d/theirs", "2"}}));
  ASSERT_TRUE(Replay({Make(Change::Kind::kRemove, "/d/theirs"), Make(Change::Kind::kRemoveDirIfEmpty, "/d")}).ok());
  EXPECT_TRUE(Listing(tree_).empty());
}

TEST_F(ReplayTest, RemoveOfAFileLeavesADirectoryInItsPlace) {
  Put("/x/inside", "i");
  ASSERT_TRUE(Replay({Make(Change::Kind::kRemove, "/x")}).ok());
  EXPECT_EQ(Listing(tree_).count("/x/inside"), 1u);
}

TEST_F(ReplayTest, PutDirKeepsContentsAndReplacesAFileInTheWay) {
  Put("/d/f", "f");
  Put("/blocker", "b");
  Entry meta;
  meta.type = EntryType::kDir;
  meta.mode = 0700;
  meta.mtime_ns = 99;
  meta.xattrs = {{"user.k", "v"}};
  ASSERT_TRUE(Replay({Make(Change::Kind::kPutDir, "/d", meta), Make(Change::Kind::kPutDir, "/blocker", meta),
                      Make(Change::Kind::kPut, "/blocker/sub/g", File("g"))})
                  .ok());
  std::optional<Entry> d = *tree_.Lookup(P("/d"));
  EXPECT_EQ(d->mode, 0700u);
  EXPECT_EQ(d->xattrs, meta.xattrs);
  EXPECT_EQ(Listing(tree_), (std::map<std::string, std::string>{
                                {"/blocker", "/"}, {"/blocker/sub", "/"}, {"/blocker/sub/g", "1"}, {"/d", "/"}, {"/d/f", "1"}}));
}

TEST_F(ReplayTest, MoveTakesTheHeadsVersionOrTheFallback) {
  Put("/d/a", "a");
  Put("/d/added", "xx");
  Entry fallback;  // what the writer's base had at /gone
  {
    TreeEditor other(store_, EmptyTreeId());
    ASSERT_TRUE(other.Put(P("/gone/kept"), File("k")).ok());
    fallback = **other.Resolve(P("/gone"));
  }
  ASSERT_TRUE(Replay({Make(Change::Kind::kMove, "/e", std::nullopt, "/d"),
                      Make(Change::Kind::kMove, "/g", fallback, "/gone"),
                      Make(Change::Kind::kMove, "/never", std::nullopt, "/nothing")})
                  .ok());
  EXPECT_EQ(Listing(tree_), (std::map<std::string, std::string>{
                                {"/e", "/"}, {"/e/a", "1"}, {"/e/added", "2"}, {"/g", "/"}, {"/g/kept", "1"}}));
}

// A moved directory that this same replay changed first moves as changed.
TEST_F(ReplayTest, MoveOfAnEditedDirectoryCarriesTheEdits) {
  Put("/d/a", "a");
  ASSERT_TRUE(Replay({Make(Change::Kind::kPut, "/d/b", File("bb")), Make(Change::Kind::kMove, "/e", std::nullopt, "/d")})
                  .ok());
  EXPECT_EQ(Listing(tree_), (std::map<std::string, std::string>{{"/e", "/"}, {"/e/a", "1"}, {"/e/b", "2"}}));
}

// cp -r into an existing directory: merged, the target's own files stay, the
// source's replace theirs namesakes.
TEST_F(ReplayTest, MergeEntryIsCpR) {
  Put("/a/x", "new-x");
  Put("/a/sub/y", "y");
  Put("/b/a/x", "old");
  Put("/b/a/only-in-b", "keep");
  Put("/b/a/sub/z", "z");
  ChangeStats stats;
  std::optional<Entry> src = *tree_.Resolve(P("/a"));
  ASSERT_TRUE(MergeEntry(tree_, P("/b/a"), *src, stats).ok());
  EXPECT_EQ(Listing(tree_, P("/b")), (std::map<std::string, std::string>{{"/b/a", "/"},
                                                                         {"/b/a/only-in-b", "4"},
                                                                         {"/b/a/sub", "/"},
                                                                         {"/b/a/sub/y", "1"},
                                                                         {"/b/a/sub/z", "1"},
                                                                         {"/b/a/x", "5"}}));
  EXPECT_EQ(stats.files, 2u) << "x replaced, sub/y added";
}

}  // namespace
}  // namespace vol
