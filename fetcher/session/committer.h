// CommitChanges: publishes what a session changed under one mount as one
// commit of its volume (issue 4's commit, fetcher side).
//
// Invariants:
//   - Only the changed paths are looked at: each is read from the view (its
//     type, mode, mtime, and content) and put into the tree, or removed from
//     it when the view no longer has it. A changed directory is rebuilt from
//     the view: removed from the tree and put back with everything below it.
//   - Content is hashed and uploaded only for files the program wrote (or
//     created). A committed file it did not write is still the shared cache's
//     content file (the shim makes a private copy before any change), whose
//     entry the ViewIndex knows: it keeps its chunk list — never read, and
//     never read as zeros when it was not fetched. An unpopulated directory
//     keeps its tree.
//   - A file open for writing (by any process: FilesOpenForWriting) is left
//     out when `skip_open` is set, and stays changed for a later commit, so a
//     snapshot never holds a half-written file. Where it already had an entry
//     in the tree, that entry stays.
//   - Data goes to the store before the commit entry, and the tree edit is
//     re-applied on the new head when another writer commits first
//     (CommitMutation), so concurrent sessions merge file by file.
#ifndef VOL_FETCHER_SESSION_COMMITTER_H_
#define VOL_FETCHER_SESSION_COMMITTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "fetcher/session/view_index.h"
#include "fetcher/store/object_store.h"
#include "fetcher/volume/volumes.h"

namespace vol {

struct SessionMount {
  std::string mount;  // as the program sees it
  std::string view;   // the local directory
  VolumeInfo volume;
  bool read_only = false;
  ObjectId base_root;  // the snapshot the view mirrors (plus the session's own changes)
  bool preserve_special_modes = false;  // the view has setuid/setgid/o+w as stored (MaterialMode)
};

struct CommitReport {
  bool committed = false;
  uint64_t seq = 0;             // the new head
  uint64_t files = 0;           // files and symlinks added, replaced or removed
  uint64_t bytes_uploaded = 0;  // bytes sent to the store
  uint64_t trees_written = 0;
  std::vector<std::string> done;     // changed paths now published
  std::vector<std::string> skipped;  // open for writing: left for later
};

// `changed`: volume paths relative to the mount ("a/b"), any order.
// `index`: what the session knows of view objects that came from a snapshot.
absl::StatusOr<CommitReport> CommitChanges(ObjectStore& store, const SessionMount& mount,
                                           const std::vector<std::string>& changed, ViewIndex& index,
                                           bool skip_open);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_COMMITTER_H_
