#include "fetcher/volume/place_entry.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "fetcher/util/errno_status.h"

namespace vol {

absl::Status CheckPlacement(TreeEditor& tree, const VolumePath& dest, const Entry& entry,
                            const std::string& what, const PlaceOptions& options) {
  std::string where = dest.ToString();
  if (dest.is_root() && !entry.is_dir()) {
    return WithErrno(absl::InvalidArgumentError("a file cannot replace the volume root; give a remote path"),
                     EINVAL);
  }
  // Every existing ancestor must be a directory.
  VolumePath up;
  for (size_t i = 0; i + 1 < dest.parts.size(); ++i) {
    up = up.Child(dest.parts[i]);
    absl::StatusOr<std::optional<Entry>> e = tree.Lookup(up);
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    if (!(*e)->is_dir()) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           "cannot put ", what, " at ", where, ": '", up.Name(), "' is a ",
                           EntryTypeName((*e)->type), ", not a directory")),
                       ENOTDIR);
    }
  }
  absl::StatusOr<std::optional<Entry>> existing = tree.Lookup(dest);
  if (!existing.ok()) return existing.status();
  if (entry.is_dir()) {
    if (existing->has_value() && !(*existing)->is_dir()) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           "cannot put directory ", what, " at ", where, ": a ",
                           EntryTypeName((*existing)->type), " is there")),
                       ENOTDIR);
    }
    return absl::OkStatus();
  }
  if (existing->has_value()) {
    if ((*existing)->is_dir()) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           "cannot put ", what, " at ", where,
                           ": a directory is there (a file never replaces a directory)")),
                       EISDIR);
    }
    if (!options.force) {
      return WithErrno(absl::AlreadyExistsError(absl::StrCat(
                           where, " already exists in the volume (use ", options.force_hint,
                           " to overwrite)")),
                       EEXIST);
    }
  }
  return absl::OkStatus();
}

absl::Status PlaceEntry(TreeEditor& tree, const VolumePath& dest, const Entry& entry,
                        const std::string& what, const PlaceOptions& options, ChangeStats& stats) {
  if (absl::Status s = CheckPlacement(tree, dest, entry, what, options); !s.ok()) return s;
  if (entry.is_dir()) return tree.PutDir(dest, entry.mode, entry.mtime_ns);
  ++stats.files;
  stats.bytes += entry.size;
  return tree.Put(dest, entry);
}

}  // namespace vol
