// Directories reached through file descriptors, one name at a time, never
// through a full path: a tree of any depth can be read (a 6,600-character
// path is fine, PATH_MAX is not involved), and a symlink is never followed.
#ifndef VOL_FETCHER_UTIL_DIR_FD_H_
#define VOL_FETCHER_UTIL_DIR_FD_H_

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fetcher/util/fs.h"

namespace vol {

// openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW). A symlink or a
// non-directory is FailedPrecondition, a missing name NotFound.
absl::StatusOr<UniqueFd> OpenDirAt(int dirfd, const std::string& name);

// The names in the directory open at `fd`, without "." and "..", in byte
// order. `fd` stays open and usable.
absl::StatusOr<std::vector<std::string>> ListDirFd(int fd);

// fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW); false when it is gone.
bool StatAt(int dirfd, const std::string& name, struct stat* st);

// The target of the symlink `name` in `dirfd`, as bytes.
absl::StatusOr<std::string> ReadLinkAt(int dirfd, const std::string& name);

// A path that names `name` in the directory open at `dirfd` for calls that
// take only a path (getxattr, the uploader's open): "/proc/self/fd/N/name",
// short whatever the depth. Valid while `dirfd` is open. With AT_FDCWD, `name`.
std::string FdPath(int dirfd, const std::string& name = "");

// Raises this process's soft limit on open files to its hard limit (a deep
// tree holds one descriptor per level while it is walked). Best effort.
void RaiseOpenFileLimit();

}  // namespace vol

#endif  // VOL_FETCHER_UTIL_DIR_FD_H_
