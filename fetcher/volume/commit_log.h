// The commit log of a volume: volumes/ID/commits/SEQ, SEQ = 1, 2, 3, …
//
// Entries are immutable and written put-if-absent: commit N+1 exists only if
// its writer won the race for that key, so the log is a single line of
// history with no metadata server. Everything a commit names (trees, chunks)
// is stored before the entry, so the newest entry always names a complete
// snapshot. volumes/ID/head is a hint (the newest seq some writer saw) that
// saves a LIST; ReadHead probes past it, so a stale hint costs one more GET.
#ifndef VOL_FETCHER_VOLUME_COMMIT_LOG_H_
#define VOL_FETCHER_VOLUME_COMMIT_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/format/object_id.h"
#include "fetcher/store/object_store.h"

namespace vol {

struct CommitInfo {
  uint64_t seq = 0;  // 0: the volume has no commit yet (an empty root)
  uint64_t parent = 0;
  ObjectId root;
  int64_t time_ns = 0;
  std::string host;
  std::string message;
  uint64_t files = 0;  // totals of the snapshot
  uint64_t bytes = 0;
  uint64_t files_changed = 0;  // what this commit changed
  uint64_t bytes_changed = 0;
};

// The newest commit, or seq 0 with the empty tree for a volume never written.
absl::StatusOr<CommitInfo> ReadHead(ObjectStore& store, const std::string& volume_id);
absl::StatusOr<CommitInfo> ReadCommit(ObjectStore& store, const std::string& volume_id,
                                      uint64_t seq);
// Newest first.
absl::StatusOr<std::vector<CommitInfo>> ReadHistory(ObjectStore& store,
                                                    const std::string& volume_id);
// Writes commit.seq put-if-absent: AlreadyExists means another writer took
// that number first and the caller must re-apply its change on the new head.
absl::Status AppendCommit(ObjectStore& store, const std::string& volume_id,
                          const CommitInfo& commit);

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_COMMIT_LOG_H_
