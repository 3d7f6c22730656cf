// Helpers for the gc and verify tests: a file store whose objects' ages a
// test can set, and volumes filled with known chunks.
#ifndef VOL_TESTS_UNIT_GC_GC_TESTING_H_
#define VOL_TESTS_UNIT_GC_GC_TESTING_H_

#include <fcntl.h>
#include <sys/stat.h>

#include <string>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "fetcher/format/chunk.h"
#include "fetcher/format/keys.h"
#include "fetcher/volume/volume_writer.h"
#include "fetcher/volume/volumes.h"
#include "tests/unit/testing/temp_dir.h"

namespace vol::testing {

// Sets the last-modified time of `key` in the file store under `dir`.
inline void Age(const TempDir& dir, const std::string& key, absl::Duration age) {
  struct timespec t[2];
  t[0].tv_nsec = UTIME_OMIT;
  absl::Time when = absl::Now() - age;
  t[1] = absl::ToTimespec(when);
  ASSERT_EQ(utimensat(AT_FDCWD, (dir / "store/" + key).c_str(), t, 0), 0) << key;
}

inline bool Exists(const TempDir& dir, const std::string& key) {
  struct stat st;
  return stat((dir / "store/" + key).c_str(), &st) == 0;
}

// Stores `content` as one file at `path` of `volume` (one commit).
inline ChunkRef PutFile(ObjectStore& store, const VolumeInfo& volume, const std::string& path,
                        const std::string& content) {
  absl::StatusOr<StoredChunk> chunk = StoreChunk(store, content);
  EXPECT_TRUE(chunk.ok()) << chunk.status();
  Entry e;
  e.type = EntryType::kFile;
  e.size = content.size();
  e.chunks = {chunk->ref};
  absl::StatusOr<MutationResult> r =
      CommitMutation(store, volume, "put", [&](TreeEditor& tree, ChangeStats&) {
        return tree.Put(*ParseVolumePath(path), e);
      });
  EXPECT_TRUE(r.ok()) << r.status();
  return chunk->ref;
}

inline void Remove(ObjectStore& store, const VolumeInfo& volume, const std::string& path) {
  absl::StatusOr<MutationResult> r =
      CommitMutation(store, volume, "rm", [&](TreeEditor& tree, ChangeStats&) {
        return tree.Remove(*ParseVolumePath(path));
      });
  EXPECT_TRUE(r.ok()) << r.status();
}

}  // namespace vol::testing

#endif  // VOL_TESTS_UNIT_GC_GC_TESTING_H_
