// CommitChanges: publishes what a session changed under one mount as one
// commit of its volume, replayed path by path on the newest head.
//
// Invariants:
//   - The changes are found by ScanChanges (change_scanner.h): the session's
//     renames replayed on its base, then the base compared with the view
//     under the changed paths (or everywhere, for recovery).
//   - Data goes to the store before the commit entry: the content of every
//     file the program wrote is uploaded first, and the changes are replayed
//     on the head inside CommitMutation, so when another writer commits first
//     they are replayed again on the new head (change_replay.h has the merge
//     rules). A directory is never rebuilt from the view.
//   - The same changes replayed on the base give the session's new base
//     (CommitReport::base), the snapshot its view mirrors from now on.
//   - A file open for writing, or with writers (write_tracker.h), is left
//     out when `skip_open` is set; one cut short by a kill, or opened for
//     writing again while it was uploaded, always is. Its path (and every
//     changed path above or below it) stays changed.
#ifndef VOL_FETCHER_SESSION_COMMITTER_H_
#define VOL_FETCHER_SESSION_COMMITTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/session/view_index.h"
#include "fetcher/session/write_tracker.h"
#include "fetcher/store/object_store.h"
#include "fetcher/volume/volumes.h"
#include "fetcher/volume/write_lock.h"

namespace vol {

struct SessionMount {
  std::string mount;  // as the program sees it
  std::string view;   // the local directory
  VolumeInfo volume;
  bool read_only = false;
  ObjectId base_root;  // the snapshot the view mirrors (the session's base)
  uint64_t base_seq = 0;  // the newest commit whose entries the view holds (pinned against vol gc)
  bool preserve_special_modes = false;  // the view has setuid/setgid/o+w as stored (MaterialMode)
};

struct CommitRequest {
  std::vector<std::string> changed;  // paths relative to the mount ("a/b"), any order
  bool full = false;                 // compare the whole view with the base instead
  std::vector<ViewRename> renames;   // made since the base, in order
  bool skip_open = false;            // leave out files open for writing, or being written
  // The session's writers (of this mount, `writers_mount`): files in flux are
  // left out when `skip_open`, files cut short always, and so is a file
  // opened for writing again while it was uploaded.
  const WriteTracker* writers = nullptr;
  size_t writers_mount = 0;
  std::vector<std::string> cut_short;  // recovery: files the session named cut short, left out
  WriteLock* lock = nullptr;         // held since before the first upload (vol gc's protocol)
};

struct CommitReport {
  bool committed = false;
  uint64_t seq = 0;             // the new head
  uint64_t files = 0;           // files and symlinks added, replaced, moved or removed
  uint64_t bytes_uploaded = 0;  // bytes sent to the store
  uint64_t trees_written = 0;
  ObjectId base;                     // the session's new base
  std::vector<std::string> done;     // changed paths now published
  std::vector<std::string> skipped;  // open for writing or cut short: left for later
  std::vector<std::string> special;  // FIFOs, sockets, devices: never published
};

absl::StatusOr<CommitReport> CommitChanges(ObjectStore& store, const SessionMount& mount, ViewIndex& index,
                                           const CommitRequest& request);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_COMMITTER_H_
