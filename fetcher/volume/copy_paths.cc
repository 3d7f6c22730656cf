#include "fetcher/volume/copy_paths.h"

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "fetcher/util/errno_status.h"

namespace vol {
namespace {

uint64_t FilesIn(const Entry& e) { return e.is_dir() ? e.files : 1; }

// Copies `src` (an entry found at `from`) to `to`, merging directories.
absl::Status CopyEntry(TreeEditor& tree, const VolumePath& from, const Entry& src,
                       const VolumePath& to, ChangeStats& stats) {
  absl::StatusOr<std::optional<Entry>> existing = tree.Lookup(to);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    const Entry& there = **existing;
    if (src.is_dir() && !there.is_dir()) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           "cannot overwrite ", EntryTypeName(there.type), " ", to.ToString(),
                           " with directory ", from.ToString())),
                       ENOTDIR);
    }
    if (!src.is_dir() && there.is_dir()) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           "cannot overwrite directory ", to.ToString(), " with ",
                           EntryTypeName(src.type), " ", from.ToString())),
                       EISDIR);
    }
    if (src.is_dir()) {
      // Merge: each entry of the source onto its namesake.
      absl::StatusOr<std::vector<Entry>> children = tree.List(from);
      if (!children.ok()) return children.status();
      for (const Entry& child : *children) {
        absl::Status s = CopyEntry(tree, from.Child(child.name), child, to.Child(child.name), stats);
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    }
  }
  stats.files += FilesIn(src);
  stats.bytes += src.is_symlink() ? 0 : src.size;
  return tree.Put(to, src);
}

}  // namespace

absl::Status CopyPaths(TreeEditor& tree, const std::vector<VolumePath>& sources,
                       const VolumePath& dst, const CopyOptions& options, ChangeStats& stats) {
  absl::StatusOr<std::optional<Entry>> d = tree.Lookup(dst);
  if (!d.ok()) return d.status();
  bool dst_dir = d->has_value() && (*d)->is_dir();
  if (d->has_value() && !dst_dir && options.dst_is_dir) {
    return WithErrno(absl::FailedPreconditionError(absl::StrCat(dst.ToString(), " is not a directory")),
                     ENOTDIR);
  }
  if (sources.size() > 1 && !dst_dir) {
    return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                         "copying several sources needs an existing directory; ", dst.ToString(),
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
          absl::StrCat("no such path in volume '", options.volume_name, "': ", src.ToString()));
    }
    if ((*e)->is_dir() && !options.recursive) {
      return WithErrno(absl::FailedPreconditionError(absl::StrCat(
                           src.ToString(), " is a directory (use ", options.recursive_hint,
                           " to copy it)")),
                       EISDIR);
    }
    VolumePath target = into_dir ? dst.Child(src.Name()) : dst;
    if (target.parts.size() >= src.parts.size() &&
        std::equal(src.parts.begin(), src.parts.end(), target.parts.begin())) {
      if (target == src) continue;  // cp onto itself changes nothing
      return WithErrno(absl::InvalidArgumentError(absl::StrCat(
                           "cannot copy ", src.ToString(), " into itself (", target.ToString(), ")")),
                       EINVAL);
    }
    if (absl::Status s = CopyEntry(tree, src, **e, target, stats); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace vol
