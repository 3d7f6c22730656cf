// ScanChanges: what a session changed in a view, as a list of path-by-path
// changes (fetcher/volume/change_replay.h) to replay on the volume's head.
//
// The session's base B is the snapshot its view mirrors: the head it started
// from (or last reloaded to) with its own committed changes. The scanner
// replays the session's renames on B (in order, as kMove changes: each keeps,
// as its fallback, what B had at `from` then), giving B*, and compares B*
// with the view: under the paths the program changed (live commits; the shim
// reports every one), or everywhere (recovery: no journal is trusted).
//
// Invariants:
//   - The view is read through directory descriptors, one name at a time
//     (openat/fstatat relative to a directory fd, symlinks never followed),
//     so a tree of any depth is read whole; a path deeper than kMaxDepth is
//     refused with one line, never cut short.
//   - Changes come in an order that replays: moves first, then for each
//     path its removal before its replacement, a directory before what goes
//     in it, and what goes out of a directory before the directory itself.
//   - A file whose content the ViewIndex calls an origin keeps its chunks;
//     any other regular file is uploaded, from a hard link taken first (so a
//     file replaced by rename meanwhile is never mixed with its successor).
//   - A file open for writing (in `open_for_writing`) is left out — no
//     change at its path, so the head keeps what it has there — and named
//     in `open`. FIFOs, sockets and devices are never published (treated as
//     absent) and named in `special`.
#ifndef VOL_FETCHER_SESSION_CHANGE_SCANNER_H_
#define VOL_FETCHER_SESSION_CHANGE_SCANNER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "fetcher/session/open_writers.h"
#include "fetcher/session/view_index.h"
#include "fetcher/store/object_store.h"
#include "fetcher/transfer/upload.h"
#include "fetcher/util/fs.h"
#include "fetcher/volume/change_replay.h"

namespace vol {

// The deepest path a volume holds (directories below the root, the name
// included): docs/FORMAT.md. Deeper trees fail the commit.
inline constexpr size_t kMaxDepth = 1024;

struct ScanOptions {
  std::vector<std::string> dirty;  // paths relative to the mount ("a/b"); unused when `full`
  bool full = false;               // compare the whole view with the base
  std::vector<ViewRename> renames;  // made since the base, in order
  const absl::flat_hash_set<FileKey>* open_for_writing = nullptr;
  // Files (by mount-relative path) being written or cut short: left out like
  // open ones (write_tracker.h).
  std::function<bool(const std::string& rel)> in_flux;
  // A directory on the view's file system for the hard links that pin
  // uploads ("": upload through a descriptor held open instead).
  std::string scratch;
};

struct ScanResult {
  std::vector<Change> changes;
  std::vector<LocalItem> uploads;     // content to store
  std::vector<size_t> upload_change;  // uploads[i] fills changes[upload_change[i]].entry
  std::vector<std::string> open;      // left out: open for writing (relative to the mount)
  std::vector<std::string> special;   // not published: FIFO, socket, device
  std::vector<UniqueFd> pins;         // what uploads read through /proc/self/fd
};

// `view`: the view's root; `mount`: where programs see it (symlink targets
// into the view are stored as the mount's paths).
absl::StatusOr<ScanResult> ScanChanges(ObjectStore& store, const ObjectId& base, const std::string& view,
                                       const std::string& mount, ViewIndex& index, const ScanOptions& options);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_CHANGE_SCANNER_H_
