// WriteTracker: which processes of a session are writing which file, from the
// shims' announcements (session.h): a writer is announced before its open
// (VOL_CHANGED_OPEN_WRITE) and leaves when its last write fd of the file
// closes (VOL_CHANGED_CLOSE_WRITE) or it exits normally (VOL_OP_EXIT). A file
// whose writers are all gone without leaving was cut short by a kill: its
// content is whatever the kill left, and it is never published as final.
//
// Paths are canonical mount-relative paths (changed_path.h), moved along with
// the session's renames. A writer that announces itself on a file cut short
// starts it over: the dead writers are forgotten.
#ifndef VOL_FETCHER_SESSION_WRITE_TRACKER_H_
#define VOL_FETCHER_SESSION_WRITE_TRACKER_H_

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace vol {

class WriteTracker {
 public:
  using Alive = std::function<bool(int pid)>;
  explicit WriteTracker(Alive alive);

  void Opened(size_t mount, const std::string& path, int pid);
  void Closed(size_t mount, const std::string& path, int pid);
  void Exited(int pid);
  // `from` (a file or a directory) now is `to`; what `to` was is gone.
  void Renamed(size_t mount, const std::string& from, const std::string& to);

  // The files of `mount` whose writers are all gone without leaving, sorted.
  std::vector<std::string> CutShort(size_t mount) const;

 private:
  using Key = std::pair<size_t, std::string>;
  Alive alive_;
  absl::flat_hash_map<Key, absl::flat_hash_set<int>> writers_;
};

}  // namespace vol

#endif  // VOL_FETCHER_SESSION_WRITE_TRACKER_H_
