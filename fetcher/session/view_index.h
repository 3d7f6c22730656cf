// ViewIndex: what the session knows about an object of its view that came
// from a snapshot — the one question the change scanner cannot answer from
// the local file system alone: are this file's bytes in the view its content,
// or is its content still the snapshot's (chunks not fetched, or not all)?
//
// In a view (lazy, view_populator.h) an object that came from a snapshot
// unchanged is either a content file of the shared cache, hard-linked in and
// never written (the shim has the fetcher make a private copy before any
// change), or a directory never populated. Both have a presence slot naming
// their origin (the tree that lists them and their index there).
//
// Implementations:
//   - NewSessionViewIndex: a live session, from the fetch engine (content
//     files by inode) and the populator (directories).
//   - NewDeadViewIndex: a session whose fetcher is gone (recovery), from the
//     presence table it left: each slot's origin, read back from its tree.
//   - NewMapViewIndex: given origins (tests).
#ifndef VOL_FETCHER_SESSION_VIEW_INDEX_H_
#define VOL_FETCHER_SESSION_VIEW_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/container/flat_hash_set.h"
#include "fetcher/format/tree.h"
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

class FetchEngine;
class ViewPopulator;

std::unique_ptr<ViewIndex> NewSessionViewIndex(FetchEngine& engine, ViewPopulator& populator);

// A dead session whose presence table is the file `presence`; origins are
// read through `store`.
absl::StatusOr<std::unique_ptr<ViewIndex>> NewDeadViewIndex(ObjectStore& store, const std::string& presence);

// Origins by inode, and the inodes of unpopulated directories.
using InodeKey = std::pair<uint64_t, uint64_t>;
std::unique_ptr<ViewIndex> NewMapViewIndex(absl::flat_hash_map<InodeKey, Entry> origins,
                                           absl::flat_hash_set<InodeKey> unpopulated = {});

// Where the object at view path `path` was in the base snapshot, taking it
// back through `renames` (newest first).
std::string PathBeforeRenames(std::string path, const std::vector<ViewRename>& renames);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_VIEW_INDEX_H_
