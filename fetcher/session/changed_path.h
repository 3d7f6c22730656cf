// ResolveChangedPath: the canonical place of a path a shim reports as
// changed, so that a commit looks where the change really is.
//
// The shim reports paths as the program spelled them, relative to a mount:
// "a/../c", or "latest/extra.txt" where `latest` is a symlink to
// "ckpt/step-100". The kernel resolved them physically: ".." after a
// symlink is the parent of the link's target, and a symlink to a directory
// is followed. So the directory part is resolved in the view, symlinks and
// ".." included (realpath), and the last name is kept as it is (a symlink
// that was created or removed is the change itself; Target gives what a
// symlink points to, for the calls that follow it). A path whose directory
// no longer exists, or is too long to resolve, is resolved lexically.
#ifndef VOL_FETCHER_SESSION_CHANGED_PATH_H_
#define VOL_FETCHER_SESSION_CHANGED_PATH_H_

#include <optional>
#include <string>
#include <vector>

namespace vol {

struct ResolvedPath {
  size_t mount = 0;  // index into the views given
  std::string path;  // relative to that mount, canonical ("" = its root)
};

class ChangedPathResolver {
 public:
  // `views`: each mount's view directory.
  explicit ChangedPathResolver(std::vector<std::string> views);
  // `rel` is relative to mount `mount`. nullopt when the path resolves
  // outside every view (a symlink out of the mounts).
  std::optional<ResolvedPath> Resolve(size_t mount, const std::string& rel) const;
  // When `p` (resolved) is a symlink: what it points to, if that is in a
  // view. A write, a truncation, a chmod through a symlink change its target.
  std::optional<ResolvedPath> Target(const ResolvedPath& p) const;

 private:
  // The mount and relative path of a real (resolved) local path.
  std::optional<ResolvedPath> InViews(const std::string& real) const;

  std::vector<std::string> views_;
  std::vector<std::string> real_views_;  // realpath of each ("" when it failed)
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_CHANGED_PATH_H_
