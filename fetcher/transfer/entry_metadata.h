// The metadata of an entry beyond mode and mtime — extended attributes and
// ownership — read from local files for a commit, and applied to local files
// when a snapshot is materialised (vol get, a session's view).
//
// Rules (docs/FORMAT.md, docs/SEMANTICS.md):
//   - Only the `user.` namespace is published: security.*, trusted.* and
//     system.* (ACLs) belong to the machine, not to the data.
//   - An owner is recorded only when a program chose one (OwnerToPublish),
//     and applied only by a process running as root, like tar: anyone else
//     gets files they own.
//   - A file system that keeps no xattrs (ENOTSUP) reads as none and is
//     skipped when applying; other failures are errors.
#ifndef VOL_FETCHER_TRANSFER_ENTRY_METADATA_H_
#define VOL_FETCHER_TRANSFER_ENTRY_METADATA_H_

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/format/tree.h"

namespace vol {

// The user.* xattrs of `name` in the directory open at `dirfd` (not
// following a symlink), sorted by name; of the object open at `dirfd` itself
// when `name` is empty.
absl::StatusOr<std::vector<Xattr>> ReadUserXattrs(int dirfd, const std::string& name);

// The owner to record for a local object with `st`, given the entry it had
// in the snapshot (`previous`, or null). As root: the object's uid/gid unless
// they are 0/0 (root's own files record none). Otherwise: the uid/gid when
// they differ from this process's (a chgrp); else the previous owner, which
// a process that is not root could not have applied or changed.
std::optional<Owner> OwnerToPublish(const struct stat& st, const Entry* previous);

// Sets `entry`'s xattrs on `name` in `dirfd` (not following a symlink), and
// its owner when running as root. Mode and mtime are the caller's (a
// directory's are set last, after its contents).
absl::Status ApplyEntryMetadata(int dirfd, const std::string& name, const Entry& entry);

}  // namespace vol

#endif  // VOL_FETCHER_TRANSFER_ENTRY_METADATA_H_
