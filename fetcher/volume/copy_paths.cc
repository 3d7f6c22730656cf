#include "fetcher/volume/copy_paths.h"

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "fetcher/format/json_bytes.h"
#include "fetcher/util/errno_status.h"
#include "fetcher/volume/change_replay.h"

namespace vol {
namespace {

// Copies `src` (an entry found at `from`) to `to`: onto an existing
// directory it merges like cp -r (MergeEntry), else it is put there.
absl::Status CopyEntry(TreeEditor& tree, const VolumePath& from, const Entry& src,
                       const VolumePath& to, ChangeStats& stats) {
  absl::StatusOr<std::optional<Entry>> existing = tree.Lookup(to);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    const Entry& there = **existing;
    if (src.is_dir() && !there.is_dir()) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           "cannot overwrite ", EntryTypeName(there.type), " ", ShowBytes(to.ToString()),
                           " with directory ", ShowBytes(from.ToString()))),
                       ENOTDIR);
    }
    if (!src.is_dir() && there.is_dir()) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           "cannot overwrite directory ", ShowBytes(to.ToString()), " with ",
                           EntryTypeName(src.type), " ", ShowBytes(from.ToString()))),
                       EISDIR);
    }
  }
  return MergeEntry(tree, to, src, stats);
}

}  // namespace

absl::Status CopyPaths(TreeEditor& tree, const std::vector<VolumePath>& sources,
                       const VolumePath& dst, const CopyOptions& options, ChangeStats& stats) {
  absl::StatusOr<std::optional<Entry>> d = tree.Lookup(dst);
  if (!d.ok()) return d.status();
  bool dst_dir = d->has_value() && (*d)->is_dir();
  if (d->has_value() && !dst_dir && options.dst_is_dir) {
    return WithErrno(absl::FailedPreconditionError(absl::StrCat(ShowBytes(dst.ToString()), " is not a directory")),
                     ENOTDIR);
  }
  if (sources.size() > 1 && !dst_dir) {
    return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                         "copying several sources needs an existing directory; ", ShowBytes(dst.ToString()),
                         " is not one")),
                     ENOTDIR);
  }
  bool into_dir = dst_dir || options.dst_is_dir;
  for (const VolumePath& src : sources) {
    if (src.is_root()) {
      return WithErrno(absl::InvalidArgumentError("cannot copy the volume root"), EINVAL);
    }
    absl::StatusOr<std::optional<Entry>> e = tree.Lookup(src);
    if (!e.ok()) return e.status();
    if (!e->has_value()) {
      return absl::NotFoundError(
          absl::StrCat("no such path in volume '", options.volume_name, "': ", ShowBytes(src.ToString())));
    }
    if ((*e)->is_dir() && !options.recursive) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           ShowBytes(src.ToString()), " is a directory (use ", options.recursive_hint,
                           " to copy it)")),
                       EISDIR);
    }
    VolumePath target = into_dir ? dst.Child(src.Name()) : dst;
    if (target.parts.size() >= src.parts.size() &&
        std::equal(src.parts.begin(), src.parts.end(), target.parts.begin())) {
      if (target == src) continue;  // cp onto itself changes nothing
      return WithErrno(absl::InvalidArgumentError(absl::StrCat(
                           "cannot copy ", ShowBytes(src.ToString()), " into itself (", ShowBytes(target.ToString()), ")")),
                       EINVAL);
    }
    if (absl::Status s = CopyEntry(tree, src, **e, target, stats); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace vol
