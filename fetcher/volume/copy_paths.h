// CopyPaths: `cp` inside one snapshot tree, as `vol cp` and libvol's
// vol_copy (Python's Volume.copy_files) do it. Only entries are written: a copy names the same chunks
// and subtrees as its source, so no data moves.
//
// The rules are cp -r's:
//   - DST receives each source by its name when it is an existing directory,
//     when it ends in '/' (dst_is_dir), or when there are several sources
//     (then it must be an existing directory: ENOTDIR); else the one source
//     is copied to DST itself.
//   - A directory needs `recursive` (else EISDIR). Copied onto an existing
//     directory it merges (MergeEntry, change_replay.h): what the source has
//     replaces, what only the destination has stays. It never replaces a file (ENOTDIR), nor a file a
//     directory (EISDIR). A directory is never copied into itself (EINVAL).
//   - A missing source is NotFound (ENOENT). Missing parents of DST are made.
// Errors carry their errno (util/errno_status.h). A directory is copied by
// its stored tree id, so the sources must be as stored (not edited earlier in
// the same TreeEditor), as they are at the start of a commit's mutation.
#ifndef VOL_FETCHER_VOLUME_COPY_PATHS_H_
#define VOL_FETCHER_VOLUME_COPY_PATHS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fetcher/volume/tree_editor.h"
#include "fetcher/volume/volume_path.h"
#include "fetcher/volume/volume_writer.h"

namespace vol {

struct CopyOptions {
  bool recursive = false;
  bool dst_is_dir = false;  // DST was written with a trailing '/'
  std::string volume_name;  // for messages
  std::string recursive_hint = "-r";  // how to ask for recursion: "-r", "recursive=True"
};

absl::Status CopyPaths(TreeEditor& tree, const std::vector<VolumePath>& sources,
                       const VolumePath& dst, const CopyOptions& options, ChangeStats& stats);

}  // namespace vol

#endif  // VOL_FETCHER_VOLUME_COPY_PATHS_H_
