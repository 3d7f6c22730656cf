// TreeEditor: edits a snapshot's directory tree and writes back only the
// directories on the paths that changed.
//
// Directories are loaded from the store the first time an edit or lookup
// reaches them and kept in memory; every directory on the path of an edit is
// marked dirty. Flush writes dirty directories bottom-up (children first, so
// each parent names stored subtrees) and leaves every untouched subtree as
// the id it already had. The cost of a commit is therefore its change plus
// the depth of the paths it touches, whatever the size of the volume.
//
// An entry returned by Lookup or List for a directory whose contents this
// editor has changed names its tree as it was loaded (stale); Resolve
// stores that subtree first and returns the entry as it now is.
#ifndef VOL_FETCHER_VOLUME_TREE_EDITOR_H_
#define VOL_FETCHER_VOLUME_TREE_EDITOR_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"
#include "fetcher/store/object_store.h"
#include "fetcher/volume/volume_path.h"

namespace vol {

class TreeEditor {
 public:
  TreeEditor(ObjectStore& store, const ObjectId& root);

  // The entry at `path`; nullopt when absent. The root is a directory entry
  // named "". A path through a non-directory is absent.
  absl::StatusOr<std::optional<Entry>> Lookup(const VolumePath& path);
  // The entries of the directory at `path`: NotFound / FailedPrecondition (not a directory).
  absl::StatusOr<std::vector<Entry>> List(const VolumePath& path);

  // Places `entry` (its name is taken from the path) at `path`, replacing
  // what is there. Missing parent directories are created (mode 0755, mtime
  // now); a parent that exists but is not a directory is FailedPrecondition.
  // A directory entry's tree id names its contents (EmptyTreeId() for none).
  absl::Status Put(const VolumePath& path, Entry entry);
  // Sets the mode and mtime of the directory at `path`, creating it if missing.
  absl::Status PutDir(const VolumePath& path, uint32_t mode, int64_t mtime_ns);
  // Like PutDir, and also sets the xattrs and owner: every attribute of
  // `meta` but its name, type and contents.
  absl::Status PutDirMeta(const VolumePath& path, const Entry& meta);
  // Removes the entry at `path` (and all below it); NotFound if absent.
  absl::Status Remove(const VolumePath& path);

  // The entry at `path` with its subtree's id, totals and contents as edited
  // (storing the changed directories below it); nullopt when absent.
  absl::StatusOr<std::optional<Entry>> Resolve(const VolumePath& path);

  // When set, a file or symlink where an edit needs a directory (a parent of
  // the path, or the path of PutDir) is replaced by a new directory instead
  // of failing with FailedPrecondition.
  void set_replace_files_in_the_way(bool replace) { replace_files_in_the_way_ = replace; }

  bool changed() const { return root_->dirty; }
  ObjectStore& store() const { return store_; }
  // Stores the dirty directories and returns the new root id.
  absl::StatusOr<ObjectId> Flush();
  uint64_t trees_written() const { return trees_written_; }
  // Totals of the whole snapshot as of the last Flush.
  uint64_t total_files() const { return total_files_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  struct Node {
    Tree tree;
    bool dirty = false;
    absl::flat_hash_map<std::string, std::unique_ptr<Node>> children;  // loaded subdirectories
  };

  // The node of the directory at `dir`. With `for_write`, marks the path dirty
  // and creates missing directories.
  absl::StatusOr<Node*> Walk(const VolumePath& dir, bool for_write);
  absl::StatusOr<Node*> Child(Node* parent, const std::string& name, bool for_write);
  absl::StatusOr<ObjectId> FlushNode(Node* node);

  ObjectStore& store_;
  ObjectId root_id_;
  std::unique_ptr<Node> root_;
  bool root_loaded_ = false;
  bool replace_files_in_the_way_ = false;
  uint64_t trees_written_ = 0;
  uint64_t total_files_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_TREE_EDITOR_H_
