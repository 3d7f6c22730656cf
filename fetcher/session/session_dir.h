// SessionDir: the directory a `vol run` session lives in (include/vol/session.h):
//   VOL_CACHE_DIR/sessions/ID/{mounts,sock,presence,fetcher.pid,owner,stats,views/…}
//
// Invariants:
//   - The cache directory, `sessions` and the short control directory are
//     SafeDirs (fetcher/util/safe_dir.h): real directories of the user, mode
//     0700, checked on their fds; another user's, a symlink, or one open to
//     others is refused with a one-line error before anything is written.
//   - Created 0700 with a fresh random ID; `owner` holds the pid of the
//     `vol run` that made it. A session whose owner is dead and that holds no
//     `keep` marker is stale: the next `vol run` removes it — unless it holds
//     the `changed` marker (killed whole with changes not yet committed):
//     then it is kept, and a notice names it and the commands that publish
//     (`vol commit --session DIR`) or discard (`rm -r DIR`) it. A live
//     session (owner alive) is never touched.
//   - The views live inside the session, on the same file system as the chunk
//     cache. When the socket path would exceed the AF_UNIX limit (108 bytes),
//     the control files move to a short directory — $XDG_RUNTIME_DIR/vol when
//     $XDG_RUNTIME_DIR is a safe directory, else /tmp/vol-UID — and only the
//     views stay in the cache directory (the control directory's `views-dir`
//     names them).
//   - Removal walks by directory fds and never leaves the directory it was
//     asked to clean (RemoveTreeAt); read-only directories included. Nothing
//     read from a session directory is used as a path to create or delete
//     outside it unless CheckKeptSession accepted it.
#ifndef VOL_FETCHER_SESSION_SESSION_DIR_H_
#define VOL_FETCHER_SESSION_SESSION_DIR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vol {

struct MountLine {
  std::string mount;
  std::string view;
  bool read_only = false;
};

class SessionDir {
 public:
  // Creates a new session under `cache_dir`/sessions (checking, or creating
  // 0700, the directories on the way), removing stale sessions.
  static absl::StatusOr<SessionDir> Create(const std::string& cache_dir);

  const std::string& path() const { return path_; }       // $VOL_SESSION
  std::string File(const char* name) const { return path_ + "/" + name; }
  // The view directory for mount number i (not created).
  std::string ViewPath(size_t i, const std::string& volume) const;

  absl::Status WriteMounts(const std::vector<MountLine>& mounts) const;
  absl::Status Remove() const;

 private:
  std::string path_;
  std::string views_;  // holds the views; == path_ + "/views" unless the control dir moved
};

// True while `pid` runs (a zombie counts as dead).
bool ProcessAlive(int pid);

// Before `vol commit --session DIR` trusts anything DIR holds: DIR is a
// private directory of the user (owned, 0700, not a symlink); its
// `views-dir`, if any, is a private `…/sessions/ID` directory with DIR's ID;
// and every view its pending.json or recover.json names is a directory
// directly inside the session's own `views` directory.
absl::Status CheckKeptSession(const std::string& dir);

// Removes a kept session directory (after CheckKeptSession), with its views
// when they live elsewhere (`views-dir`, checked again).
absl::Status RemoveSessionDir(const std::string& path);

// rm -rf `path` without following any symlink below it or at it, making
// read-only directories writable on the way (a view keeps the volume's modes).
absl::Status RemoveTreeForce(const std::string& path);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_DIR_H_
