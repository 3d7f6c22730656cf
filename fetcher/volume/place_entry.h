// PlaceEntry: puts one uploaded file, symlink or directory into a tree with
// the rules `vol put` and batch uploads share:
//   - a directory merges into an existing directory (its mode and mtime are
//     set) and never replaces a file or symlink (ENOTDIR);
//   - a file or symlink never replaces a directory (EISDIR), and replaces an
//     existing file or symlink only with `force` (else AlreadyExists, EEXIST);
//   - missing parents are created; a parent that is not a directory is
//     ENOTDIR; a file cannot replace the root (EINVAL).
// Errors carry their errno (util/errno_status.h) and name `what` (the local
// file, for messages) and the destination.
#ifndef VOL_FETCHER_VOLUME_PLACE_ENTRY_H_
#define VOL_FETCHER_VOLUME_PLACE_ENTRY_H_

#include <string>

#include "absl/status/status.h"
#include "fetcher/format/tree.h"
#include "fetcher/volume/tree_editor.h"
#include "fetcher/volume/volume_path.h"
#include "fetcher/volume/volume_writer.h"

namespace vol {

struct PlaceOptions {
  bool force = false;
  // How to ask for force in the "already exists" message: "--force", "force=True".
  std::string force_hint = "--force";
};

// The checks alone, changing nothing: a writer runs them before it uploads,
// so that a conflict is found before the bytes are sent.
absl::Status CheckPlacement(TreeEditor& tree, const VolumePath& dest, const Entry& entry,
                            const std::string& what, const PlaceOptions& options);

// `entry` is the stored form (a directory's tree is ignored: only its mode
// and mtime are used). Counts files and bytes placed into `stats`.
absl::Status PlaceEntry(TreeEditor& tree, const VolumePath& dest, const Entry& entry,
                        const std::string& what, const PlaceOptions& options, ChangeStats& stats);

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_PLACE_ENTRY_H_
