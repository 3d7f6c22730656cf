// CommitMutation: applies one change to a volume as one atomic commit.
//
// The change is a function that edits the tree of the current head. It may
// be called more than once: when another writer commits first (the
// put-if-absent append fails), the function is applied again to the new head
// and the append retried with the next number. That is the file-level merge:
// changes to different paths all survive, and on the same path the last
// commit wins, whole entry. The function must therefore only edit the tree
// (upload data before calling), and may refuse with an error (e.g. "exists,
// use --force"), which aborts the commit.
#ifndef VOL_FETCHER_VOLUME_VOLUME_WRITER_H_
#define VOL_FETCHER_VOLUME_VOLUME_WRITER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "fetcher/store/object_store.h"
#include "fetcher/volume/commit_log.h"
#include "fetcher/volume/tree_editor.h"
#include "fetcher/volume/volumes.h"

namespace vol {

struct ChangeStats {
  uint64_t files = 0;  // files (and symlinks) added, replaced or removed
  uint64_t bytes = 0;  // bytes of the files added or replaced
};

using Mutation = std::function<absl::Status(TreeEditor& tree, ChangeStats& stats)>;

struct MutationResult {
  bool committed = false;  // false: the snapshot is unchanged, no commit was made
  CommitInfo commit;       // the new head (or the unchanged head)
  uint64_t trees_written = 0;
  int attempts = 0;
};

absl::StatusOr<MutationResult> CommitMutation(ObjectStore& store, const VolumeInfo& volume,
                                              const std::string& message, const Mutation& mutate);

std::string HostName();

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_VOLUME_WRITER_H_
