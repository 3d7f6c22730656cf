// CollectGarbage: what it keeps (everything any commit reaches, anything
// changed after the cutoff, anything a live writer's lock protects) and what
// it frees (the rest, deleted volumes' logs, old history on request).
#include "fetcher/gc/collector.h"

#include <gtest/gtest.h>

#include "fetcher/format/gc_protocol.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/write_lock.h"
#include "tests/unit/gc/gc_testing.h"

namespace vol {
namespace {

using testing::Age;
using testing::Exists;
using testing::FileStoreIn;
using testing::PutFile;
using testing::RandomBytes;
using testing::Remove;
using testing::TempDir;

GcOptions Exclusive(absl::Duration grace) {
  GcOptions o;
  o.grace = grace;
  o.exclusive = true;
  return o;
}

TEST(Collector, KeepsEveryCommitAndFreesOnlyOldUnreachableObjects) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo a = *CreateVolume(*store, "main", "a", false);
  VolumeInfo b = *CreateVolume(*store, "other", "b", false);
  ChunkRef kept = PutFile(*store, a, "/kept", RandomBytes(1000, 13));
  ChunkRef history = PutFile(*store, b, "/old", RandomBytes(1000, 15));
  Remove(*store, b, "/old");
  // Unreachable: one old, one young.
  ChunkRef old_orphan = StoreChunk(*store, RandomBytes(1000, 17))->ref;
  ChunkRef young_orphan = StoreChunk(*store, RandomBytes(1000, 19))->ref;
  for (const ChunkRef* c : {&kept, &history, &old_orphan}) Age(dir, ChunkKey(c->id), absl::Hours(2));

  absl::StatusOr<GcReport> r = CollectGarbage(*store, Exclusive(absl::Hours(1)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->volumes, 2u);
  EXPECT_EQ(r->commits, 3u);
  EXPECT_EQ(r->freed_chunks, 1u);
  EXPECT_EQ(r->freed_trees, 0u);
  EXPECT_EQ(r->young_objects, 1u);
  EXPECT_TRUE(Exists(dir, ChunkKey(kept.id)));
  EXPECT_TRUE(Exists(dir, ChunkKey(history.id))) << "commit 1 of b still reaches it";
  EXPECT_FALSE(Exists(dir, ChunkKey(old_orphan.id)));
  EXPECT_TRUE(Exists(dir, ChunkKey(young_orphan.id)));
}

TEST(Collector, DropsHistoryOnRequestButNeverTheNewestNorAPinnedCommit) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo v = *CreateVolume(*store, "main", "v", false);
  ChunkRef first = PutFile(*store, v, "/first", RandomBytes(1000, 13));   // commit 1
  Remove(*store, v, "/first");                                             // 2
  ChunkRef second = PutFile(*store, v, "/second", RandomBytes(1000, 15)); // 3
  Remove(*store, v, "/second");                                            // 4
  for (uint64_t seq = 1; seq <= 4; ++seq) Age(dir, CommitKey(v.id, seq), absl::Hours(2));
  Age(dir, ChunkKey(first.id), absl::Hours(2));
  Age(dir, ChunkKey(second.id), absl::Hours(2));
  {
    // A writer at work relies on commit 3 (its lock pins it).
    auto lock = WriteLock::Acquire(*store, "test", {{v.id, 3}});
    ASSERT_TRUE(lock.ok()) << lock.status();
    GcOptions o = Exclusive(absl::ZeroDuration());
    o.keep_history = absl::Hours(1);
    absl::StatusOr<GcReport> r = CollectGarbage(*store, o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->dropped_commits, 2u);  // 1 and 2
    EXPECT_EQ(r->commits, 2u);          // 3 (pinned) and 4 (newest)
    EXPECT_FALSE(Exists(dir, ChunkKey(first.id)));
    EXPECT_TRUE(Exists(dir, ChunkKey(second.id)));
  }
  GcOptions o = Exclusive(absl::ZeroDuration());
  o.keep_history = absl::Hours(1);
  ASSERT_TRUE(CollectGarbage(*store, o).ok());
  EXPECT_FALSE(Exists(dir, ChunkKey(second.id))) << "pinned no longer";
  EXPECT_EQ(ReadHistory(*store, v.id)->size(), 1u);
  EXPECT_EQ(ReadHead(*store, v.id)->seq, 4u);
}

TEST(Collector, ALiveLockKeepsWhatItsWriterMayRelyOn) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  ASSERT_TRUE(CreateVolume(*store, "main", "v", false).ok());
  auto lock = WriteLock::Acquire(*store, "test");
  ASSERT_TRUE(lock.ok());
  // Uploaded by the writer (or touched when reused): after its lock, less R.
  ChunkRef pending = StoreChunk(*store, RandomBytes(1000, 13))->ref;
  Age(dir, ChunkKey(pending.id), gc_protocol::ReuseRefreshAge());
  ChunkRef ancient = StoreChunk(*store, RandomBytes(1000, 15))->ref;
  Age(dir, ChunkKey(ancient.id), gc_protocol::LockShadow() + absl::Minutes(5));
  absl::StatusOr<GcReport> r = CollectGarbage(*store, Exclusive(absl::ZeroDuration()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->live_locks, 1u);
  EXPECT_TRUE(Exists(dir, ChunkKey(pending.id)));
  EXPECT_FALSE(Exists(dir, ChunkKey(ancient.id)));
  lock->reset();
  ASSERT_TRUE(CollectGarbage(*store, Exclusive(absl::ZeroDuration())).ok());
  EXPECT_FALSE(Exists(dir, ChunkKey(pending.id))) << "its writer is gone";
}

TEST(Collector, ReclaimsADeletedVolumeAndNothingWhenATreeIsMissing) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  VolumeInfo gone = *CreateVolume(*store, "main", "gone", false);
  VolumeInfo kept = *CreateVolume(*store, "main", "kept", false);
  ChunkRef g = PutFile(*store, gone, "/g", RandomBytes(1000, 13));
  ChunkRef k = PutFile(*store, kept, "/d/k", RandomBytes(1000, 15));
  ASSERT_TRUE(DeleteVolume(*store, "main", "gone").ok());
  absl::StatusOr<GcReport> r = CollectGarbage(*store, Exclusive(absl::ZeroDuration()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deleted_volumes, 1u);
  EXPECT_EQ(r->deleted_commits, 1u);
  EXPECT_FALSE(Exists(dir, ChunkKey(g.id)));
  EXPECT_FALSE(Exists(dir, CommitKey(gone.id, 1)));
  EXPECT_TRUE(Exists(dir, ChunkKey(k.id)));

  // A tree of `kept` goes missing: gc cannot know what is below it.
  ObjectId sub = (*TreeEditor(*store, ReadHead(*store, kept.id)->root).Lookup(*ParseVolumePath("/d")))->tree;
  ASSERT_TRUE(store->Delete(TreeKey(sub)).ok());
  ChunkRef orphan = StoreChunk(*store, RandomBytes(1000, 17))->ref;
  r = CollectGarbage(*store, Exclusive(absl::ZeroDuration()));
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("vol gc deleted nothing"), std::string::npos) << r.status();
  EXPECT_TRUE(Exists(dir, ChunkKey(orphan.id)));
}

TEST(Collector, RefusesAShortGraceUnlessExclusiveAndDryRunDeletesNothing) {
  TempDir dir;
  auto store = FileStoreIn(dir);
  GcOptions o;
  o.grace = absl::Minutes(10);
  EXPECT_TRUE(absl::IsInvalidArgument(CollectGarbage(*store, o).status()));
  ChunkRef orphan = StoreChunk(*store, RandomBytes(1000, 17))->ref;
  o = Exclusive(absl::ZeroDuration());
  o.dry_run = true;
  absl::StatusOr<GcReport> r = CollectGarbage(*store, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->freed_chunks, 1u);
  EXPECT_TRUE(Exists(dir, ChunkKey(orphan.id)));
}

}  // namespace
}  // namespace vol
