// ViewIndex: what the session knows about an object of its view that came
// from a snapshot — the one question the change scanner cannot answer from
// the local file system alone: are this file's bytes in the view its content,
// or is its content still the snapshot's (chunks not fetched, or not all)?
//
// Implementations:
//   - NewRecordsViewIndex: a live session's eager view, from the fetch
//     engine's records. A file whose record is not complete was never
//     written (the shim fetches a file whole before any write), and one that
//     is complete but not dirty was only read: both are copies of their
//     snapshot entry. Records never become clean again, and a record whose
//     file was replaced or removed is dirty (the shim discards it first).
//   - NewDeadViewIndex: a session whose fetcher is gone (recovery), from its
//     presence table: a file whose slot is not complete was never written;
//     its snapshot entry is found by taking its view path back through the
//     session's renames to its base snapshot.
// Lazy views add their own (content links whose origin is in the presence
// slot, directories never materialised).
#ifndef VOL_FETCHER_SESSION_VIEW_INDEX_H_
#define VOL_FETCHER_SESSION_VIEW_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/session/fetch_engine.h"
#include "fetcher/store/object_store.h"

namespace vol {

// One rename the program made in a view, paths relative to the mount ("a/b").
struct ViewRename {
  std::string from;
  std::string to;
  friend bool operator==(const ViewRename&, const ViewRename&) = default;
};

class ViewIndex {
 public:
  virtual ~ViewIndex() = default;
  // The snapshot entry this inode is an unmodified copy of (a file whose
  // content the program never wrote: its chunks are valid), or nullopt
  // (written, created, or fetched whole: the view's bytes are its content).
  // An error when neither is known — the view does not hold its content and
  // its origin is lost — so that it is never published with the view's bytes.
  virtual absl::StatusOr<std::optional<Entry>> Origin(uint64_t dev, uint64_t ino) = 0;
  // True for a directory that was never materialised: its contents are
  // exactly its Origin's tree (the scanner must not read "no entries" as
  // "all removed").
  virtual bool Unpopulated(uint64_t dev, uint64_t ino) = 0;
};

// `records`: FetchEngine::Records() (keyed by view path).
std::unique_ptr<ViewIndex> NewRecordsViewIndex(
    const absl::flat_hash_map<std::string, FetchEngine::Record>& records);

// The view of a dead session at `view`, built from `base` and then changed by
// the program, with `renames` in order; `presence` is the session's presence
// table file.
absl::StatusOr<std::unique_ptr<ViewIndex>> NewDeadViewIndex(ObjectStore& store, const ObjectId& base,
                                                            std::vector<ViewRename> renames,
                                                            const std::string& view,
                                                            const std::string& presence);

// Where the object at view path `path` was in the base snapshot, taking it
// back through `renames` (newest first).
std::string PathBeforeRenames(std::string path, const std::vector<ViewRename>& renames);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_VIEW_INDEX_H_
