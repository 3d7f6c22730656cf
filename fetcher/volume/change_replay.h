// Changes: what a writer did to a volume, path by path, and ReplayChanges,
// which applies them to a tree — the newest head, whatever other writers
// committed since the writer's base snapshot.
//
// The merge rules (docs/SEMANTICS.md, "Snapshots, commits, reload and
// conflicts") are the meaning of each kind:
//   - kMove moves what the tree has at `from` *as it is there* (with what
//     others added below it) to `path`, merged into a directory already at
//     `path` (MergeEntry). When the tree no longer has `from`, `entry` (the
//     writer's own copy, if it had one) is merged in instead.
//   - kPut replaces whatever is at `path` by a file or symlink: the writer
//     wrote that path.
//   - kPutDir makes `path` a directory with the entry's mode, mtime, xattrs
//     and owner; what is in it stays (touch, chmod, mkdir of a directory
//     another writer created too).
//   - kPutTree merges a whole subtree (`entry`, a directory) into `path`.
//   - kRemove removes the file or symlink at `path`; a directory another
//     writer put there stays.
//   - kRemoveDirIfEmpty removes the directory at `path` only if nothing is
//     left in it: `rm -r` removes what the writer saw (its files come as
//     kRemove first), never what others added since.
// A file or symlink where a change needs a directory is replaced by one (the
// writer's tree has a directory there). Replaying the same list on the
// writer's base gives its new base: the snapshot its view now mirrors.
#ifndef VOL_FETCHER_VOLUME_CHANGE_REPLAY_H_
#define VOL_FETCHER_VOLUME_CHANGE_REPLAY_H_

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "fetcher/format/tree.h"
#include "fetcher/volume/tree_editor.h"
#include "fetcher/volume/volume_path.h"
#include "fetcher/volume/volume_writer.h"

namespace vol {

struct Change {
  enum class Kind : uint8_t { kMove, kPut, kPutDir, kPutTree, kRemove, kRemoveDirIfEmpty };
  Kind kind = Kind::kPut;
  VolumePath path;
  VolumePath from;             // kMove
  std::optional<Entry> entry;  // kPut, kPutDir, kPutTree; kMove: the fallback (may be absent)
};

const char* ChangeKindName(Change::Kind kind);

// Applies `changes` in order. `stats` counts the files and symlinks added,
// replaced, moved or removed, and the bytes of those added or replaced.
absl::Status ReplayChanges(TreeEditor& tree, const std::vector<Change>& changes, ChangeStats& stats);

// Puts `src` at `path`; where both `src` and what the tree has at `path` are
// directories, merges instead (like cp -r into an existing directory): the
// directory takes src's mode, mtime, xattrs and owner, each entry of src is
// merged in the same way, and entries only the tree has stay. `src` must be
// resolved (TreeEditor::Resolve), not a stale entry of an edited directory.
absl::Status MergeEntry(TreeEditor& tree, const VolumePath& path, const Entry& src, ChangeStats& stats);

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_CHANGE_REPLAY_H_
