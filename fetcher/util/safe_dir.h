// SafeDir: a directory no other local user can read, replace or redirect,
// and the file operations vol performs inside such directories — the checks
// OpenSSH (StrictModes) and systemd (chase, safe_dir) make on theirs.
//
// Invariants:
//   - A SafeDir holds a directory fd opened with O_NOFOLLOW and is checked on
//     that fd (fstat, not stat of the path): a real directory (not a
//     symlink), owned by this process's effective uid, with no group or
//     other permission bits (mode 0700). One vol has just created is
//     tightened to 0700 with fchmod; one that already existed with another
//     owner or a wider mode, or as a symlink, is refused with a one-line
//     error that names the path and the fix.
//   - The *At helpers work relative to a directory fd, one name at a time
//     (a name holds no '/'), with O_NOFOLLOW: no symlink is followed and no
//     path is re-resolved, so nothing renamed or planted mid-way leads them
//     out of the directory they were given.
//   - RemoveTreeAt never leaves the directory it was asked to clean: it
//     descends by fds (O_NOFOLLOW), makes read-only subdirectories writable
//     with fchmod on their own fd, and does not cross into another mounted
//     file system.
//   - Temporary files get unpredictable names (CSPRNG, 72 bits) and are
//     created O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600; the caller sets the
//     final mode with fchmod on the fd, then renames the name into place.
#ifndef VOL_FETCHER_UTIL_SAFE_DIR_H_
#define VOL_FETCHER_UTIL_SAFE_DIR_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fetcher/util/dir_fd.h"  // OpenDirAt
#include "fetcher/util/fs.h"

namespace vol {

// The modes of what vol keeps for one user only: the cache (content of
// volumes another user may not be allowed to read), sessions and sockets.
inline constexpr mode_t kPrivateDirMode = 0700;
inline constexpr mode_t kPrivateFileMode = 0600;

enum class IfMissing { kFail, kCreate };

class SafeDir {
 public:
  // Opens the directory `path`, creating it (and missing parents, 0700) with
  // kCreate, and checks it. `what` names it in errors ("cache directory").
  static absl::StatusOr<SafeDir> Open(const std::string& path, IfMissing if_missing,
                                      absl::string_view what);
  // The subdirectory `name`, opened and checked the same way.
  absl::StatusOr<SafeDir> Sub(const std::string& name, IfMissing if_missing) const;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  std::string PathOf(absl::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  SafeDir(UniqueFd fd, std::string path, absl::string_view what)
      : fd_(std::move(fd)), path_(std::move(path)), what_(what) {}
  static absl::StatusOr<SafeDir> OpenAt(int parent_fd, const std::string& name, const std::string& path,
                                        IfMissing if_missing, absl::string_view what);
  UniqueFd fd_;
  std::string path_;
  std::string what_;
};

// The checks SafeDir makes, on an open directory fd (`path` and `what` for
// the message). `created`: vol made it just now, so it is tightened rather
// than refused when its mode is wider than 0700.
absl::Status CheckPrivateDir(int fd, const std::string& path, absl::string_view what, bool created);

// The directory `rel` ("a/b/c"; "" for `dirfd` itself) below `dirfd`, each
// component opened O_DIRECTORY|O_NOFOLLOW: no symlink on the way is followed.
absl::StatusOr<UniqueFd> OpenDirBeneath(int dirfd, const std::string& rel);
// The directory holding `path` (followed as the caller wrote it) and the
// last component of `path`, for the *At helpers.
absl::StatusOr<UniqueFd> OpenParentDir(const std::string& path, std::string* name);

// The names in the directory `dirfd`, without "." and "..", unsorted.
absl::StatusOr<std::vector<std::string>> ListDirAt(int dirfd);

// True when `name` exists in `dirfd` (a symlink counts; it is not followed).
bool ExistsAt(int dirfd, const std::string& name);
// A regular file's bytes, at most `limit`; never through a symlink.
absl::StatusOr<std::string> ReadFileAt(int dirfd, const std::string& name, size_t limit = 1 << 20);
// Replaces `name` atomically: a temporary file, fchmod to `mode`, fsync
// (unless not `synced`: then a kill leaves the old or the new file, a power
// loss maybe neither), renameat. Errors name `shown` (default: `name`).
absl::Status WriteFileAt(int dirfd, const std::string& name, absl::string_view data, mode_t mode,
                         const std::string& shown = "", bool synced = true);

// `prefix` followed by 12 random characters from [A-Za-z0-9].
std::string RandomName(absl::string_view prefix);

struct TempFile {
  UniqueFd fd;
  std::string name;  // in the directory it was created in
};
// A new empty file `prefix`+random in `dirfd`, O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600.
absl::StatusOr<TempFile> CreateTempAt(int dirfd, absl::string_view prefix);

// Removes `name` from `dirfd` and everything below it; succeeds if it is
// absent. A symlink is removed, never followed. Errors name `shown` (default: `name`).
absl::Status RemoveTreeAt(int dirfd, const std::string& name, const std::string& shown = "");
// Empties the directory `dirfd` (which stays).
absl::Status RemoveContentsAt(int dirfd);

}  // namespace vol

#endif  // VOL_FETCHER_UTIL_SAFE_DIR_H_
