// PlanReload compares two snapshot trees (subtrees with equal ids are
// skipped unread, so the cost follows the difference) and lists the edits
// that turn one into the other. A session reads it before a reload (through
// its tree cache) so that ViewPopulator::Reload, which edits the view, finds
// every tree it needs on local disk.
#ifndef VOL_FETCHER_SESSION_VIEW_RELOAD_H_
#define VOL_FETCHER_SESSION_VIEW_RELOAD_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
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

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_VIEW_RELOAD_H_
