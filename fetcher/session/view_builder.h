// BuildView: materialises a snapshot as a real local directory tree, the
// session's view of a mount (include/vol/session.h).
//
// Invariants of a built view:
//   - Every directory, file and symlink of the snapshot exists with its name,
//     type, mode and mtime; regular files have their size but are sparse:
//     content arrives later, chunk by chunk, from the fetcher.
//   - A symlink whose absolute target lies inside the mount is rewritten to
//     the same place inside the view, so the kernel resolves it without the
//     shim; relative targets and targets outside the mount are kept as they are.
//   - Directory modes and mtimes are applied last, bottom-up, so creating
//     their children neither fails on a read-only mode nor moves the mtime.
//   - The whole tree is materialised at once (eager). Trees are read from
//     the store level by level, in parallel.
#ifndef VOL_FETCHER_SESSION_VIEW_BUILDER_H_
#define VOL_FETCHER_SESSION_VIEW_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"

namespace vol {

// A non-empty regular file of a view, whose content is fetched on demand.
struct ViewFile {
  std::string path;  // in the view
  Entry entry;       // size, chunks, mode, mtime
  uint64_t dev = 0;
  uint64_t ino = 0;
};

struct ViewStats {
  uint64_t dirs = 0;
  uint64_t files = 0;  // regular files, empty ones included
  uint64_t symlinks = 0;
  uint64_t bytes = 0;
};

// Rewrites an absolute symlink target inside `mount` to the same place in
// `view`; returns other targets unchanged.
std::string RewriteSymlinkTarget(const std::string& target, const std::string& mount,
                                 const std::string& view);

// Creates the view of the tree `root` at `view` (created; it must not exist
// or be empty). `mount` is where the program sees it; `root_mtime_ns` the
// mtime given to the view's root. Appends every non-empty file to `files`.
// Modes are MaterialMode's (fetcher/format/material_mode.h).
absl::Status BuildView(ObjectStore& store, const ObjectId& root, int64_t root_mtime_ns,
                       const std::string& view, const std::string& mount,
                       std::vector<ViewFile>& files, ViewStats& stats, bool preserve_special_modes = false);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_VIEW_BUILDER_H_
