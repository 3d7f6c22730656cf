// VerifyVolume: every missing or damaged object is found once, with the
// paths that use it; a healthy volume reports nothing.
#include "fetcher/gc/verifier.h"

#include <gtest/gtest.h>

#include "fetcher/util/fs.h"
#include "tests/unit/gc/gc_testing.h"

namespace vol {
namespace {

using testing::FileStoreIn;
using testing::PutFile;
using testing::RandomBytes;
using testing::Remove;
using testing::TempDir;

TEST(Verifier, FindsMissingAndDamagedObjectsWithTheirPaths) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo v = *CreateVolume(*store, "main", "v", false);
  ChunkRef damaged = PutFile(*store, v, "/a/damaged", RandomBytes(5000, 13));
  PutFile(*store, v, "/a/copy-of-damaged", RandomBytes(5000, 13));
  ChunkRef missing = PutFile(*store, v, "/missing", RandomBytes(5000, 15));
  PutFile(*store, v, "/fine", RandomBytes(5000, 17));
  absl::StatusOr<VerifyReport> r = VerifyVolume(*store, v, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->bad.empty());
  EXPECT_EQ(r->chunks, 3u);
  EXPECT_EQ(r->trees, 2u);

  std::string path = dir / ("store/" + ChunkKey(damaged.id));
  std::string bytes = *ReadFile(path);
  bytes[bytes.size() - 1] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  ASSERT_TRUE(store->Delete(ChunkKey(missing.id)).ok());
  r = VerifyVolume(*store, v, false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->bad.size(), 2u);
  std::map<std::string, BadObject> by_key;
  for (const BadObject& b : r->bad) by_key[b.key] = b;
  const BadObject& d = by_key[ChunkKey(damaged.id)];
  EXPECT_FALSE(d.missing);
  EXPECT_EQ(d.kind, "chunk");
  EXPECT_NE(d.detail.find("checksum mismatch"), std::string::npos) << d.detail;
  EXPECT_EQ(d.used_by, (std::vector<std::string>{"/a/copy-of-damaged", "/a/damaged"}));
  const BadObject& m = by_key[ChunkKey(missing.id)];
  EXPECT_TRUE(m.missing);
  EXPECT_EQ(m.used_by, (std::vector<std::string>{"/missing"}));
}

TEST(Verifier, HistoryReachesWhatOnlyOlderCommitsUse) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo v = *CreateVolume(*store, "main", "v", false);
  ChunkRef old = PutFile(*store, v, "/old", RandomBytes(5000, 13));
  Remove(*store, v, "/old");
  ASSERT_TRUE(store->Delete(ChunkKey(old.id)).ok());
  absl::StatusOr<VerifyReport> r = VerifyVolume(*store, v, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->bad.empty());
  r = VerifyVolume(*store, v, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->commits, 2u);
  ASSERT_EQ(r->bad.size(), 1u);
  EXPECT_EQ(r->bad[0].used_by, (std::vector<std::string>{"/old (commit 1)"}));
}

TEST(Verifier, AMissingTreeNamesItsDirectory) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo v = *CreateVolume(*store, "main", "v", false);
  PutFile(*store, v, "/d/e/f", RandomBytes(100, 13));
  ObjectId e = (*TreeEditor(*store, ReadHead(*store, v.id)->root).Lookup(*ParseVolumePath("/d/e")))->tree;
  ASSERT_TRUE(store->Delete(TreeKey(e)).ok());
  absl::StatusOr<VerifyReport> r = VerifyVolume(*store, v, false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->bad.size(), 1u);
  EXPECT_EQ(r->bad[0].kind, "tree");
  EXPECT_TRUE(r->bad[0].missing);
  EXPECT_EQ(r->bad[0].used_by, (std::vector<std::string>{"/d/e"}));
}

}  // namespace
}  // namespace vol
