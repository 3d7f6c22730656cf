// SessionDir: the directory a `vol run` session lives in (include/vol/session.h):
//   VOL_CACHE_DIR/sessions/ID/{mounts,sock,presence,fetcher.pid,owner,stats,views/…}
//
// Invariants:
//   - Created 0700 with a fresh random ID; `owner` holds the pid of the
//     `vol run` that made it. A session whose owner is dead and that holds no
//     `keep` marker is stale: the next `vol run` removes it — unless it holds
//     the `changed` marker (killed whole with changes not yet committed):
//     then it is kept, and a notice names it and the commands that publish
//     (`vol commit --session DIR`) or discard (`rm -r DIR`) it. A live
//     session (owner alive) is never touched.
//   - The views live inside the session, on the same file system as the chunk
//     cache. When the socket path would exceed the AF_UNIX limit (108 bytes),
//     the control files move to a short directory under /tmp and only the
//     views stay in the cache directory.
//   - Remove() deletes everything, read-only directories included.
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
  // Creates a new session under `cache_dir`/sessions, removing stale ones.
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

// Removes a session directory found by path (a kept one), with its views
// when they live elsewhere (`views-dir`).
absl::Status RemoveSessionDir(const std::string& path);

// rm -rf that first makes directories writable (a view keeps the volume's modes).
absl::Status RemoveTreeForce(const std::string& path);

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_SESSION_DIR_H_
