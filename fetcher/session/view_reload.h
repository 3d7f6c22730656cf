// Reload: moves a view from one snapshot to another without disturbing open
// files (issue 4's reload, fetcher side).
//
// PlanReload compares two snapshot trees (subtrees with equal ids are
// skipped unread, so the cost follows the difference) and lists the edits
// that turn the view of the old one into the view of the new one.
// ApplyReload makes them in the view:
//   - A file that changed is created beside its path (sparse, with its size,
//     mode and mtime), given a presence slot, and renamed over the old one:
//     the old inode lives on for whoever has it open, who keeps reading the
//     content they opened; its unfetched chunks still land in that inode.
//   - Removed entries are unlinked (open files again keep their content).
//   - Paths the session changed and has not committed (a file still open for
//     writing) are left as they are, with everything below them.
//   - A file whose view already matches (type, size, mode, mtime — what the
//     session's own commit published) is left alone.
#ifndef VOL_FETCHER_SESSION_VIEW_RELOAD_H_
#define VOL_FETCHER_SESSION_VIEW_RELOAD_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/store/object_store.h"

namespace vol {

struct ReloadEdit {
  std::string path;  // relative to the mount, "a/b"
  enum Kind { kRemove, kPut } kind = kPut;
  Entry entry;       // kPut (a directory: mode and mtime; its contents are separate edits)
};

// Edits from `from` to `to`, parents before children, removals of a path
// before its replacement.
absl::StatusOr<std::vector<ReloadEdit>> PlanReload(ObjectStore& store, const ObjectId& from,
                                                   const ObjectId& to);

// Applies the edits to `view` (mounted at `mount`), skipping every path for
// which `keep(path)` is true. New non-empty files are added to `engine`.
// Modes are MaterialMode's (fetcher/format/material_mode.h).
absl::Status ApplyReload(const std::vector<ReloadEdit>& edits, const std::string& view,
                         const std::string& mount, FetchEngine& engine,
                         const std::function<bool(const std::string&)>& keep, bool preserve_special_modes);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_VIEW_RELOAD_H_
